"""From per-token terms to one scalar: masked means and GRPO's aggregation rules.

A batch of B sampled answers is stored as tokens ``[B, L]`` with a mask ``[B, L]``
(1 for a real token, 0 for padding). Each rule turns per-token terms ``x_{i,t}`` into
one number; they differ in how long answers are weighted:

======== ====================================================================== ==========================
rule     formula                                                                source
======== ====================================================================== ==========================
grpo     :math:`\\frac1B\\sum_i \\frac{1}{|o_i|}\\sum_t x_{i,t}`                    DeepSeekMath GRPO
dr_grpo  :math:`\\frac{1}{B\\,L_{\\max}}\\sum_i\\sum_t x_{i,t}`                      Dr. GRPO (Liu et al. 2025)
dapo     :math:`\\frac{1}{\\sum_i |o_i|}\\sum_i\\sum_t x_{i,t}`                      DAPO (Yu et al. 2025)
======== ====================================================================== ==========================

``grpo`` gives every answer equal weight, so each token of a short answer weighs more
than a token of a long one (the length bias Dr. GRPO points out).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._checks import as_bool_mask, as_tensor, check_finite, check_ndim, check_same_shape

__all__ = ["masked_mean", "aggregate_grpo", "aggregate_dr_grpo", "aggregate_dapo", "AGGREGATIONS", "aggregate"]


def masked_mean(x: Tensor, mask: Tensor | None = None, dim: int | None = None) -> Tensor:
    """Mean of ``x`` over the entries where ``mask`` is true.

    Args:
        x: (Tensor, any shape).
        mask: (bool or 0/1 Tensor, same shape as x, or None for a plain mean).
        dim: reduce along this dimension only (None: over everything).

    Returns:
        The mean; where the mask selects nothing the result is 0, not NaN.
    """
    x = as_tensor("x", x)
    if mask is None:
        return x.mean() if dim is None else x.mean(dim=dim)
    mask = as_bool_mask("mask", as_tensor("mask", mask))
    check_same_shape("x", x, mask=mask)
    m = mask.to(x.dtype)
    xm = torch.where(mask, x, torch.zeros_like(x))  # keeps NaN in padding out of the sum
    if dim is None:
        return xm.sum() / m.sum().clamp(min=1.0)
    return xm.sum(dim=dim) / m.sum(dim=dim).clamp(min=1.0)


def _check_tokens(per_token, mask) -> tuple[Tensor, Tensor]:
    per_token = as_tensor("per_token", per_token)
    check_ndim("per_token", per_token, 2, "[B, L]")
    mask = as_bool_mask("mask", as_tensor("mask", mask))
    check_same_shape("per_token", per_token, mask=mask)
    check_finite(per_token=torch.where(mask, per_token, torch.zeros_like(per_token)))
    return per_token, mask


def aggregate_grpo(per_token: Tensor, mask: Tensor) -> Tensor:
    """GRPO: average over each answer's tokens, then over answers.

    Args:
        per_token: (Tensor, [B, L]); mask: (bool Tensor, [B, L]).
    """
    per_token, mask = _check_tokens(per_token, mask)
    return masked_mean(per_token, mask, dim=1).mean()


def aggregate_dr_grpo(per_token: Tensor, mask: Tensor, max_len: int | None = None) -> Tensor:
    """Dr. GRPO: sum over all tokens divided by a constant ``B · L_max``.

    Args:
        per_token: (Tensor, [B, L]); mask: (bool Tensor, [B, L]).
        max_len: the constant L_max (default: L, the padded length); must be >= 1.
    """
    per_token, mask = _check_tokens(per_token, mask)
    L = per_token.shape[1] if max_len is None else max_len
    if L < 1:
        raise ValueError(f"max_len: expected an integer >= 1, got {max_len}")
    masked = torch.where(mask, per_token, torch.zeros_like(per_token))
    return masked.sum() / (per_token.shape[0] * L)


def aggregate_dapo(per_token: Tensor, mask: Tensor) -> Tensor:
    """DAPO: token-level mean over every real token of the batch.

    Args:
        per_token: (Tensor, [B, L]); mask: (bool Tensor, [B, L]).
    """
    per_token, mask = _check_tokens(per_token, mask)
    return masked_mean(per_token, mask)


AGGREGATIONS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "grpo": aggregate_grpo,
    "dr_grpo": aggregate_dr_grpo,
    "dapo": aggregate_dapo,
}


def aggregate(rule: str, per_token: Tensor, mask: Tensor) -> Tensor:
    """Apply the aggregation rule named ``rule`` (one of ``AGGREGATIONS``)."""
    if rule not in AGGREGATIONS:
        raise ValueError(f"rule: expected one of {list(AGGREGATIONS)}, got {rule!r}")
    return AGGREGATIONS[rule](per_token, mask)
