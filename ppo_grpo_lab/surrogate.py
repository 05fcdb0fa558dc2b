"""PPO's clipped surrogate objective (Schulman et al., 2017).

.. math::

    r_t(\\theta) = \\frac{\\pi_\\theta(a_t\\mid s_t)}{\\pi_{\\theta_\\text{old}}(a_t\\mid s_t)}
               = \\exp\\big(\\log\\pi_\\theta - \\log\\pi_{\\theta_\\text{old}}\\big),
    \\qquad
    L^{\\text{CLIP}} = \\mathbb E_t\\Big[\\min\\big(r_t A_t,\\;
        \\operatorname{clip}(r_t, 1-\\varepsilon_\\text{low}, 1+\\varepsilon_\\text{high})\\,A_t\\big)\\Big]

``L^CLIP`` is maximised, so the loss is its negative. With ``clip_eps_high=None`` the
clip is symmetric (ε_low = ε_high = ε); DAPO's "clip-higher" uses ε_high > ε_low.
Any ε > 0 is accepted: with ε ≥ 1 the lower bound 1 − ε ≤ 0 never binds (r > 0).

Worked example: A = 1, ε = 0.2, r = 1.5 → min(1.5, 1.2) = 1.2: the clipped branch wins
and its gradient with respect to θ is 0. With A = −1 and r = 1.5 → min(−1.5, −1.2) = −1.5:
the unclipped branch wins and the gradient flows (a bad action made more likely is
always pushed back).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import as_bool_mask, as_tensor, check_clip_eps, check_finite, check_same_shape
from .aggregation import _masked_mean
from .kl import _kl_k3

__all__ = ["clipped_objective", "clipped_surrogate", "clip_statistics"]


def check_policy_inputs(log_probs, old_log_probs, advantages, mask=None):
    """Validate the inputs of a ratio-based policy loss once; returns them as tensors (mask as bool).

    ``log_probs`` and ``old_log_probs`` (None: not used) share a shape S, ``advantages`` broadcasts
    to S, ``mask`` is None or S; the float tensors must be finite (one host sync on a GPU).
    """
    log_probs = as_tensor("log_probs", log_probs)
    old_log_probs = None if old_log_probs is None else as_tensor("old_log_probs", old_log_probs)
    advantages = as_tensor("advantages", advantages)
    check_same_shape("log_probs", log_probs, old_log_probs=old_log_probs)
    try:
        shape = torch.broadcast_shapes(advantages.shape, log_probs.shape)
    except RuntimeError:
        shape = None
    if shape != log_probs.shape:
        raise ValueError(
            f"advantages: expected a shape broadcastable to {tuple(log_probs.shape)} (the shape of log_probs), "
            f"got {tuple(advantages.shape)}"
        )
    mask = as_bool_mask("mask", None if mask is None else as_tensor("mask", mask))
    if mask is not None:
        check_same_shape("log_probs", log_probs, mask=mask)
    check_finite(log_probs=log_probs, old_log_probs=old_log_probs, advantages=advantages)
    return log_probs, old_log_probs, advantages, mask


def _checked(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high, mask):
    """All inputs of a clipped loss checked once, in the kernels' argument order."""
    log_probs, old_log_probs, advantages, mask = check_policy_inputs(log_probs, old_log_probs, advantages, mask)
    check_clip_eps(clip_eps, clip_eps_high)
    return log_probs, old_log_probs, advantages, clip_eps, clip_eps_high, mask


def _clipped_objective(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high):
    """min(r A, clip(r, 1 − ε_low, 1 + ε_high) A) per element; inputs already checked."""
    high = clip_eps if clip_eps_high is None else clip_eps_high
    ratio = torch.exp(log_probs - old_log_probs.detach())
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + high) * advantages
    return torch.minimum(unclipped, clipped)


def clipped_objective(
    log_probs: Tensor,
    old_log_probs: Tensor,
    advantages: Tensor,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
) -> Tensor:
    """Per-element clipped objective ``min(r A, clip(r) A)`` (to be maximised), no reduction.

    Args:
        log_probs: (Tensor, any shape S) ``log π_θ(a|s)``, differentiable.
        old_log_probs: (Tensor, S) ``log π_θold(a|s)`` from the sampling policy (treated as constant).
        advantages: (Tensor, broadcastable to S), e.g. [B, 1] against tokens [B, L].
        clip_eps: ε_low > 0 (ε ≥ 1: the lower bound never binds).
        clip_eps_high: ε_high > 0, or None for a symmetric clip.

    Returns:
        (Tensor, S). The math is in the kernel ``_clipped_objective``; this checks the inputs once.
    """
    log_probs, old_log_probs, advantages, _ = check_policy_inputs(log_probs, old_log_probs, advantages)
    check_clip_eps(clip_eps, clip_eps_high)
    return _clipped_objective(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high)


@torch.no_grad()
def _clip_statistics(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high, mask):
    """Clip fractions (low/high/total), approx_kl (k3 of π_old vs π_θ) and mean ratio; inputs checked."""
    high = clip_eps if clip_eps_high is None else clip_eps_high
    log_ratio = log_probs - old_log_probs
    ratio = log_ratio.exp()
    adv = advantages.expand_as(ratio)
    low_clip = ((ratio < 1.0 - clip_eps) & (adv < 0)).to(ratio.dtype)
    high_clip = ((ratio > 1.0 + high) & (adv > 0)).to(ratio.dtype)
    return {
        "stats/clip_frac": _masked_mean(low_clip + high_clip, mask),
        "stats/clip_frac_low": _masked_mean(low_clip, mask),
        "stats/clip_frac_high": _masked_mean(high_clip, mask),
        "stats/approx_kl": _masked_mean(_kl_k3(old_log_probs, log_probs), mask),  # expm1(log r) − log r
        "stats/ratio_mean": _masked_mean(ratio, mask),
    }


def clip_statistics(
    log_probs: Tensor,
    old_log_probs: Tensor,
    advantages: Tensor,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
    mask: Tensor | None = None,
) -> dict[str, Tensor]:
    """Diagnostics of a clipped policy update, as detached 0-d tensors (masked means over S).

    Args:
        log_probs, old_log_probs: (Tensor, S); advantages: (Tensor, broadcastable to S);
        clip_eps, clip_eps_high: ε_low, ε_high (None: symmetric); mask: (bool Tensor, S, or None).

    Returns:
        A dict of detached 0-d tensors: ``stats/clip_frac_low``, the share with r < 1 − ε_low and
        A < 0 (the clipped branch is active, zero gradient); ``stats/clip_frac_high``, the share with
        r > 1 + ε_high and A > 0; ``stats/clip_frac``, their sum; ``stats/approx_kl``, the mean k3
        ``expm1(log r) − log r`` ≥ 0, an estimate of KL(π_old ‖ π_θ) (:func:`ppo_grpo_lab.kl.kl_k3`
        with the two policies' roles swapped); ``stats/ratio_mean``, the mean r.
    """
    return _clip_statistics(*_checked(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high, mask))


def _clipped_surrogate(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high, mask):
    """−masked mean of the clipped objective, with the clip statistics; inputs already checked."""
    objective = _clipped_objective(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high)
    loss = -_masked_mean(objective, mask)
    stats = {"loss/policy": loss.detach(),
             **_clip_statistics(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high, mask)}
    return loss, stats


def clipped_surrogate(
    log_probs: Tensor,
    old_log_probs: Tensor,
    advantages: Tensor,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
    mask: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO's clipped policy loss ``−L^CLIP`` as a masked mean, with diagnostics.

    Args:
        log_probs: (Tensor, S) ``log π_θ(a|s)``.
        old_log_probs: (Tensor, S) ``log π_θold(a|s)``.
        advantages: (Tensor, broadcastable to S).
        clip_eps: ε_low > 0 (ε ≥ 1: the lower bound never binds).
        clip_eps_high: ε_high > 0 or None (symmetric).
        mask: (bool Tensor, S, or None) which elements count (e.g. real tokens).

    Returns:
        ``(loss, stats)``; ``loss`` is a 0-d tensor. ``stats`` holds detached 0-d tensors:
        ``loss/policy`` (the loss) and the diagnostics of :func:`clip_statistics`
        (``stats/clip_frac``, ``_low``, ``_high``, ``stats/approx_kl``, ``stats/ratio_mean``).
        Inputs are checked once here; the math is in ``_clipped_surrogate``.
    """
    return _clipped_surrogate(*_checked(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high, mask))
