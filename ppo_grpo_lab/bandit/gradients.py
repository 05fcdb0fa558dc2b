"""Sampled policy-gradient estimates on the exam, to compare with the exact gradient.

For a batch of N exams (s_i, a_i, r_i) and advantages A_i, the REINFORCE estimate is

.. math::

    \\hat g = \\frac1N \\sum_{i=1}^N A_i\\, \\nabla_\\theta \\log\\pi_\\theta(a_i\\mid s_i),
    \\qquad \\nabla_{\\theta[s]} \\log\\pi_\\theta(a\\mid s) = e_a - \\pi_\\theta(\\cdot\\mid s)

for a tabular softmax (the gradient is zero in the rows of other students). It is the
gradient of :func:`reinforce_loss` (tested equal to autograd). With A_i = r_i (chapter 1),
A_i = r_i − V(s_i) (chapter 2) or the group-relative A_i (chapter 5), its mean and spread
over many batches measure bias and variance against :func:`~.exact.exact_policy_gradient`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .._checks import as_tensor, check_choice, check_finite, check_same_shape
from .baselines import BASELINES, baseline_advantages

__all__ = ["reinforce_loss", "sample_exams", "gradient_estimates", "gradient_error"]


def reinforce_loss(log_probs: Tensor, advantages: Tensor) -> Tensor:
    """−mean(log π_θ(a_i|s_i) · A_i), whose gradient is −ĝ (A_i = r_i gives plain REINFORCE).

    Args:
        log_probs: (Tensor, [N]) differentiable.
        advantages: (Tensor, [N]) treated as constants (detached).

    Returns:
        A 0-d tensor. Example: log_probs = log [0.5, 0.25], A = [1, 2] → −(−0.693 − 2.773)/2 = 1.733.
    """
    log_probs = as_tensor("log_probs", log_probs)
    advantages = as_tensor("advantages", advantages)
    check_same_shape("log_probs", log_probs, advantages=advantages)
    check_finite(log_probs=log_probs, advantages=advantages)
    return -(log_probs * advantages.detach()).mean()


def sample_exams(probs, model, n_groups: int, group_size: int, rng: np.random.Generator):
    """Sample n_groups students, each sitting ``group_size`` exams with actions a ∼ π(·∣s).

    Args:
        probs: (Tensor or array, [S, A]) the policy table.
        rng: numpy Generator.

    Returns:
        ``(students, actions, rewards)``, numpy arrays [n_groups · group_size], group-major
        (the G exams of one student are consecutive).
    """
    p = np.asarray(torch.as_tensor(probs, dtype=torch.float64))
    s = np.repeat(rng.choice(model.n_students, size=n_groups, p=model.student_probs), group_size)
    u = rng.random(s.shape[0])[:, None]
    a = np.minimum((u > np.cumsum(p[s], axis=1)).sum(1), model.n_actions - 1)  # inverse-CDF sampling
    return s, a, model.sample_rewards(s, a, rng)


def gradient_estimates(logits, model, batch_size: int, n_batches: int, baseline: str = "none",
                       values=None, group_size: int = 1, group_scale: str = "none",
                       rng: np.random.Generator | None = None) -> Tensor:
    """n_batches independent estimates ĝ, each from ``batch_size`` exams.

    Args:
        logits: (Tensor, [S, A]) the policy's logit table θ.
        baseline: ``"none"`` (A = r), ``"critic"`` (A = r − values[s]) or ``"group"``
            (A = :func:`~ppo_grpo_lab.group.group_advantages` over groups of ``group_size``
            exams by the same student, with ``group_scale``); see :mod:`~ppo_grpo_lab.bandit.baselines`.
        values: (Tensor, [S]) the critic's V(s), required for ``"critic"``.
        group_size: G; ``batch_size`` must be a multiple of it.

    Returns:
        (Tensor, [n_batches, S, A], float64).
    """
    check_choice("baseline", baseline, BASELINES)
    theta = as_tensor("logits", logits).detach().to(torch.float64)
    S, A = model.n_students, model.n_actions
    if tuple(theta.shape) != (S, A):
        raise ValueError(f"logits: expected shape ({S}, {A}), got {tuple(theta.shape)}")
    G = group_size if baseline == "group" else 1
    if G < 1 or batch_size % G:
        raise ValueError(f"batch_size: expected a multiple of group_size = {G}, got {batch_size}")
    if baseline == "critic":
        if values is None:
            raise ValueError("values: expected a [S] tensor of V(s) for baseline='critic', got None")
        values = as_tensor("values", values).detach().to(torch.float64).reshape(-1)
        if values.shape != (S,):
            raise ValueError(f"values: expected shape ({S},), got {tuple(values.shape)}")
    rng = np.random.default_rng(0) if rng is None else rng
    probs = torch.softmax(theta, -1)
    s, a, r = sample_exams(probs, model, n_batches * batch_size // G, G, rng)
    s, a, r = (torch.as_tensor(x).view(n_batches, batch_size) for x in (s, a, r))
    r = r.to(torch.float64)
    adv = baseline_advantages(baseline, r, values[s] if baseline == "critic" else None, G, group_scale)
    # Σ_i A_i (e_{s_i} ⊗ (e_{a_i} − π(·∣s_i))) / N, built with scatter-adds into [n_batches, S, A].
    score = -probs[s] * adv[..., None]                      # (n_batches, N, A): −A_i π(·∣s_i)
    score.scatter_add_(2, a[..., None], adv[..., None])      # + A_i e_{a_i}
    g = torch.zeros(n_batches, S, A, dtype=torch.float64)
    g.scatter_add_(1, s[..., None].expand(-1, -1, A), score)  # route each row to its student
    return g / batch_size


def gradient_error(estimates: Tensor, exact: Tensor) -> dict[str, float]:
    """Bias and variance of estimates [M, S, A] around the exact gradient [S, A].

    Returns ``bias_sq`` = ‖mean ĝ − g‖², ``variance`` = E‖ĝ − mean ĝ‖², ``mse`` = E‖ĝ − g‖²
    (= bias_sq + variance) and ``rel_bias`` = ‖mean ĝ − g‖ / ‖g‖.
    """
    estimates = as_tensor("estimates", estimates).to(torch.float64)
    exact = as_tensor("exact", exact).to(torch.float64)
    if estimates.ndim != exact.ndim + 1 or estimates.shape[1:] != exact.shape:
        raise ValueError(f"estimates: expected shape [M, {', '.join(map(str, exact.shape))}], got {tuple(estimates.shape)}")
    mean = estimates.mean(0)
    flat = (estimates - mean).flatten(1)
    return {
        "bias_sq": float(((mean - exact) ** 2).sum()),
        "variance": float((flat ** 2).sum(1).mean()),
        "mse": float(((estimates - exact) ** 2).flatten(1).sum(1).mean()),
        "rel_bias": float((mean - exact).norm() / exact.norm()),
    }
