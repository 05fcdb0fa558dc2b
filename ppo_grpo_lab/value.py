"""The critic's regression loss, optionally clipped around the old predictions.

.. math::

    L^{VF} = \\big(V_\\psi(s_t) - V^\\text{targ}_t\\big)^2, \\qquad
    L^{VF}_\\text{clip} = \\max\\Big(\\big(V_\\psi - V^\\text{targ}\\big)^2,\\;
        \\big(V_\\text{old} + \\operatorname{clip}(V_\\psi - V_\\text{old}, -\\varepsilon_v, \\varepsilon_v) - V^\\text{targ}\\big)^2\\Big)

averaged over the (masked) elements. Clipping, as in OpenAI baselines' PPO2, stops the
critic from moving far from the values that produced the advantages.

No factor ½ in front, unlike CleanRL's ``0.5 * max(...)``: at the same value coefficient
``vf_coef`` (c₁) the critic's gradient here is twice CleanRL's (our c₁ = 0.5 matches their 1.0,
our 0.25 their 0.5). Both conventions appear in the literature; the PPO paper writes
``c₁ L^VF`` with the plain squared error, as here.

Worked example: V = 3, V^targ = 1 → loss 4. Clipped with V_old = 2.5, ε_v = 0.2:
the clipped prediction is 2.7, (2.7 − 1)² = 2.89, and the max keeps 4.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import as_bool_mask, as_tensor, check_finite, check_range, check_same_shape
from .aggregation import _masked_mean

__all__ = ["value_loss"]


def check_value_inputs(values, targets, old_values=None, clip_eps=None, mask=None):
    """Validate the critic loss's inputs once; returns ``(values, targets, old_values, mask)`` as tensors."""
    values = as_tensor("values", values)
    targets = as_tensor("targets", targets)
    old_values = None if old_values is None else as_tensor("old_values", old_values)
    mask = as_bool_mask("mask", None if mask is None else as_tensor("mask", mask))
    check_same_shape("values", values, targets=targets, old_values=old_values, mask=mask)
    check_finite(values=values, targets=targets, old_values=old_values)
    if clip_eps is not None:
        check_range("clip_eps", clip_eps, 0.0, float("inf"), low_open=True)
        if old_values is None:
            raise ValueError("old_values: expected a tensor of rollout-time values when clip_eps is set, got None")
    return values, targets, old_values, mask


def value_loss(
    values: Tensor,
    targets: Tensor,
    old_values: Tensor | None = None,
    clip_eps: float | None = None,
    mask: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Squared-error critic loss (no ½; see the module docstring for the convention).

    Args:
        values: (Tensor, S) predictions ``V_ψ(s)``, differentiable.
        targets: (Tensor, S) ``V^targ`` (e.g. GAE's value targets); treated as constant.
        old_values: (Tensor, S, or None) predictions at rollout time; required with ``clip_eps``.
        clip_eps: ε_v > 0 to clip, or None.
        mask: (bool Tensor, S, or None).

    Returns:
        ``(loss, stats)`` with ``loss/value`` and ``stats/value_clip_frac`` (fraction of elements
        where the clipped term was the larger one; 0 without clipping). Checks the inputs once,
        then runs the kernel ``_value_loss``.
    """
    values, targets, old_values, mask = check_value_inputs(values, targets, old_values, clip_eps, mask)
    return _value_loss(values, targets, old_values, clip_eps, mask)


def _value_loss(values, targets, old_values, clip_eps, mask):
    """(V − V^targ)² (no ½, unlike CleanRL), or its max with the clipped prediction's error; masked mean."""
    targets = targets.detach()
    sq = (values - targets) ** 2
    if clip_eps is None:
        loss = _masked_mean(sq, mask)
        clip_frac = torch.zeros((), dtype=values.dtype, device=values.device)
    else:
        old_values = old_values.detach()
        clipped = old_values + torch.clamp(values - old_values, -clip_eps, clip_eps)
        sq_clipped = (clipped - targets) ** 2
        loss = _masked_mean(torch.maximum(sq, sq_clipped), mask)
        clip_frac = _masked_mean((sq_clipped > sq).to(values.dtype), mask).detach()
    return loss, {"loss/value": loss.detach(), "stats/value_clip_frac": clip_frac}
