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
line by line, and :func:`gae`, the fast path used by trainers. Tests keep them equal.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_range, check_rollout
from .td import td_residuals

__all__ = ["gae", "gae_loop"]


def _validate(rewards, values, next_values, terminated, truncated, gamma, lam):
    t = check_rollout(rewards=rewards, values=values, next_values=next_values,
                      terminated=terminated, truncated=truncated)
    check_range("gamma", gamma, 0.0, 1.0)
    check_range("lam", lam, 0.0, 1.0)
    if t["truncated"] is None:
        t["truncated"] = torch.zeros_like(t["terminated"])
    return t


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
    t = _validate(rewards, values, next_values, terminated, truncated, gamma, lam)
    r, v, v_next = t["rewards"], t["values"], t["next_values"]
    term, trunc = t["terminated"], t["truncated"]
    T = r.shape[0]
    advantages = torch.zeros_like(r)
    next_advantage = torch.zeros_like(r[0])
    for i in reversed(range(T)):
        not_terminated = (~term[i]).to(r.dtype)
        not_done = (~(term[i] | trunc[i])).to(r.dtype)
        delta = r[i] + gamma * v_next[i] * not_terminated - v[i]
        advantages[i] = delta + gamma * lam * not_done * next_advantage
        next_advantage = advantages[i]
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

    δ and the per-step decay ``γλ(1 − d_t)`` are computed for the whole rollout at once;
    the backward recursion is then one fused multiply-add per step.

    Returns:
        ``(advantages, value_targets)``, both (Tensor, [T, N]).
    """
    t = _validate(rewards, values, next_values, terminated, truncated, gamma, lam)
    delta = td_residuals(t["rewards"], t["values"], t["next_values"], t["terminated"], gamma)
    decay = (gamma * lam) * (~(t["terminated"] | t["truncated"])).to(delta.dtype)
    advantages = torch.empty_like(delta)
    acc = delta[-1]
    advantages[-1] = acc
    for i in range(delta.shape[0] - 2, -1, -1):
        acc = torch.addcmul(delta[i], decay[i], acc)
        advantages[i] = acc
    return advantages, advantages + t["values"]
