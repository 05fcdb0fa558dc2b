"""Exercise ``reinforce_loss`` (chapter 1): replace the body with your own code, save, then run
``check("reinforce_loss")`` (``from ppo_grpo_lab.grade import check``) or ``python -m ppo_grpo_lab.grade reinforce_loss``.
The grader reads this file again on every call: no kernel restart after an edit. (Or
write the function in a notebook cell and run ``check("reinforce_loss", reinforce_loss)``.)
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
