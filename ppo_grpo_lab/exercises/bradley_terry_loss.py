"""Exercise ``bradley_terry_loss`` (chapter 14, graded): the stub for the command-line route.

Where to write it. Colab: in the exercise cell of chapter 14 (it defines ``bradley_terry_loss`` and
ends with ``check("bradley_terry_loss", bradley_terry_loss)``); in Colab this file lies inside the
installed package and is not the place for your code. Locally: that cell, or this file: replace the
body below, save, then run ``check("bradley_terry_loss")`` (``from ppo_grpo_lab.grade import check``)
or ``python -m ppo_grpo_lab.grade bradley_terry_loss``. The grader reads this file again on every
call, so an edit counts without a kernel restart.
"""
from __future__ import annotations

__all__ = ["bradley_terry_loss"]


def bradley_terry_loss(r_chosen, r_rejected):
    r"""The Bradley–Terry loss of a reward model on preference pairs (chapter 14).

    .. math::

        \mathcal L_\text{BT} = -\frac1N \sum_{k=1}^N \log \sigma\big(r^+_k - r^-_k\big)

    It must stay finite for margins ``r⁺ − r⁻`` of ±100, in float32 too.

    Args:
        r_chosen: (Tensor, [N]) rewards ``r⁺`` of the answers the labeller preferred (differentiable).
        r_rejected: (Tensor, [N]) rewards ``r⁻`` of the other answers (differentiable).

    Returns:
        (Tensor, 0-d) the loss.
    """
    raise NotImplementedError("exercise 'bradley_terry_loss': write your solution here")
