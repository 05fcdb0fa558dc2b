"""PPO's clipped surrogate objective (Schulman et al., 2017).

.. math::

    r_t(\\theta) = \\frac{\\pi_\\theta(a_t\\mid s_t)}{\\pi_{\\theta_\\text{old}}(a_t\\mid s_t)}
               = \\exp\\big(\\log\\pi_\\theta - \\log\\pi_{\\theta_\\text{old}}\\big),
    \\qquad
    L^{\\text{CLIP}} = \\mathbb E_t\\Big[\\min\\big(r_t A_t,\\;
        \\operatorname{clip}(r_t, 1-\\varepsilon_\\text{low}, 1+\\varepsilon_\\text{high})\\,A_t\\big)\\Big]

``L^CLIP`` is maximised, so the loss is its negative. With ``clip_eps_high=None`` the
clip is symmetric (ε_low = ε_high = ε); DAPO's "clip-higher" uses ε_high > ε_low.

Worked example: A = 1, ε = 0.2, r = 1.5 → min(1.5, 1.2) = 1.2: the clipped branch wins
and its gradient with respect to θ is 0. With A = −1 and r = 1.5 → min(−1.5, −1.2) = −1.5:
the unclipped branch wins and the gradient flows (a bad action made more likely is
always pushed back).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import as_bool_mask, as_tensor, check_finite, check_range, check_same_shape
from .aggregation import masked_mean

__all__ = ["clipped_objective", "clipped_surrogate"]


def _check_policy_inputs(log_probs, old_log_probs, advantages, mask):
    log_probs = as_tensor("log_probs", log_probs)
    old_log_probs = as_tensor("old_log_probs", old_log_probs)
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


def _check_eps(clip_eps, clip_eps_high):
    check_range("clip_eps", clip_eps, 0.0, 1.0, low_open=True, high_open=True)
    if clip_eps_high is not None:
        check_range("clip_eps_high", clip_eps_high, 0.0, float("inf"), low_open=True)


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
        clip_eps: ε_low in (0, 1).
        clip_eps_high: ε_high > 0, or None for a symmetric clip.

    Returns:
        (Tensor, S).
    """
    log_probs, old_log_probs, advantages, _ = _check_policy_inputs(log_probs, old_log_probs, advantages, None)
    _check_eps(clip_eps, clip_eps_high)
    high = clip_eps if clip_eps_high is None else clip_eps_high
    ratio = torch.exp(log_probs - old_log_probs.detach())
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + high) * advantages
    return torch.minimum(unclipped, clipped)


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
        clip_eps: ε_low in (0, 1).
        clip_eps_high: ε_high > 0 or None (symmetric).
        mask: (bool Tensor, S, or None) which elements count (e.g. real tokens).

    Returns:
        ``(loss, stats)``; ``loss`` is a 0-d tensor. ``stats`` holds detached 0-d tensors:

        - ``loss/policy``: the loss.
        - ``stats/clip_frac``: fraction of elements where the clipped branch is active (zero gradient),
          split into ``stats/clip_frac_low`` (r < 1 − ε_low, A < 0) and ``stats/clip_frac_high`` (r > 1 + ε_high, A > 0).
        - ``stats/approx_kl``: mean of ``(r − 1) − log r``, the k3 estimate of KL(π_old ‖ π_θ).
        - ``stats/ratio_mean``: mean ratio r.
    """
    log_probs, old_log_probs, advantages, mask = _check_policy_inputs(log_probs, old_log_probs, advantages, mask)
    objective = clipped_objective(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high)
    loss = -masked_mean(objective, mask)
    with torch.no_grad():
        high = clip_eps if clip_eps_high is None else clip_eps_high
        log_ratio = log_probs - old_log_probs
        ratio = log_ratio.exp()
        adv = advantages.expand_as(ratio)
        low_clip = ((ratio < 1.0 - clip_eps) & (adv < 0)).to(ratio.dtype)
        high_clip = ((ratio > 1.0 + high) & (adv > 0)).to(ratio.dtype)
        stats = {
            "loss/policy": loss.detach(),
            "stats/clip_frac": masked_mean(low_clip + high_clip, mask),
            "stats/clip_frac_low": masked_mean(low_clip, mask),
            "stats/clip_frac_high": masked_mean(high_clip, mask),
            "stats/approx_kl": masked_mean((ratio - 1.0) - log_ratio, mask),
            "stats/ratio_mean": masked_mean(ratio, mask),
        }
    return loss, stats
