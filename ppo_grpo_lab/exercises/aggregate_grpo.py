"""Exercise ``aggregate_grpo`` (chapter 11): replace the body with your own code, save, then run
``check("aggregate_grpo")`` (``from ppo_grpo_lab.grade import check``) or ``python -m ppo_grpo_lab.grade aggregate_grpo``.
The grader reads this file again on every call: no kernel restart after an edit. (Or
write the function in a notebook cell and run ``check("aggregate_grpo", aggregate_grpo)``.)
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
