"""Entropy of a categorical policy, the exploration bonus in PPO's loss.

.. math::

    H[\\pi](s) = -\\sum_a \\pi(a\\mid s)\\,\\log \\pi(a\\mid s)

Worked example: uniform over 4 actions → log 4 ≈ 1.386; a deterministic policy → 0.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import as_tensor, check_finite

__all__ = ["entropy"]


def entropy(logits: Tensor) -> Tensor:
    """Entropy of ``softmax(logits)`` along the last dimension.

    Args:
        logits: (Tensor, [..., A]) unnormalised log-probabilities over A >= 1 actions;
            ``-inf`` marks an impossible action.

    Returns:
        (Tensor, [...]) entropies in nats.
    """
    logits = as_tensor("logits", logits)
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits: expected shape [..., A] with A >= 1 actions, got {tuple(logits.shape)}")
    if not torch.is_floating_point(logits):
        raise ValueError(f"logits: expected a floating-point tensor, got dtype {logits.dtype}")
    check_finite(logits=torch.where(torch.isneginf(logits), torch.zeros_like(logits), logits))  # -inf is allowed
    if bool(torch.isneginf(logits).all(dim=-1).any()):
        raise ValueError("logits: expected at least one finite logit per row, got a row of all -inf")
    return _entropy(logits)


def _entropy(logits: Tensor) -> Tensor:
    """−Σ_a p log p along the last dimension, with 0 · log 0 = 0; logits already checked."""
    log_p = torch.log_softmax(logits, dim=-1)
    p = log_p.exp()
    return -(p * torch.where(p > 0, log_p, torch.zeros_like(log_p))).sum(dim=-1)
