"""Exercise ``discounted_returns`` (chapter 6, graded): the stub for the command-line route.

Where to write it. Colab: in the exercise cell of chapter 6 (it defines ``discounted_returns`` and
ends with ``check("discounted_returns", discounted_returns)``); in Colab this file lies inside the
installed package and is not the place for your code. Locally: that cell, or this file: replace the
body below, save, then run ``check("discounted_returns")`` (``from ppo_grpo_lab.grade import
check``) or ``python -m ppo_grpo_lab.grade discounted_returns``. The grader reads this file again on
every call, so an edit counts without a kernel restart.
"""
from __future__ import annotations

__all__ = ["discounted_returns"]


def discounted_returns(rewards, terminated, truncated, next_values, gamma):
    r"""Discounted returns of a time-major rollout, with termination and truncation (chapter 6).

    .. math::

        G_t = r_t + \gamma\Big[(1-d_t)\,G_{t+1} + \text{trunc}_t(1-\text{term}_t)\,V(s'_t)\Big],
        \qquad d_t = \text{term}_t \lor \text{trunc}_t

    After the last row, bootstrap with ``next_values[-1]`` unless that step terminated.

    Args:
        rewards: (Tensor, [T, N]) rewards ``r_t``.
        terminated: (bool Tensor, [T, N]) the episode ended at step t with no future (bootstrap 0).
        truncated: (bool Tensor, [T, N]) the episode was cut by a time limit at step t (bootstrap V).
        next_values: (Tensor, [T, N]) ``V(s_{t+1})`` (at an episode end: the final observation).
        gamma: discount γ in [0, 1].

    Returns:
        (Tensor, [T, N]) returns ``G_t``.
    """
    raise NotImplementedError("exercise 'discounted_returns': write your solution here")
