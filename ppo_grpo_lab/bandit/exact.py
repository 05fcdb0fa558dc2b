"""Exact quantities of a tabular softmax policy on the exam (no sampling).

For a policy with a logit table θ[s, a] and π(a | s) = softmax(θ[s])_a, and the exam's
tables p(s) and μ(s, a) (:class:`~ppo_grpo_lab.envs.exam_bandit.ExamModel`):

.. math::

    J(\\theta) = \\sum_s p(s) \\sum_a \\pi(a\\mid s)\\,\\mu(s, a), \\qquad
    V^\\pi(s) = \\sum_a \\pi(a\\mid s)\\,\\mu(s, a),

    \\frac{\\partial J}{\\partial \\theta[s, a]} = p(s)\\,\\pi(a\\mid s)\\,\\big(\\mu(s, a) - V^\\pi(s)\\big),

    D_\\text{KL}(\\pi \\,\\|\\, \\pi_\\text{ref})(s) = \\sum_a \\pi(a\\mid s) \\log\\frac{\\pi(a\\mid s)}{\\pi_\\text{ref}(a\\mid s)},

    \\pi^*_\\beta(a\\mid s) \\propto \\pi_\\text{ref}(a\\mid s)\\, e^{\\mu(s, a)/\\beta}
    \\quad\\text{(the maximiser of } J - \\beta\\,\\mathbb E_s D_\\text{KL}).

Worked example: one student, μ = [0.2, 0.6], uniform π → V = 0.4 and
∂J/∂θ = [0.5·(0.2 − 0.4), 0.5·(0.6 − 0.4)] = [−0.1, 0.1].
"""
from __future__ import annotations

import torch
from torch import Tensor

from .._checks import as_tensor, check_finite, check_range

__all__ = ["model_tensors", "expected_reward", "state_values", "exact_policy_gradient", "exact_kl",
           "optimal_reward", "kl_regularized_optimum", "regularized_objective"]


def model_tensors(model, dtype=torch.float64) -> dict[str, Tensor]:
    """The model's tables as tensors: ``student_probs`` [S], ``mean`` [S, A], ``std`` [S, A], ``reference_probs`` [S, A]."""
    return {k: torch.as_tensor(getattr(model, k), dtype=dtype)
            for k in ("student_probs", "mean", "std", "reference_probs")}


def _check_probs(name: str, probs, model) -> Tensor:
    probs = as_tensor(name, probs).to(torch.float64)
    shape = (model.n_students, model.n_actions)
    if tuple(probs.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape} [S, A], got {tuple(probs.shape)}")
    check_finite(**{name: probs})
    if bool((probs < 0).any()) or bool(((probs.sum(-1) - 1).abs() > 1e-6).any()):
        raise ValueError(f"{name}: expected non-negative rows summing to 1, got row sums {probs.sum(-1).tolist()}")
    return probs


def state_values(probs, model) -> Tensor:
    """V^π(s) = Σ_a π(a|s) μ(s, a). Args: probs (Tensor, [S, A]). Returns (Tensor, [S])."""
    probs = _check_probs("probs", probs, model)
    return (probs * model_tensors(model)["mean"]).sum(-1)


def expected_reward(probs, model) -> Tensor:
    """J = Σ_s p(s) V^π(s). Args: probs (Tensor, [S, A]). Returns a 0-d tensor."""
    return (model_tensors(model)["student_probs"] * state_values(probs, model)).sum()


def exact_policy_gradient(logits, model) -> Tensor:
    """∂J/∂θ[s, a] = p(s) π(a|s) (μ(s, a) − V^π(s)) for π = softmax(logits).

    Args:
        logits: (Tensor, [S, A]) the logit table θ.

    Returns:
        (Tensor, [S, A], float64).
    """
    logits = as_tensor("logits", logits).detach().to(torch.float64)
    probs = torch.softmax(logits, dim=-1)
    probs = _check_probs("softmax(logits)", probs, model)
    t = model_tensors(model)
    v = (probs * t["mean"]).sum(-1, keepdim=True)
    return t["student_probs"][:, None] * probs * (t["mean"] - v)


def exact_kl(probs, ref_probs, model=None) -> Tensor:
    """KL(π ‖ π_ref) per student, or its p(s)-average when ``model`` is given.

    Args:
        probs, ref_probs: (Tensor, [S, A]) rows sum to 1; ref_probs > 0 where probs > 0.

    Returns:
        (Tensor, [S]) without a model; a 0-d tensor with one.
    """
    probs = as_tensor("probs", probs).to(torch.float64)
    ref_probs = as_tensor("ref_probs", ref_probs).to(torch.float64)
    if probs.shape != ref_probs.shape or probs.ndim != 2:
        raise ValueError(f"ref_probs: expected shape {tuple(probs.shape)} [S, A] like probs, got {tuple(ref_probs.shape)}")
    if bool(((ref_probs == 0) & (probs > 0)).any()):
        raise ValueError("ref_probs: expected > 0 wherever probs > 0 (else the KL is infinite)")
    safe = torch.where(probs > 0, probs, torch.ones_like(probs))
    per_state = (probs * (safe.log() - torch.where(probs > 0, ref_probs, torch.ones_like(ref_probs)).log())).sum(-1)
    if model is None:
        return per_state
    return (model_tensors(model)["student_probs"] * per_state).sum()


def optimal_reward(model, exclude: tuple[str, ...] = ()) -> float:
    """max_π J = Σ_s p(s) max_a μ(s, a), optionally over the actions not named in ``exclude``."""
    t = model_tensors(model)
    keep = [i for i, a in enumerate(model.actions) if a not in exclude]
    if not keep:
        raise ValueError(f"exclude: expected to leave at least one action of {model.actions}, got {exclude}")
    return float((t["student_probs"] * t["mean"][:, keep].max(-1).values).sum())


def kl_regularized_optimum(model, beta: float) -> Tensor:
    """π*_β(a|s) ∝ π_ref(a|s) exp(μ(s, a)/β), the maximiser of J − β E_s KL(π ‖ π_ref). Returns [S, A]."""
    check_range("beta", beta, 0.0, float("inf"), low_open=True)
    t = model_tensors(model)
    return torch.softmax(t["reference_probs"].log() + t["mean"] / beta, dim=-1)


def regularized_objective(probs, model, beta: float) -> Tensor:
    """J(π) − β Σ_s p(s) KL(π(·∣s) ‖ π_ref(·∣s)), a 0-d tensor."""
    check_range("beta", beta, 0.0, float("inf"))
    probs = _check_probs("probs", probs, model)
    return expected_reward(probs, model) - beta * exact_kl(probs, model_tensors(model)["reference_probs"], model)
