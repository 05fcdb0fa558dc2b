"""The students' policy and the father's critic on the exam: tables behind a one-hot input.

The observation is a one-hot student vector ``x`` [N, S], so a linear layer without bias
is exactly a lookup table:

.. math::

    \\pi_\\theta(a\\mid s) = \\operatorname{softmax}(x^\\top \\theta)_a,\\quad \\theta\\in\\mathbb R^{S\\times A},
    \\qquad V_\\psi(s) = x^\\top \\psi,\\quad \\psi \\in \\mathbb R^{S}.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .._checks import as_tensor, check_finite, check_ndim

__all__ = ["TabularSoftmaxPolicy", "TabularCritic"]


def _check_obs(obs, n: int) -> Tensor:
    obs = as_tensor("obs", obs)
    check_ndim("obs", obs, 2, f"[N, S] (one-hot students, S = {n})")
    if obs.shape[1] != n:
        raise ValueError(f"obs: expected S = {n} columns (one per student), got shape {tuple(obs.shape)}")
    return obs


class TabularSoftmaxPolicy(nn.Module):
    """π_θ(a|s) = softmax(θ[s]); θ is an [S, A] logit table.

    Args:
        n_students: S >= 1.
        n_actions: A >= 2.
        init_probs: (Tensor, [S, A] or None) start from these probabilities (θ = log p),
            e.g. the reference habits; None starts uniform (θ = 0).
    """

    def __init__(self, n_students: int, n_actions: int, init_probs: Tensor | None = None):
        super().__init__()
        if n_students < 1 or n_actions < 2:
            raise ValueError(f"n_students, n_actions: expected S >= 1 and A >= 2, got {n_students}, {n_actions}")
        if init_probs is None:
            theta = torch.zeros(n_students, n_actions)
        else:
            p = as_tensor("init_probs", init_probs).to(torch.float32)
            if tuple(p.shape) != (n_students, n_actions) or bool((p <= 0).any()):
                raise ValueError(f"init_probs: expected positive [S, A] = ({n_students}, {n_actions}), "
                                 f"got shape {tuple(p.shape)}")
            theta = p.log()
        self.logits = nn.Parameter(theta)  # θ, [S, A]

    def forward(self, obs: Tensor) -> Tensor:
        """Logits for a batch. Args: obs (Tensor, [N, S]) one-hot. Returns (Tensor, [N, A])."""
        obs = _check_obs(obs, self.logits.shape[0])
        return obs.to(self.logits.dtype) @ self.logits  # (N, S) @ (S, A) -> (N, A)

    def log_prob(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Log π_θ(a_i | s_i). Args: obs [N, S], actions (int Tensor, [N]). Returns (Tensor, [N])."""
        logp = torch.log_softmax(self(obs), dim=-1)  # (N, A)
        actions = as_tensor("actions", actions).long()
        if actions.shape != (obs.shape[0],):
            raise ValueError(f"actions: expected shape ({obs.shape[0]},), got {tuple(actions.shape)}")
        return logp.gather(1, actions[:, None].to(logp.device)).squeeze(1)

    def probs(self) -> Tensor:
        """The whole table π(a|s), (Tensor, [S, A]), detached."""
        return torch.softmax(self.logits.detach(), dim=-1)

    @torch.no_grad()
    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """a_i ∼ π_θ(·∣s_i) for each row. Returns (int64 Tensor, [N]) on the CPU."""
        p = torch.softmax(self(obs), dim=-1).cpu()
        check_finite(probs=p)
        return torch.multinomial(p, 1, generator=generator).squeeze(1)


class TabularCritic(nn.Module):
    """V_ψ(s) = ψ[s], the expected score line per student. Args: n_students S; init: start value."""

    def __init__(self, n_students: int, init: float = 0.0):
        super().__init__()
        if n_students < 1:
            raise ValueError(f"n_students: expected >= 1, got {n_students}")
        self.values = nn.Parameter(torch.full((n_students,), float(init)))  # ψ, [S]

    def forward(self, obs: Tensor) -> Tensor:
        """V_ψ(s_i). Args: obs (Tensor, [N, S]) one-hot. Returns (Tensor, [N])."""
        obs = _check_obs(obs, self.values.shape[0])
        return obs.to(self.values.dtype) @ self.values  # (N, S) @ (S,) -> (N,)
