"""From per-token terms to one scalar: masked means and GRPO's aggregation rules.

A batch of B sampled answers is stored as tokens ``[B, L]`` with a mask ``[B, L]``
(1 for a real token, 0 for padding). Each rule turns per-token terms ``x_{i,t}`` into
one number; they differ in how long answers are weighted (names as TRL's ``loss_type``):

======== ====================================================================== ==========================
rule     formula                                                                source
======== ====================================================================== ==========================
grpo     :math:`\\frac1B\\sum_i \\frac{1}{|o_i|}\\sum_t x_{i,t}`                    DeepSeekMath GRPO
bnpo     :math:`\\frac{1}{\\sum_i |o_i|}\\sum_i\\sum_t x_{i,t}` (this process)      TRL
dr_grpo  :math:`\\frac{1}{B\\,L_{\\max}}\\sum_i\\sum_t x_{i,t}`                      Dr. GRPO (Liu et al. 2025)
dapo     :math:`\\frac{1}{\\sum_i |o_i|}\\sum_i\\sum_t x_{i,t}` (all processes)     DAPO (Yu et al. 2025)
======== ====================================================================== ==========================

``grpo`` gives every answer equal weight, so each token of a short answer weighs more
than a token of a long one (the length bias Dr. GRPO points out).

``bnpo`` and ``dapo`` are the same token mean in one process. Across R processes they differ:
``bnpo`` (TRL's convention) normalises by each process's own token count and the processes'
losses are then averaged (weight 1/R each), while ``dapo`` divides by the token count of the
whole global batch (each process weighted by its share of the tokens). They agree when every
process holds the same number of real tokens.

``dr_grpo``'s constant ``L_max`` is TRL's ``max_completion_length`` (the generation budget),
not the padded width of one batch, which changes from batch to batch; pass it as
``max_completion_length`` (default: the padded width L). :func:`masked_normalize` is the same
division by a constant along any dimension.
"""
from __future__ import annotations

import warnings
from typing import Callable

import torch
from torch import Tensor

from ._checks import (
    as_bool_mask,
    as_tensor,
    check_choice,
    check_finite,
    check_int,
    check_ndim,
    check_range,
    check_same_shape,
)

__all__ = ["masked_mean", "masked_normalize", "aggregate_grpo", "aggregate_bnpo", "aggregate_dr_grpo",
           "aggregate_dapo", "AGGREGATIONS", "aggregate"]


def _check_mask(x: Tensor, mask) -> Tensor | None:
    if mask is None:
        return None
    mask = as_bool_mask("mask", as_tensor("mask", mask))
    check_same_shape("x", x, mask=mask)
    return mask


def _masked_mean(x: Tensor, mask: Tensor | None = None, dim: int | None = None) -> Tensor:
    """Σ x·m / max(Σ m, 1) over ``dim`` (all if None); inputs already checked."""
    if mask is None:
        return x.mean() if dim is None else x.mean(dim=dim)
    xm = torch.where(mask, x, torch.zeros_like(x))  # keeps NaN in padding out of the sum
    m = mask.to(x.dtype)
    if dim is None:
        return xm.sum() / m.sum().clamp(min=1.0)
    return xm.sum(dim=dim) / m.sum(dim=dim).clamp(min=1.0)


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
    return _masked_mean(x, _check_mask(x, mask), dim)


def _masked_normalize(x: Tensor, mask: Tensor | None, constant: float, dim: int | None = None) -> Tensor:
    """Σ x·m / constant over ``dim`` (all if None); inputs already checked."""
    xm = x if mask is None else torch.where(mask, x, torch.zeros_like(x))
    return (xm.sum() if dim is None else xm.sum(dim=dim)) / constant


def masked_normalize(x: Tensor, mask: Tensor | None, constant: float, dim: int | None = None) -> Tensor:
    """Sum of ``x`` over the masked entries, divided by a constant (Dr. GRPO's normaliser).

    .. math:: \\frac{1}{c} \\sum_{t} m_t\\, x_t

    Unlike :func:`masked_mean` the denominator does not depend on how many entries are real,
    so a token weighs the same in a short answer and in a long one.

    Args:
        x: (Tensor, any shape), e.g. per-token losses [B, L].
        mask: (bool or 0/1 Tensor, same shape, or None: every entry counts).
        constant: c > 0, e.g. ``max_completion_length`` (per answer, ``dim=-1``) or B · L_max.
        dim: sum along this dimension only (None: over everything).

    Returns:
        (Tensor) ``x`` summed over ``dim`` and divided by c. Example: x = [[1, 2, 3]], mask =
        [[1, 1, 0]], c = 4, dim = -1 → [0.75].
    """
    x = as_tensor("x", x)
    mask = _check_mask(x, mask)
    check_range("constant", constant, 0.0, float("inf"), low_open=True, high_open=True)
    return _masked_normalize(x, mask, constant, dim)


def _check_tokens(per_token, mask) -> tuple[Tensor, Tensor]:
    per_token = as_tensor("per_token", per_token)
    check_ndim("per_token", per_token, 2, "[B, L]")
    mask = as_bool_mask("mask", as_tensor("mask", mask))
    check_same_shape("per_token", per_token, mask=mask)
    check_finite(per_token=torch.where(mask, per_token, torch.zeros_like(per_token)))
    return per_token, mask


def _check_max_completion_length(value) -> None:
    if value is not None:
        check_int("max_completion_length", value, 1, " (L_max, the generation budget in tokens)")


def _aggregate_grpo(per_token: Tensor, mask: Tensor, max_completion_length: int | None = None) -> Tensor:
    """(1/B) Σ_i (1/|o_i|) Σ_t x_{i,t}."""
    return _masked_mean(per_token, mask, dim=1).mean()


def _aggregate_dr_grpo(per_token: Tensor, mask: Tensor, max_completion_length: int | None = None) -> Tensor:
    """Σ_{i,t} x_{i,t} / (B · L_max), L_max = max_completion_length or the padded width L."""
    B, L = per_token.shape
    return _masked_normalize(per_token, mask, B * (L if max_completion_length is None else max_completion_length))


def _aggregate_tokens(per_token: Tensor, mask: Tensor, max_completion_length: int | None = None) -> Tensor:
    """Σ_{i,t} x_{i,t} / Σ_i |o_i| (bnpo and dapo in one process)."""
    return _masked_mean(per_token, mask)


_KERNELS = {"grpo": _aggregate_grpo, "bnpo": _aggregate_tokens, "dr_grpo": _aggregate_dr_grpo,
            "dapo": _aggregate_tokens}


def _aggregate(rule: str, per_token: Tensor, mask: Tensor, max_completion_length: int | None = None) -> Tensor:
    """The rule's kernel on checked ``[B, L]`` inputs."""
    return _KERNELS[rule](per_token, mask, max_completion_length)


def aggregate_grpo(per_token: Tensor, mask: Tensor) -> Tensor:
    """GRPO: average over each answer's tokens, then over answers.

    Args:
        per_token: (Tensor, [B, L]); mask: (bool Tensor, [B, L]).
    """
    return _aggregate_grpo(*_check_tokens(per_token, mask))


def aggregate_bnpo(per_token: Tensor, mask: Tensor) -> Tensor:
    """BNPO (TRL): token-level mean over the real tokens of this process's batch.

    Equal to :func:`aggregate_dapo` in one process; across processes see the module docstring.

    Args:
        per_token: (Tensor, [B, L]); mask: (bool Tensor, [B, L]).
    """
    return _aggregate_tokens(*_check_tokens(per_token, mask))


def aggregate_dr_grpo(per_token: Tensor, mask: Tensor, max_completion_length: int | None = None, *,
                      max_len: int | None = None) -> Tensor:
    """Dr. GRPO: sum over all tokens divided by a constant ``B · L_max``.

    Args:
        per_token: (Tensor, [B, L]); mask: (bool Tensor, [B, L]).
        max_completion_length: the constant L_max, an integer >= 1 (TRL's convention: the
            generation budget); default L, the padded width.
        max_len: deprecated name of ``max_completion_length`` (FutureWarning).
    """
    per_token, mask = _check_tokens(per_token, mask)
    if max_len is not None:
        warnings.warn("aggregate_dr_grpo: 'max_len' is deprecated, use 'max_completion_length'", FutureWarning,
                      stacklevel=2)
        check_int("max_len", max_len, 1, " (L_max, the generation budget in tokens)")
        max_completion_length = max_len
    _check_max_completion_length(max_completion_length)
    return _aggregate_dr_grpo(per_token, mask, max_completion_length)


def aggregate_dapo(per_token: Tensor, mask: Tensor) -> Tensor:
    """DAPO: token-level mean over every real token of the (global) batch.

    Args:
        per_token: (Tensor, [B, L]); mask: (bool Tensor, [B, L]).
    """
    return _aggregate_tokens(*_check_tokens(per_token, mask))


AGGREGATIONS: dict[str, Callable[..., Tensor]] = {
    "grpo": aggregate_grpo,
    "bnpo": aggregate_bnpo,
    "dr_grpo": aggregate_dr_grpo,
    "dapo": aggregate_dapo,
}


def aggregate(rule: str, per_token: Tensor, mask: Tensor, max_completion_length: int | None = None) -> Tensor:
    """Apply the aggregation rule named ``rule`` (one of ``AGGREGATIONS``).

    Args:
        rule: ``grpo``, ``bnpo``, ``dr_grpo`` or ``dapo``.
        per_token: (Tensor, [B, L]); mask: (bool Tensor, [B, L]).
        max_completion_length: ``dr_grpo``'s constant L_max (ignored by the other rules).
    """
    check_choice("rule", rule, list(AGGREGATIONS))
    per_token, mask = _check_tokens(per_token, mask)
    _check_max_completion_length(max_completion_length)
    return _aggregate(rule, per_token, mask, max_completion_length)
