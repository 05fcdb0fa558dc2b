"""Discounted Monte-Carlo returns, with termination and truncation handled.

.. math::

    G_t = r_t + \\gamma \\Big[(1-d_t)\\,G_{t+1} + \\text{trunc}_t\\,(1-\\text{term}_t)\\,V(s'_t)\\Big],
    \\qquad d_t = \\text{term}_t \\lor \\text{trunc}_t

A terminated episode has no future (bootstrap 0). A truncated one (time limit) was
cut short, so its future is estimated by the critic at the final observation. The
step after the last row of the rollout is unknown too and is bootstrapped the same way
when ``next_values`` is given.

Worked example (γ = 0.5, one env, rewards 1, 1, 1, terminated at the last step)::

    G_2 = 1, G_1 = 1 + 0.5·1 = 1.5, G_0 = 1 + 0.5·1.5 = 1.75
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_range, check_rollout

__all__ = ["discounted_returns"]


def discounted_returns(
    rewards: Tensor,
    terminated: Tensor,
    truncated: Tensor | None = None,
    next_values: Tensor | None = None,
    gamma: float = 0.99,
) -> Tensor:
    """Discounted returns ``G_t`` of a time-major rollout.

    Args:
        rewards: (Tensor, [T, N]) reward ``r_t`` received after acting at step t.
        terminated: (bool Tensor, [T, N]) the episode ended at step t with no future.
        truncated: (bool Tensor, [T, N] or None) the episode was cut at step t by a time limit.
        next_values: (Tensor, [T, N] or None) ``V(s_{t+1})``, the critic at the observation that
            followed step t (for a truncated step: the final observation, before any reset).
            Used at truncated steps and after the last row. Required if any step is truncated.
        gamma: discount γ in [0, 1].

    Returns:
        (Tensor, [T, N]) returns ``G_t``. Checks the inputs once, then runs the kernel ``_discounted_returns``.
    """
    ro = check_rollout(rewards, next_values=next_values, terminated=terminated, truncated=truncated)
    rewards, terminated, truncated, next_values = ro.rewards, ro.terminated, ro.truncated, ro.next_values
    check_range("gamma", gamma, 0.0, 1.0)
    if truncated is None:
        truncated = torch.zeros_like(terminated)
    if next_values is None:
        if bool((truncated & ~terminated).any()):
            raise ValueError(
                "next_values: expected a [T, N] tensor of V(s_{t+1}) because some steps are truncated "
                "(a time limit must bootstrap from the critic); got None"
            )
        next_values = torch.zeros_like(rewards)
    return _discounted_returns(rewards, terminated, truncated, next_values, gamma)


def _discounted_returns(rewards: Tensor, terminated: Tensor, truncated: Tensor, next_values: Tensor, gamma: float
                        ) -> Tensor:
    """The backward recursion for G_t on checked inputs (bool masks, ``next_values`` given)."""
    not_done = (~(terminated | truncated)).to(rewards.dtype)
    boot = (truncated & ~terminated).to(rewards.dtype) * next_values
    out = torch.empty_like(rewards)
    # Beyond the last row the rollout stops, not the episode: bootstrap with V(s_T) unless terminated.
    g_next = (~terminated[-1]).to(rewards.dtype) * next_values[-1]
    out[-1] = rewards[-1] + gamma * g_next
    for t in reversed(range(rewards.shape[0] - 1)):
        out[t] = rewards[t] + gamma * (not_done[t] * out[t + 1] + boot[t])
    return out
