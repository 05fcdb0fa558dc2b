"""Exercise ``n_step_advantages`` (chapter 10, graded): the stub for the command-line route.

Where to write it. Colab: in the exercise cell of chapter 10 (it defines ``n_step_advantages`` and
ends with ``check("n_step_advantages", n_step_advantages)``); in Colab this file lies inside the
installed package and is not the place for your code. Locally: that cell, or this file: replace the
body below, save, then run ``check("n_step_advantages")`` (``from ppo_grpo_lab.grade import check``)
or ``python -m ppo_grpo_lab.grade n_step_advantages``. The grader reads this file again on every
call, so an edit counts without a kernel restart.
"""
from __future__ import annotations

__all__ = ["n_step_advantages"]


def n_step_advantages(rewards, values, next_values, terminated, truncated, gamma, n):
    r"""n-step advantage estimates (chapter 10).

    .. math::

        \hat A^{(n)}_t = \sum_{k=0}^{m-1} \gamma^k r_{t+k} + \gamma^m\, V(s_{t+m})\,[\text{not terminated}] - V(s_t)

    with ``m <= n`` steps: the sum stops early at an episode end (terminated: bootstrap 0;
    truncated: bootstrap with ``next_values`` at that step) and at the end of the rollout
    (bootstrap with ``next_values[-1]``). Equivalently ``Σ_{k<m} γ^k δ_{t+k}``.
    n = 1 gives ``δ_t``; n >= T gives the Monte-Carlo return minus ``V(s_t)``.

    Args:
        rewards, values, next_values: (Tensor, [T, N]).
        terminated, truncated: (bool Tensor, [T, N]).
        gamma: discount γ in [0, 1].
        n: number of steps, n >= 1.

    Returns:
        (Tensor, [T, N]) advantages.
    """
    raise NotImplementedError("exercise 'n_step_advantages': write your solution here")
