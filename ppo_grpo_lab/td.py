"""One-step TD residuals, the building block of every advantage estimator.

.. math::

    \\delta_t = r_t + \\gamma\\, V(s_{t+1})\\,(1 - \\text{term}_t) - V(s_t)

Only *termination* removes the bootstrap: after a time-limit truncation the state
still had a future, so ``V(s_{t+1})`` (the critic at the final observation) is kept.

Worked example: r = 1, V(s) = 2, V(s') = 3, γ = 0.9 gives δ = 1 + 2.7 − 2 = 1.7;
had the step terminated, δ = 1 − 2 = −1.
"""
from __future__ import annotations

from torch import Tensor

from ._checks import check_range, check_rollout

__all__ = ["td_residuals"]


def td_residuals(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    gamma: float = 0.99,
) -> Tensor:
    """TD residuals ``δ_t`` of a time-major rollout.

    Args:
        rewards: (Tensor, [T, N]) rewards ``r_t``.
        values: (Tensor, [T, N]) ``V(s_t)``.
        next_values: (Tensor, [T, N]) ``V(s_{t+1})``; for a step that ended an episode, the
            critic at that episode's final observation (before the reset).
        terminated: (bool Tensor, [T, N]) the episode ended at step t with no future.
        gamma: discount γ in [0, 1].

    Returns:
        (Tensor, [T, N]) ``δ_t``. Checks the inputs once, then runs the kernel ``_td_residuals``.
    """
    ro = check_rollout(rewards, values, next_values, terminated)
    check_range("gamma", gamma, 0.0, 1.0)
    return _td_residuals(ro.rewards, ro.values, ro.next_values, ro.terminated, gamma)


def _td_residuals(rewards: Tensor, values: Tensor, next_values: Tensor, terminated: Tensor, gamma: float) -> Tensor:
    """δ_t = r_t + γ V(s_{t+1}) (1 − term_t) − V(s_t) on checked inputs (``terminated`` a bool mask)."""
    not_term = (~terminated).to(rewards.dtype)
    return rewards + gamma * next_values * not_term - values
