"""Exercise ``gae`` (chapter 7, graded): the stub for the command-line route.

Where to write it. Colab: in the exercise cell of chapter 7 (it defines ``gae`` and ends with
``check("gae", gae)``); in Colab this file lies inside the installed package and is not the place
for your code. Locally: that cell, or this file: replace the body below, save, then run
``check("gae")`` (``from ppo_grpo_lab.grade import check``) or ``python -m ppo_grpo_lab.grade gae``.
The grader reads this file again on every call, so an edit counts without a kernel restart.
"""
from __future__ import annotations

__all__ = ["gae"]


def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    r"""Generalized Advantage Estimation (chapter 7).

    .. math::

        \hat A_t = \delta_t + \gamma\lambda\,(1 - d_t)\,\hat A_{t+1}, \qquad d_t = \text{term}_t \lor \text{trunc}_t

    with ``δ_t`` from :func:`td_residuals` (only termination removes the bootstrap there), and
    ``Â`` after the last row taken as 0.

    Args:
        rewards, values, next_values: (Tensor, [T, N]).
        terminated, truncated: (bool Tensor, [T, N]).
        gamma: discount γ in [0, 1].
        lam: λ in [0, 1].

    Returns:
        (Tensor, [T, N]) advantages ``Â_t`` (only the advantages, not the value targets).
    """
    raise NotImplementedError("exercise 'gae': write your solution here")
