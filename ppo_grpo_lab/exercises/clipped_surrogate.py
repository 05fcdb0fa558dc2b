"""Exercise ``clipped_surrogate`` (chapter 3, Exercise 3.1).

Where to write it. Colab: in the chapter's exercise cell, which defines the function and runs
``check("clipped_surrogate", clipped_surrogate)`` (this file sits in site-packages there). Locally: that cell, or
this file: replace the body, save, then run ``check("clipped_surrogate")`` (``from ppo_grpo_lab.grade import check``)
or ``python -m ppo_grpo_lab.grade clipped_surrogate``. The grader reads this file again on every call:
no kernel restart after an edit.
"""
from __future__ import annotations

__all__ = ["clipped_surrogate"]


def clipped_surrogate(log_probs, old_log_probs, advantages, clip_eps):
    r"""PPO's clipped policy loss (chapter 3).

    .. math::

        r_i = \exp(\log\pi_\theta - \log\pi_{\theta_\text{old}}), \qquad
        L = -\frac1N\sum_i \min\big(r_i A_i,\ \operatorname{clip}(r_i, 1-\varepsilon, 1+\varepsilon) A_i\big)

    Args:
        log_probs: (Tensor, [N]) ``log π_θ(a_i|s_i)`` (differentiable).
        old_log_probs: (Tensor, [N]) ``log π_θold(a_i|s_i)`` from the policy that sampled the data.
        advantages: (Tensor, [N]) ``A_i``.
        clip_eps: ε in (0, 1), e.g. 0.2.

    Returns:
        (Tensor, 0-d) the loss (the negative of the clipped objective, averaged).
    """
    raise NotImplementedError("exercise 'clipped_surrogate': write your solution here")
