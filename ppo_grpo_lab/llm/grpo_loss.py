"""The GRPO loss ``−J(θ)`` for one batch of sampled answers (pure: no model, no sampling).

See :mod:`ppo_grpo_lab.llm.grpo` for the objective and the trainer that calls it. The inputs
are checked once, here; the clipped objective, the k3 estimator, the aggregation and the clip
statistics then run as the core modules' unchecked kernels.
"""
from __future__ import annotations

import torch

from .._checks import (
    as_bool_mask,
    as_tensor,
    check_choice,
    check_clip_eps,
    check_finite,
    check_ndim,
    check_range,
    check_same_shape,
)
from ..aggregation import AGGREGATIONS, _aggregate, _check_max_completion_length, _masked_mean
from ..kl import _kl_k3
from ..surrogate import _clip_statistics, _clipped_objective

__all__ = ["grpo_loss"]


def _check_grpo_inputs(log_probs, old_log_probs, ref_log_probs, advantages, mask, beta):
    log_probs = as_tensor("log_probs", log_probs)
    check_ndim("log_probs", log_probs, 2, "[B, L]")
    old_log_probs, advantages = as_tensor("old_log_probs", old_log_probs), as_tensor("advantages", advantages)
    ref_log_probs = as_tensor("ref_log_probs", ref_log_probs) if beta > 0 or ref_log_probs is not None else None
    mask = as_bool_mask("mask", as_tensor("mask", mask))
    check_same_shape("log_probs", log_probs, old_log_probs=old_log_probs, ref_log_probs=ref_log_probs, mask=mask)
    if advantages.shape not in (log_probs.shape[:1], log_probs.shape):
        B, L = log_probs.shape
        raise ValueError(f"advantages: expected shape ({B},) (one per answer) or ({B}, {L}) (one per token), "
                         f"got {tuple(advantages.shape)}")
    check_finite(log_probs=log_probs, old_log_probs=old_log_probs, ref_log_probs=ref_log_probs, advantages=advantages)
    return log_probs, old_log_probs, ref_log_probs, advantages, mask


def grpo_loss(log_probs, old_log_probs, ref_log_probs, advantages, mask, clip_eps: float = 0.2,
              clip_eps_high: float | None = None, beta: float = 0.04, aggregation: str = "grpo",
              max_completion_length: int | None = None):
    """The GRPO loss ``−J(θ)`` for one batch of answers.

    Args:
        log_probs: (Tensor, [B, L]) ``log π_θ(o_t | q, o_<t)``, differentiable.
        old_log_probs: (Tensor, [B, L]) the same under the sampling policy π_θold.
        ref_log_probs: (Tensor, [B, L]) the same under π_ref; may be None when β = 0, and when given with
            β = 0 it feeds only ``stats/kl_ref`` (the loss is the same as without it).
        advantages: (Tensor, [B]) one advantage per answer (from :func:`group_advantages`, flattened),
            or (Tensor, [B, L]) one per token (process supervision,
            :func:`~ppo_grpo_lab.process.process_advantages`); any other shape raises ValueError.
        mask: (bool Tensor, [B, L]) real answer tokens (EOS included).
        clip_eps, clip_eps_high: ε (> 0; ε ≥ 1 never clips from below) and ε_high (None: ε).
        beta: β >= 0.
        aggregation: ``grpo``, ``bnpo``, ``dr_grpo`` or ``dapo`` (:mod:`ppo_grpo_lab.aggregation`).
        max_completion_length: ``dr_grpo``'s constant L_max (TRL's convention: the generation
            budget); None uses the padded width L.

    Returns:
        ``(loss, stats)``: the 0-d loss and detached diagnostics ``loss/policy``, ``stats/kl_ref``
        (masked mean of k3), and :func:`ppo_grpo_lab.surrogate.clip_statistics`'s ``stats/clip_frac``
        (= ``_low`` + ``_high``), ``stats/approx_kl`` (k3 of π_old vs π_θ), ``stats/ratio_mean``.
    """
    check_range("beta", beta, 0.0, float("inf"))
    log_probs, old_log_probs, ref_log_probs, advantages, mask = _check_grpo_inputs(
        log_probs, old_log_probs, ref_log_probs, advantages, mask, beta)
    check_clip_eps(clip_eps, clip_eps_high)
    check_choice("aggregation", aggregation, list(AGGREGATIONS))
    _check_max_completion_length(max_completion_length)
    adv = advantages[:, None] if advantages.ndim == 1 else advantages  # (B, 1): every token its answer's; or (B, L)
    objective = _clipped_objective(log_probs, old_log_probs, adv, clip_eps, clip_eps_high)  # (B, L)
    kl = _kl_k3(log_probs, ref_log_probs) if ref_log_probs is not None else torch.zeros_like(log_probs)  # (B, L)
    loss = -_aggregate(aggregation, objective - beta * kl, mask, max_completion_length)
    stats = {"loss/policy": loss.detach(), "stats/kl_ref": _masked_mean(kl.detach(), mask),
             **_clip_statistics(log_probs, old_log_probs, adv, clip_eps, clip_eps_high, mask)}
    return loss, stats
