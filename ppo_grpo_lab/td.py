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
        (Tensor, [T, N]) ``δ_t``.
    """
    t = check_rollout(rewards=rewards, values=values, next_values=next_values, terminated=terminated)
    check_range("gamma", gamma, 0.0, 1.0)
    not_term = (~t["terminated"]).to(t["rewards"].dtype)
    return t["rewards"] + gamma * t["next_values"] * not_term - t["values"]
