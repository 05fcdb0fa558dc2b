"""Exercise ``reinforce_loss`` (chapter 1, Exercise 1.1).

Where to write it. Colab: in the chapter's exercise cell, which defines the function and runs
``check("reinforce_loss", reinforce_loss)`` (this file sits in site-packages there). Locally: that cell, or
this file: replace the body, save, then run ``check("reinforce_loss")`` (``from ppo_grpo_lab.grade import check``)
or ``python -m ppo_grpo_lab.grade reinforce_loss``. The grader reads this file again on every call:
no kernel restart after an edit.
"""
from __future__ import annotations

__all__ = ["reinforce_loss"]


def reinforce_loss(log_probs, rewards):
    r"""REINFORCE loss without a baseline (chapter 1).

    .. math::

        L(\theta) = -\frac1N \sum_{i=1}^N \log\pi_\theta(a_i)\, R_i

    Args:
        log_probs: (Tensor, [N]) ``log π_θ(a_i)`` of the N sampled actions (differentiable).
        rewards: (Tensor, [N]) the reward ``R_i`` each action earned.

    Returns:
        (Tensor, 0-d) the loss; its gradient pushes up the log-probability of well-rewarded actions.
    """
    raise NotImplementedError("exercise 'reinforce_loss': write your solution here")
