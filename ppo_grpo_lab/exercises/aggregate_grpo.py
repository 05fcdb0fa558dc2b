"""Exercise ``aggregate_grpo`` (chapter 11, graded): the stub for the command-line route.

Where to write it. Colab: in the exercise cell of chapter 11 (it defines ``aggregate_grpo`` and ends
with ``check("aggregate_grpo", aggregate_grpo)``); in Colab this file lies inside the installed
package and is not the place for your code. Locally: that cell, or this file: replace the body
below, save, then run ``check("aggregate_grpo")`` (``from ppo_grpo_lab.grade import check``) or
``python -m ppo_grpo_lab.grade aggregate_grpo``. The grader reads this file again on every call, so
an edit counts without a kernel restart.
"""
from __future__ import annotations

__all__ = ["aggregate_grpo"]


def aggregate_grpo(per_token, mask):
    r"""GRPO's loss aggregation: mean over each answer's real tokens, then over answers (chapter 11).

    .. math::

        L = \frac1B \sum_{i=1}^B \frac{1}{|o_i|} \sum_{t:\,\text{mask}_{i,t}} x_{i,t}

    Args:
        per_token: (Tensor, [B, L]) per-token loss terms ``x_{i,t}`` (padding may hold any value).
        mask: (bool Tensor, [B, L]) True for real tokens; every row has at least one.

    Returns:
        (Tensor, 0-d).
    """
    raise NotImplementedError("exercise 'aggregate_grpo': write your solution here")
