"""Exercise ``kl_k3`` (chapter 4, Exercise 4.1).

Where to write it. Colab: in the chapter's exercise cell, which defines the function and runs
``check("kl_k3", kl_k3)`` (this file sits in site-packages there). Locally: that cell, or
this file: replace the body, save, then run ``check("kl_k3")`` (``from ppo_grpo_lab.grade import check``)
or ``python -m ppo_grpo_lab.grade kl_k3``. The grader reads this file again on every call:
no kernel restart after an edit.
"""
from __future__ import annotations

__all__ = ["kl_k3"]


def kl_k3(log_probs, ref_log_probs):
    r"""The k3 estimator of KL(π_θ ‖ π_ref), per sample (chapter 4).

    .. math::

        \log\rho = \log\pi_\text{ref}(a) - \log\pi_\theta(a), \qquad k_3 = \rho - 1 - \log\rho \ \ (\ge 0)

    Args:
        log_probs: (Tensor, any shape S) ``log π_θ(a)`` at samples a ∼ π_θ.
        ref_log_probs: (Tensor, S) ``log π_ref(a)`` at the same samples.

    Returns:
        (Tensor, S) k3 per element (no averaging).
    """
    raise NotImplementedError("exercise 'kl_k3': write your solution here")
