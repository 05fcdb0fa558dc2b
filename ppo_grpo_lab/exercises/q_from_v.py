"""Exercise ``q_from_v`` (chapter 8, graded): the stub for the command-line route.

Where to write it. Colab: in the exercise cell of chapter 8 (it defines ``q_from_v`` and ends with
``check("q_from_v", q_from_v)``); in Colab this file lies inside the installed package and is not
the place for your code. Locally: that cell, or this file: replace the body below, save, then run
``check("q_from_v")`` (``from ppo_grpo_lab.grade import check``) or ``python -m ppo_grpo_lab.grade
q_from_v``. The grader reads this file again on every call, so an edit counts without a kernel
restart.
"""
from __future__ import annotations

__all__ = ["q_from_v"]


def q_from_v(P, R, V, gamma):
    r"""Action values from state values in a finite MDP (chapter 8).

    .. math::

        Q(s, a) = R(s, a) + \gamma \sum_{s'} P(s' \mid s, a)\, V(s')

    Args:
        P: (Tensor, [S, A, S]) transition probabilities ``P(s'|s,a)``.
        R: (Tensor, [S, A]) expected reward ``R(s,a)``.
        V: (Tensor, [S]) state values ``V(s')``.
        gamma: discount γ in [0, 1].

    Returns:
        (Tensor, [S, A]) ``Q(s, a)``.
    """
    raise NotImplementedError("exercise 'q_from_v': write your solution here")
