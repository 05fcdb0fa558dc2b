"""n-step advantages: n real rewards, then the critic's guess.

.. math::

    \\hat A^{(n)}_t = \\sum_{k=0}^{m-1} \\gamma^k r_{t+k}
        + \\gamma^{m}\\, V(s_{t+m})\\,[\\text{the episode did not terminate}]
        - V(s_t)
    \\;=\\; \\sum_{k=0}^{m-1} \\gamma^k \\delta_{t+k}

where ``m ≤ n`` stops early at an episode end or at the last row of the rollout (the
second form holds when ``next_values[t] = values[t + 1]`` inside an episode). A
*terminated* end adds no bootstrap; a *truncated* end (time limit) and the end of the
rollout bootstrap with ``next_values`` there, exactly as in
:func:`ppo_grpo_lab.returns.discounted_returns`. So ``n = 1`` gives the TD residual
``δ_t`` and ``n ≥ T`` gives the Monte-Carlo return minus ``V(s_t)``.

Worked example (γ = 1, one env, rewards 1, 2, 3, V = 0, 0, 0, next V = 0, 0, 5, no end):
n = 2 gives ``Â_0 = 1 + 2 + V(s_2) = 3``, ``Â_1 = 2 + 3 + V(s_3) = 10``, ``Â_2 = 3 + 5 = 8``.

Two implementations: :func:`n_step_advantages_loop` reads the rewards forward step by step;
:func:`n_step_advantages` adds ``n`` shifted copies of the rewards (and bootstraps) at once. Tests keep them equal.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import RolloutTensors, check_advantage_inputs, check_int

__all__ = ["n_step_advantages", "n_step_advantages_loop"]


def _validate(rewards, values, next_values, terminated, truncated, gamma, n) -> RolloutTensors:
    ro = check_advantage_inputs(rewards, values, next_values, terminated, truncated, gamma)
    check_int("n", n, 1, " (number of real rewards before bootstrapping)")
    return ro


def n_step_advantages_loop(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor | None = None,
    gamma: float = 0.99,
    n: int = 5,
) -> Tensor:
    """Reference n-step advantages: for every (t, env), walk forward at most n steps.

    Same arguments and result as :func:`n_step_advantages`.
    """
    r, v, v_next, term, trunc = _validate(rewards, values, next_values, terminated, truncated, gamma, n)
    T, N = r.shape
    out = torch.empty_like(r)
    for t in range(T):
        for e in range(N):
            g, discount, j = 0.0, 1.0, t
            while True:
                g += discount * r[j, e]
                discount *= gamma
                if term[j, e]:                 # no future: nothing to bootstrap
                    break
                if trunc[j, e] or j == T - 1 or j - t + 1 == n:
                    g += discount * v_next[j, e]  # cut short: the critic estimates the rest
                    break
                j += 1
            out[t, e] = g - v[t, e]
    return out


def n_step_advantages(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor | None = None,
    gamma: float = 0.99,
    n: int = 5,
) -> Tensor:
    """n-step advantages ``Â^{(n)}_t`` of a time-major rollout.

    Args:
        rewards: (Tensor, [T, N]) rewards ``r_t``.
        values: (Tensor, [T, N]) ``V(s_t)``.
        next_values: (Tensor, [T, N]) ``V(s_{t+1})`` (at an episode end: the final observation).
        terminated: (bool Tensor, [T, N]) no future after step t: bootstrap 0, sum stops.
        truncated: (bool Tensor, [T, N] or None) time limit at step t: bootstrap ``V(s_{t+1})``, sum stops.
        gamma: discount γ in [0, 1].
        n: number of real rewards before bootstrapping, an integer ≥ 1 (1 = TD, ≥ T = Monte Carlo).

    Returns:
        (Tensor, [T, N]) advantages. Checks the inputs once, then runs the kernel ``_n_step_advantages``.
    """
    return _n_step_advantages(*_validate(rewards, values, next_values, terminated, truncated, gamma, n), gamma, n)


def _n_step_advantages(r: Tensor, v: Tensor, v_next: Tensor, term: Tensor, trunc: Tensor, gamma: float, n: int
                       ) -> Tensor:
    """N shifted copies of the rewards and bootstraps, added at once; inputs already checked (bool masks)."""
    T = r.shape[0]
    ended = term | trunc  # (T, N) any episode end at step j
    last_row = torch.zeros_like(ended)
    last_row[-1] = True
    # γ V(s_{j+1}) for a window that stops at row j before n steps (truncation or last row; never after termination)
    boot_cut = ((trunc | last_row) & ~term).to(r.dtype) * gamma * v_next  # (T, N)
    boot_n = (~term).to(r.dtype) * gamma * v_next  # (T, N) used when the window is n steps long
    alive = torch.ones_like(r)  # alive[t] = Π_{j<k} (1 − d_{t+j}): step t's episode still runs at t + k
    out = torch.zeros_like(r)
    for k in range(min(n, T)):
        if k > 0:
            alive[:T - k] *= (~ended[k - 1:T - 1]).to(r.dtype)  # (T − k, N)
        boot = boot_n[k:] if k == n - 1 else boot_cut[k:]
        out[:T - k] += (gamma ** k) * alive[:T - k] * (r[k:] + boot)
    return out - v
