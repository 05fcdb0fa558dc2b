"""Exercise ``value_loss`` (chapter 9, graded): the stub for the command-line route.

Where to write it. Colab: in the exercise cell of chapter 9 (it defines ``value_loss`` and ends with
``check("value_loss", value_loss)``); in Colab this file lies inside the installed package and is
not the place for your code. Locally: that cell, or this file: replace the body below, save, then
run ``check("value_loss")`` (``from ppo_grpo_lab.grade import check``) or ``python -m
ppo_grpo_lab.grade value_loss``. The grader reads this file again on every call, so an edit counts
without a kernel restart.
"""
from __future__ import annotations

__all__ = ["value_loss"]


def value_loss(values, targets, old_values, clip_eps):
    r"""PPO's clipped critic loss (chapter 9).

    .. math::

        V^\text{clip} = V_\text{old} + \operatorname{clip}(V - V_\text{old}, -\varepsilon, \varepsilon), \qquad
        L^{VF} = \frac1N\sum_i \max\big((V_i - V^\text{targ}_i)^2,\ (V^\text{clip}_i - V^\text{targ}_i)^2\big)

    Args:
        values: (Tensor, [N]) predictions ``V_ψ(s_i)`` (differentiable).
        targets: (Tensor, [N]) ``V^targ_i``.
        old_values: (Tensor, [N]) predictions at rollout time.
        clip_eps: ε > 0.

    Returns:
        (Tensor, 0-d) the loss.
    """
    raise NotImplementedError("exercise 'value_loss': write your solution here")
