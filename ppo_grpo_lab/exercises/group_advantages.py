"""Exercise ``group_advantages`` (chapter 5, Exercise 5.1).

Where to write it. Colab: in the chapter's exercise cell, which defines the function and runs
``check("group_advantages", group_advantages)`` (this file sits in site-packages there). Locally: that cell, or
this file: replace the body, save, then run ``check("group_advantages")`` (``from ppo_grpo_lab.grade import check``)
or ``python -m ppo_grpo_lab.grade group_advantages``. The grader reads this file again on every call:
no kernel restart after an edit.
"""
from __future__ import annotations

__all__ = ["group_advantages"]


def group_advantages(rewards, eps=1e-4):
    r"""GRPO's group-relative advantages (chapter 5).

    .. math::

        \hat A_{b,i} = \frac{r_{b,i} - \operatorname{mean}_j r_{b,j}}{\operatorname{std}_j r_{b,j} + \varepsilon}

    The std is the sample std of each group (Bessel's correction, ``torch.std``'s default).
    A group whose rewards are all equal carries no signal: its advantages must be exactly 0.

    Args:
        rewards: (Tensor, [B, G]) B questions, G sampled answers each (G >= 2).
        eps: ε added to the std.

    Returns:
        (Tensor, [B, G]) advantages.
    """
    raise NotImplementedError("exercise 'group_advantages': write your solution here")
