"""Whitening (standardising) advantages: one convention for the whole package.

.. math::

    \\bar x = \\frac{1}{n}\\sum_{m_i} x_i, \\qquad
    s = \\sqrt{\\frac{1}{n-1}\\sum_{m_i} (x_i - \\bar x)^2}, \\qquad
    \\operatorname{whiten}(x)_i = \\frac{x_i - \\bar x}{s + \\varepsilon}

over the n entries the mask selects: the mean and the **unbiased** standard deviation
(Bessel's correction, as ``torch.std`` and the group scaling of
:func:`ppo_grpo_lab.group_advantages`), ``ε = 1e-8``. With fewer than two selected entries
the spread is undefined and the values are only centred. Padding comes back as 0.

Used by PPO's minibatch advantage normalisation (:func:`ppo_grpo_lab.ppo.normalize_advantages`)
and by token-level PPO for language models.

Worked example: x = [1, 2, 3, 4] → mean 2.5, s = 1.291 → [−1.162, −0.387, 0.387, 1.162].
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import as_bool_mask, as_tensor, check_finite, check_range, check_same_shape

__all__ = ["masked_whiten"]


def _masked_whiten(x: Tensor, mask: Tensor | None = None, eps: float = 1e-8) -> Tensor:
    """(x − mean) / (unbiased std + ε) over the masked entries, 0 in padding; inputs already checked."""
    if mask is None:
        if x.numel() < 2:
            return x - x.mean()
        return (x - x.mean()) / (x.std() + eps)
    m = mask.to(x.dtype)
    n = m.sum()
    mean = torch.where(mask, x, torch.zeros_like(x)).sum() / n.clamp(min=1.0)
    centred = torch.where(mask, x - mean, torch.zeros_like(x))
    std = (centred.square().sum() / (n - 1).clamp(min=1.0)).sqrt()
    scale = torch.where(n >= 2, std + eps, torch.ones_like(std))  # < 2 entries: centre only (no host sync)
    return centred / scale


def masked_whiten(x: Tensor, mask: Tensor | None = None, eps: float = 1e-8) -> Tensor:
    """Standardise ``x`` over the entries ``mask`` selects: mean 0, unbiased std 1.

    Args:
        x: (Tensor, any shape), e.g. advantages [B] or per-token advantages [B, L].
        mask: (bool or 0/1 Tensor, same shape as x, or None: every entry).
        eps: ε >= 0 added to the standard deviation.

    Returns:
        (Tensor, shape of x); 0 where the mask is false; only centred when fewer than two
        entries are selected.
    """
    x = as_tensor("x", x)
    if not torch.is_floating_point(x):
        x = x.float()
    if mask is not None:
        mask = as_bool_mask("mask", as_tensor("mask", mask))
        check_same_shape("x", x, mask=mask)
    check_range("eps", eps, 0.0, float("inf"))
    check_finite(x=x if mask is None else torch.where(mask, x, torch.zeros_like(x)))
    return _masked_whiten(x, mask, eps)
