"""Exercise ``baseline_advantage`` (chapter 2, Exercise 2.1).

Where to write it. Colab: in the chapter's exercise cell, which defines the function and runs
``check("baseline_advantage", baseline_advantage)`` (this file sits in site-packages there). Locally: that cell, or
this file: replace the body, save, then run ``check("baseline_advantage")`` (``from ppo_grpo_lab.grade import check``)
or ``python -m ppo_grpo_lab.grade baseline_advantage``. The grader reads this file again on every call:
no kernel restart after an edit.
"""
from __future__ import annotations

__all__ = ["baseline_advantage"]


def baseline_advantage(rewards, values):
    r"""Advantage with the critic as baseline (chapter 2).

    .. math::

        A_i = R_i - V(s_i)

    Args:
        rewards: (Tensor, [N]) rewards ``R_i``.
        values: (Tensor, [N]) the critic's expected score ``V(s_i)``.

    Returns:
        (Tensor, [N]) advantages ``A_i``.
    """
    raise NotImplementedError("exercise 'baseline_advantage': write your solution here")
