"""Per-sample estimators of KL(π_θ ‖ π_ref) from samples a ∼ π_θ (Schulman, 2020).

With the log-ratio :math:`\\log\\rho = \\log\\pi_\\text{ref}(a) - \\log\\pi_\\theta(a)`:

.. math::

    k_1 = -\\log\\rho, \\qquad
    k_2 = \\tfrac12(\\log\\rho)^2, \\qquad
    k_3 = \\rho - 1 - \\log\\rho

k1 is unbiased but noisy and can be negative; k2 is biased with low variance; k3 is
unbiased, never negative and low-variance (GRPO's choice). Averages over samples
estimate the KL; each function returns the per-sample values, no reduction.

Worked example: π_θ(a) = 0.5, π_ref(a) = 0.25 → ρ = 0.5, log ρ = −0.693:
k1 = 0.693, k2 = 0.240, k3 = 0.5 − 1 + 0.693 = 0.193.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import as_tensor, check_finite, check_same_shape

__all__ = ["kl_k1", "kl_k2", "kl_k3", "KL_ESTIMATORS"]


def check_kl_inputs(log_probs, ref_log_probs) -> tuple[Tensor, Tensor]:
    """Validate once: two tensors of one shape S, both finite. Returns them as tensors."""
    log_probs = as_tensor("log_probs", log_probs)
    ref_log_probs = as_tensor("ref_log_probs", ref_log_probs)
    check_same_shape("log_probs", log_probs, ref_log_probs=ref_log_probs)
    check_finite(log_probs=log_probs, ref_log_probs=ref_log_probs)
    return log_probs, ref_log_probs


def _kl_k1(log_probs: Tensor, ref_log_probs: Tensor) -> Tensor:
    """k1 = −log ρ, with log ρ = log π_ref − log π_θ (no checks)."""
    return log_probs - ref_log_probs


def _kl_k2(log_probs: Tensor, ref_log_probs: Tensor) -> Tensor:
    """k2 = ½ (log ρ)² (no checks)."""
    return 0.5 * (ref_log_probs - log_probs) ** 2


def _kl_k3(log_probs: Tensor, ref_log_probs: Tensor) -> Tensor:
    """k3 = ρ − 1 − log ρ, written expm1(log ρ) − log ρ for accuracy near ρ = 1 (no checks)."""
    log_rho = ref_log_probs - log_probs
    return torch.expm1(log_rho) - log_rho


def kl_k1(log_probs: Tensor, ref_log_probs: Tensor) -> Tensor:
    """k1 = −log ρ. Args: log_probs, ref_log_probs: (Tensor, S) at samples a ∼ π_θ. Returns (Tensor, S)."""
    return _kl_k1(*check_kl_inputs(log_probs, ref_log_probs))


def kl_k2(log_probs: Tensor, ref_log_probs: Tensor) -> Tensor:
    """k2 = ½ (log ρ)². Args: log_probs, ref_log_probs: (Tensor, S). Returns (Tensor, S)."""
    return _kl_k2(*check_kl_inputs(log_probs, ref_log_probs))


def kl_k3(log_probs: Tensor, ref_log_probs: Tensor) -> Tensor:
    """k3 = ρ − 1 − log ρ ≥ 0. Args: log_probs, ref_log_probs: (Tensor, S). Returns (Tensor, S)."""
    return _kl_k3(*check_kl_inputs(log_probs, ref_log_probs))


KL_ESTIMATORS = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}
_KL_KERNELS = {"k1": _kl_k1, "k2": _kl_k2, "k3": _kl_k3}  # the same estimators, unchecked
