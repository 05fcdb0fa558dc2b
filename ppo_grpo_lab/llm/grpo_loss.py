"""The GRPO loss ``−J(θ)`` for one batch of sampled answers (pure: no model, no sampling).

See :mod:`ppo_grpo_lab.llm.grpo` for the objective and the trainer that calls it.
"""
from __future__ import annotations

import torch

from .._checks import check_choice
from ..aggregation import AGGREGATIONS, aggregate, masked_mean
from ..kl import kl_k3
from ..surrogate import clipped_objective

__all__ = ["grpo_loss"]


def grpo_loss(log_probs, old_log_probs, ref_log_probs, advantages, mask, clip_eps: float = 0.2,
              clip_eps_high: float | None = None, beta: float = 0.04, aggregation: str = "grpo"):
    """The GRPO loss ``−J(θ)`` for one batch of answers.

    Args:
        log_probs: (Tensor, [B, L]) ``log π_θ(o_t | q, o_<t)``, differentiable.
        old_log_probs: (Tensor, [B, L]) the same under the sampling policy π_θold.
        ref_log_probs: (Tensor, [B, L]) the same under π_ref (ignored when β = 0).
        advantages: (Tensor, [B]) one advantage per answer (from :func:`group_advantages`, flattened).
        mask: (bool Tensor, [B, L]) real answer tokens (EOS included).
        clip_eps, clip_eps_high: ε and ε_high.
        beta: β.
        aggregation: ``grpo``, ``dr_grpo`` or ``dapo``.

    Returns:
        ``(loss, stats)``: the 0-d loss and detached diagnostics ``loss/policy``, ``stats/kl_ref``
        (masked mean of k3), ``stats/clip_frac`` (= ``_low`` + ``_high``), ``stats/approx_kl``
        (k3 of π_old vs π_θ), ``stats/ratio_mean``.
    """
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs: expected a 2-D tensor [B, L], got shape {tuple(log_probs.shape)}")
    if advantages.shape != log_probs.shape[:1]:
        raise ValueError(f"advantages: expected shape ({log_probs.shape[0]},) (one per answer), got {tuple(advantages.shape)}")
    check_choice("aggregation", aggregation, list(AGGREGATIONS))
    objective = clipped_objective(log_probs, old_log_probs, advantages[:, None], clip_eps, clip_eps_high)  # (B, L)
    kl = kl_k3(log_probs, ref_log_probs) if beta > 0 else torch.zeros_like(log_probs)  # (B, L)
    loss = -aggregate(aggregation, objective - beta * kl, mask)
    with torch.no_grad():
        high = clip_eps if clip_eps_high is None else clip_eps_high
        log_ratio = log_probs - old_log_probs
        ratio = log_ratio.exp()
        adv = advantages[:, None].expand_as(ratio)
        low_clip = ((ratio < 1 - clip_eps) & (adv < 0)).float()
        high_clip = ((ratio > 1 + high) & (adv > 0)).float()
        stats = {
            "loss/policy": loss.detach(),
            "stats/kl_ref": masked_mean(kl, mask),
            "stats/clip_frac": masked_mean(low_clip + high_clip, mask),
            "stats/clip_frac_low": masked_mean(low_clip, mask),
            "stats/clip_frac_high": masked_mean(high_clip, mask),
            "stats/approx_kl": masked_mean(torch.expm1(log_ratio) - log_ratio, mask),
            "stats/ratio_mean": masked_mean(ratio, mask),
        }
    return loss, stats
