"""Exercise ``td_residuals`` (chapter 7, graded): the stub for the command-line route.

Where to write it. Colab: in the exercise cell of chapter 7 (it defines ``td_residuals`` and ends
with ``check("td_residuals", td_residuals)``); in Colab this file lies inside the installed package
and is not the place for your code. Locally: that cell, or this file: replace the body below, save,
then run ``check("td_residuals")`` (``from ppo_grpo_lab.grade import check``) or ``python -m
ppo_grpo_lab.grade td_residuals``. The grader reads this file again on every call, so an edit counts
without a kernel restart.
"""
from __future__ import annotations

__all__ = ["td_residuals"]


def td_residuals(rewards, values, next_values, terminated, gamma):
    r"""One-step TD residuals (chapter 7).

    .. math::

        \delta_t = r_t + \gamma\, V(s_{t+1})\,(1 - \text{term}_t) - V(s_t)

    Args:
        rewards: (Tensor, [T, N]) rewards ``r_t``.
        values: (Tensor, [T, N]) ``V(s_t)``.
        next_values: (Tensor, [T, N]) ``V(s_{t+1})``.
        terminated: (bool Tensor, [T, N]) no future after step t.
        gamma: discount γ in [0, 1].

    Returns:
        (Tensor, [T, N]) ``δ_t``.
    """
    raise NotImplementedError("exercise 'td_residuals': write your solution here")
