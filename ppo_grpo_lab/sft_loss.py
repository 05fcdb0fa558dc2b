"""Supervised fine-tuning loss on given log-probabilities: masked negative log-likelihood.

.. math::

    \\ell_{i,t} = -\\log\\pi_\\theta(y_{i,t}\\mid x_i, y_{i,<t}), \\qquad
    L_\\text{SFT} = \\frac{\\sum_{i,t} m_{i,t}\\,\\ell_{i,t}}{\\sum_{i,t} m_{i,t}}
    \\quad\\text{or}\\quad
    \\frac1B \\sum_i \\frac{1}{c}\\sum_t m_{i,t}\\,\\ell_{i,t}

The first form (default) is the mean over the real tokens of the batch, the usual
next-token loss; the second divides each answer's summed NLL by a constant ``c`` (for
instance the longest allowed answer, as Dr. GRPO does for its policy loss) and averages
over the B answers, so every token weighs the same whatever the answers' lengths
(:func:`~ppo_grpo_lab.aggregation.masked_normalize` along the token dimension).

Worked example: log-probs [[log 0.5, log 0.25, 0]], mask [[1, 1, 0]] → NLL 0.693 and 1.386:
mean 1.040; with c = 4: (0.693 + 1.386) / 4 = 0.520.
"""
from __future__ import annotations

from torch import Tensor

from ._checks import as_bool_mask, as_tensor, check_finite, check_ndim, check_range, check_same_shape
from .aggregation import _masked_mean, _masked_normalize

__all__ = ["sft_loss"]


def _sft_loss(log_probs: Tensor, mask: Tensor, normalize_constant: float | None = None) -> Tensor:
    """Masked NLL, token mean or per-answer sum / c then batch mean; inputs already checked."""
    nll = -log_probs  # (B, L)
    if normalize_constant is None:
        return _masked_mean(nll, mask)
    return _masked_normalize(nll, mask, normalize_constant, dim=-1).mean()


def sft_loss(log_probs: Tensor, mask: Tensor, normalize_constant: float | None = None
             ) -> tuple[Tensor, dict[str, Tensor]]:
    """The SFT loss from the log-probabilities of the demonstration tokens.

    Args:
        log_probs: (Tensor, [B, L]) ``log π_θ(y_t | x, y_<t)`` of each target token, differentiable.
        mask: (bool or 0/1 Tensor, [B, L]) tokens that count (the answer, not the prompt or padding).
        normalize_constant: None for the mean over real tokens, or c > 0 to divide each answer's
            summed NLL by c before averaging over answers.

    Returns:
        ``(loss, stats)``: the 0-d loss and ``loss/sft`` (detached), ``stats/tokens`` (real tokens).
    """
    log_probs = as_tensor("log_probs", log_probs)
    check_ndim("log_probs", log_probs, 2, "[B, L]")
    mask = as_bool_mask("mask", as_tensor("mask", mask))
    check_same_shape("log_probs", log_probs, mask=mask)
    if normalize_constant is not None:
        check_range("normalize_constant", normalize_constant, 0.0, float("inf"), low_open=True, high_open=True)
    check_finite(log_probs=log_probs.masked_fill(~mask, 0.0))
    loss = _sft_loss(log_probs, mask, normalize_constant)
    return loss, {"loss/sft": loss.detach(), "stats/tokens": mask.sum().detach()}
