"""Generalized Advantage Estimation, GAE(γ, λ) (Schulman et al., 2015).

.. math::

    \\hat A_t = \\sum_{l \\ge 0} (\\gamma\\lambda)^l\\, \\delta_{t+l}
    \\quad\\text{computed backwards as}\\quad
    \\hat A_t = \\delta_t + \\gamma\\lambda\\,(1 - d_t)\\,\\hat A_{t+1},
    \\qquad V^{\\text{targ}}_t = \\hat A_t + V(s_t)

with ``d_t = terminated_t or truncated_t``: any episode end cuts the trace, but only
termination cuts the bootstrap inside ``δ_t`` (see :func:`ppo_grpo_lab.td.td_residuals`).
λ = 0 gives ``δ_t``; λ = 1 gives the Monte-Carlo return minus ``V(s_t)``.

Two implementations: :func:`gae_loop`, a readable loop that mirrors the equation
line by line, and :func:`gae`, the fast path used by trainers (its math is the unchecked
kernel ``_gae``, which trainers that validated their rollout may call directly). Tests keep
them equal.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import RolloutTensors, check_advantage_inputs, check_range

__all__ = ["gae", "gae_loop"]


def _validate(rewards, values, next_values, terminated, truncated, gamma, lam) -> RolloutTensors:
    ro = check_advantage_inputs(rewards, values, next_values, terminated, truncated, gamma)
    check_range("lam", lam, 0.0, 1.0)
    return ro


def gae_loop(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor | None = None,
    gamma: float = 0.99,
    lam: float = 0.95,
) -> tuple[Tensor, Tensor]:
    """Reference GAE: one backward pass over time, written like the equation.

    Args:
        rewards: (Tensor, [T, N]) rewards ``r_t``.
        values: (Tensor, [T, N]) ``V(s_t)``.
        next_values: (Tensor, [T, N]) ``V(s_{t+1})`` (at an episode end: the final observation).
        terminated: (bool Tensor, [T, N]) no future after step t: bootstrap 0, trace cut.
        truncated: (bool Tensor, [T, N] or None) time limit at step t: bootstrap ``V(s_{t+1})``, trace cut.
        gamma: discount γ in [0, 1].
        lam: GAE λ in [0, 1].

    Returns:
        ``(advantages, value_targets)``, both (Tensor, [T, N]).
    """
    r, v, v_next, term, trunc = _validate(rewards, values, next_values, terminated, truncated, gamma, lam)
    T = r.shape[0]
    advantages = torch.zeros_like(r)
    next_advantage = torch.zeros_like(r[0])
    for t in reversed(range(T)):
        not_terminated = (~term[t]).to(r.dtype)
        not_done = (~(term[t] | trunc[t])).to(r.dtype)
        delta = r[t] + gamma * v_next[t] * not_terminated - v[t]
        advantages[t] = delta + gamma * lam * not_done * next_advantage
        next_advantage = advantages[t]
    return advantages, advantages + v


def _gae(r: Tensor, v: Tensor, v_next: Tensor, term: Tensor, trunc: Tensor, gamma: float, lam: float
         ) -> tuple[Tensor, Tensor]:
    """Fast GAE on checked inputs (floats ``[T, N]``, bool ``term``/``trunc``); no validation.

    The backward recursion ``Â_t = δ_t + c_t Â_{t+1}`` with ``c_t = γλ(1 − d_t)`` is
    linear, so it can be cut into blocks of ``K ≈ √T`` steps and solved in two short
    passes instead of one pass of ``T`` steps:

    1. Inside every block at once (all blocks side by side, ``K`` vector steps), the
       block-local advantage ``a_t = δ_t + c_t a_{t+1}`` (zero after the block end) and
       the decay left to the block end ``G_t = c_t G_{t+1}`` (``G`` = 1 after the end).
    2. Across blocks (``T / K`` steps), the advantage at each block start,
       ``Â_start = a_start + G_start · Â_{next start}``; then every step at once:
       ``Â_t = a_t + G_t · Â_{next block start}``.

    Only multiplications and additions, as in the loop: an episode end (``c_t = 0``)
    simply zeros ``G``, no division or cumulative product can overflow. About ``3√T``
    tensor operations instead of ``~10 T`` (on a GPU: ~100 kernel launches instead of
    ~20,000; measured speed-ups in ``benchmarks/README.md``).
    δ_t is :func:`ppo_grpo_lab.td.td_residuals`, written inline into the work buffer.
    """
    T, N = r.shape
    K = max(1, int(round(T ** 0.5)))  # block length
    C = -(-T // K)  # number of blocks; the last one is zero-padded
    # Y[0] = δ, later a; Y[1] = G. Both [C*K, N] in memory, used as [C, K, N] blocks.
    Y = torch.empty(2, C * K, N, dtype=r.dtype, device=r.device)
    # δ_t = r_t + γ V(s_{t+1}) (1 − term_t) − V(s_t), same rounding as td_residuals
    torch.mul(torch.where(term, 0.0, v_next), gamma, out=Y[0, :T]).add_(r).sub_(v)
    Y[0, T:] = 0.0
    Y[1] = 0.0
    c = torch.empty(C * K, N, dtype=r.dtype, device=r.device)  # c_t = γλ (1 − d_t), 0 in the padding
    torch.mul((~(term | trunc)).to(r.dtype), gamma * lam, out=c[:T])
    c[T:] = 0.0
    blocks = Y.view(2, C, K, N)  # (a, G), [2, C, K, N]
    c_blocks = c.view(C, K, N)
    blocks[1, :, K - 1] = c_blocks[:, K - 1]  # G at the last step of a block: c_t · 1
    # Pass 1: backward over the K steps of all blocks at once (each op on [2, C, N]).
    rows, c_rows = blocks.unbind(2), c_blocks.unbind(1)
    for k in range(K - 2, -1, -1):
        torch.addcmul(rows[k], c_rows[k], rows[k + 1], out=rows[k])
    a, G = blocks[0], blocks[1]  # [C, K, N]
    # Pass 2: backward over blocks for the advantage at each block start.
    head = torch.zeros(C + 1, N, dtype=r.dtype, device=r.device)  # head[C] = 0 past the end
    heads, a_start, G_start = head.unbind(0), a[:, 0].unbind(0), G[:, 0].unbind(0)
    for b in range(C - 1, -1, -1):
        torch.addcmul(a_start[b], G_start[b], heads[b + 1], out=heads[b])
    advantages = torch.addcmul(a, G, head[1:].unsqueeze(1)).view(C * K, N)[:T]  # [T, N]
    return advantages, advantages + v


def gae(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor | None = None,
    gamma: float = 0.99,
    lam: float = 0.95,
) -> tuple[Tensor, Tensor]:
    """Fast GAE: same arguments, shapes and result as :func:`gae_loop`.

    Checks the inputs once, then runs the kernel ``_gae`` (two short passes over blocks of
    about √T steps instead of one pass of T steps; see its docstring).

    Returns:
        ``(advantages, value_targets)``, both (Tensor, [T, N]).
    """
    return _gae(*_validate(rewards, values, next_values, terminated, truncated, gamma, lam), gamma, lam)
