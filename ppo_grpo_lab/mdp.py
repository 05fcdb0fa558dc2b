"""Finite MDPs solved exactly: policy evaluation, V, Q, A and value iteration.

A tabular model holds ``P[s, a, s']``, the probability of moving to ``s'`` and
*continuing*, and ``R[s, a]``, the expected reward. A row of ``P`` may sum to less than
one: the missing mass is the probability that the episode terminates after acting.
For a policy ``π[s, a]`` the values solve the Bellman equations

.. math::

    V^\\pi = R_\\pi + \\gamma P_\\pi V^\\pi
    \\;\\Longrightarrow\\;
    V^\\pi = (I - \\gamma P_\\pi)^{-1} R_\\pi,
    \\qquad Q^\\pi = R + \\gamma P V^\\pi,
    \\qquad A^\\pi = Q^\\pi - V^\\pi

with ``P_π[s, s'] = Σ_a π[s, a] P[s, a, s']`` and ``R_π[s] = Σ_a π[s, a] R[s, a]``.
The system is solvable for γ < 1, and also for γ = 1 when every episode ends.

Worked example: one state, one action, reward 1, continue with probability 0.5, γ = 1:
``V = 1 + 0.5 V`` so ``V = 2`` (an expected 2 steps, each paying 1).

Two implementations of policy evaluation: :func:`policy_evaluation_loop` (repeated
Bellman backups, a readable reference) and :func:`policy_evaluation` (one linear solve in
float64). Tests keep them equal. :func:`sample_rollout` draws time-major ``[T, N]``
rollouts from the model, the ground truth for Monte-Carlo checks.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import as_tensor, check_ndim, check_range

__all__ = [
    "TabularMDP", "PolicyValues", "TabularRollout", "q_from_v", "policy_evaluation",
    "policy_evaluation_loop", "value_iteration", "sample_rollout", "gather_values",
]

_TOL = 1e-9


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP with S states and A actions (all tensors float64).

    Fields:
        P: (Tensor, [S, A, S]) ``P[s, a, s']`` probability of moving to ``s'`` and continuing.
            Each row sums to at most 1; ``1 − Σ_{s'} P[s, a, s']`` is the termination probability.
        R: (Tensor, [S, A]) expected reward ``R[s, a] = E[r | s, a]``.
        mu0: (Tensor, [S]) initial-state distribution.
        reward_std: (Tensor, [S, A]) standard deviation of the (Gaussian) reward noise; zeros
            for deterministic rewards. Used only by :func:`sample_rollout`.
    """

    P: Tensor
    R: Tensor
    mu0: Tensor
    reward_std: Tensor | None = None

    def __post_init__(self):
        P = as_tensor("P", self.P).to(torch.float64)
        R = as_tensor("R", self.R).to(torch.float64)
        mu0 = as_tensor("mu0", self.mu0).to(torch.float64)
        check_ndim("P", P, 3, "[S, A, S]")
        S, A, S2 = P.shape
        if S2 != S:
            raise ValueError(f"P: expected shape [S, A, S] with equal state sizes, got {tuple(P.shape)}")
        if tuple(R.shape) != (S, A):
            raise ValueError(f"R: expected shape {(S, A)} to match P, got {tuple(R.shape)}")
        if tuple(mu0.shape) != (S,):
            raise ValueError(f"mu0: expected shape {(S,)}, got {tuple(mu0.shape)}")
        if bool((P < -_TOL).any()) or bool((P.sum(-1) > 1 + 1e-6).any()):
            raise ValueError("P: expected non-negative rows summing to at most 1 (missing mass = termination), "
                             f"got row sums up to {P.sum(-1).max().item():.6f} and minimum {P.min().item():.3g}")
        if bool((mu0 < -_TOL).any()) or abs(mu0.sum().item() - 1.0) > 1e-6:
            raise ValueError(f"mu0: expected a probability vector (sums to 1), got sum {mu0.sum().item():.6f}")
        std = torch.zeros_like(R) if self.reward_std is None else as_tensor("reward_std", self.reward_std).to(torch.float64)
        if tuple(std.shape) != (S, A) or bool((std < 0).any()):
            raise ValueError(f"reward_std: expected non-negative values of shape {(S, A)}, got {tuple(std.shape)}")
        for name, value in (("P", P), ("R", R), ("mu0", mu0), ("reward_std", std)):
            object.__setattr__(self, name, value)

    @property
    def n_states(self) -> int:
        """Number of states |S|."""
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        """Number of actions |A|."""
        return self.P.shape[1]

    @property
    def p_terminate(self) -> Tensor:
        """(Tensor, [S, A]) probability that acting ends the episode: ``1 − Σ_{s'} P[s, a, s']``."""
        return (1.0 - self.P.sum(-1)).clamp_min(0.0)

    def to(self, device) -> "TabularMDP":
        """A copy with every tensor on ``device``."""
        return TabularMDP(self.P.to(device), self.R.to(device), self.mu0.to(device), self.reward_std.to(device))


@dataclass(frozen=True)
class PolicyValues:
    """Exact values of a policy: ``V`` [S], ``Q`` [S, A] and ``A = Q − V`` [S, A] (float64)."""

    V: Tensor
    Q: Tensor
    A: Tensor


def _check_policy(mdp: TabularMDP, pi) -> Tensor:
    pi = as_tensor("pi", pi).to(torch.float64)
    if tuple(pi.shape) != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"pi: expected shape {(mdp.n_states, mdp.n_actions)} [S, A], got {tuple(pi.shape)}")
    if bool((pi < -_TOL).any()) or bool(((pi.sum(-1) - 1).abs() > 1e-6).any()):
        raise ValueError("pi: expected each row to be a probability distribution over actions (non-negative, sums to 1)")
    return pi.to(mdp.P.device)


def q_from_v(P: Tensor, R: Tensor, V: Tensor, gamma: float) -> Tensor:
    """One Bellman backup: ``Q[s, a] = R[s, a] + γ Σ_{s'} P[s, a, s'] V[s']``.

    Args:
        P: (Tensor, [S, A, S]) continuation probabilities.
        R: (Tensor, [S, A]) expected rewards.
        V: (Tensor, [S]) state values.
        gamma: discount γ in [0, 1].

    Returns:
        (Tensor, [S, A]) ``Q``.
    """
    P, R, V = as_tensor("P", P), as_tensor("R", R), as_tensor("V", V)
    check_ndim("P", P, 3, "[S, A, S]")
    check_range("gamma", gamma, 0.0, 1.0)
    S, A, _ = P.shape
    if tuple(R.shape) != (S, A) or tuple(V.shape) != (S,):
        raise ValueError(f"R, V: expected shapes {(S, A)} and {(S,)} to match P {tuple(P.shape)}, "
                         f"got {tuple(R.shape)} and {tuple(V.shape)}")
    return R + gamma * torch.einsum("ijk,k->ij", P, V.to(P.dtype))


def policy_evaluation(mdp: TabularMDP, pi: Tensor, gamma: float) -> PolicyValues:
    """Exact ``V^π``, ``Q^π``, ``A^π`` by solving ``(I − γ P_π) V = R_π`` in float64.

    Args:
        mdp: the model.
        pi: (Tensor, [S, A]) policy ``π(a|s)``; each row sums to 1.
        gamma: discount γ in [0, 1]; γ = 1 requires every episode to end.

    Returns:
        :class:`PolicyValues` with V [S], Q [S, A], A [S, A].
    """
    pi = _check_policy(mdp, pi)
    check_range("gamma", gamma, 0.0, 1.0)
    P_pi = torch.einsum("ia,iak->ik", pi, mdp.P)  # (S, S)
    R_pi = (pi * mdp.R).sum(-1)  # (S,)
    system = torch.eye(mdp.n_states, dtype=torch.float64, device=P_pi.device) - gamma * P_pi
    try:
        V = torch.linalg.solve(system, R_pi)
    except RuntimeError as exc:  # singular: with γ = 1 some episodes never end
        raise ValueError("policy_evaluation: expected I − γ P_π to be invertible (use γ < 1 or an MDP whose "
                         "episodes always end), got a singular system") from exc
    Q = q_from_v(mdp.P, mdp.R, V, gamma)
    return PolicyValues(V=V, Q=Q, A=Q - V[:, None])


def policy_evaluation_loop(mdp: TabularMDP, pi: Tensor, gamma: float, tol: float = 1e-12,
                           max_iter: int = 100_000) -> PolicyValues:
    """Reference policy evaluation: repeat ``V ← Σ_a π (R + γ P V)`` until it stops moving.

    Same arguments and result as :func:`policy_evaluation`; ``tol`` is the largest change
    in V allowed at convergence. Raises ValueError if ``max_iter`` sweeps do not converge.
    """
    pi = _check_policy(mdp, pi)
    check_range("gamma", gamma, 0.0, 1.0)
    V = torch.zeros(mdp.n_states, dtype=torch.float64, device=mdp.P.device)
    for _ in range(max_iter):
        Q = mdp.R + gamma * torch.einsum("ijk,k->ij", mdp.P, V)
        V_new = (pi * Q).sum(-1)
        if (V_new - V).abs().max().item() < tol:
            V = V_new
            break
        V = V_new
    else:
        raise ValueError(f"policy_evaluation_loop: expected convergence within max_iter={max_iter} sweeps; "
                         "raise max_iter or use γ < 1")
    Q = q_from_v(mdp.P, mdp.R, V, gamma)
    return PolicyValues(V=V, Q=Q, A=Q - V[:, None])


def value_iteration(mdp: TabularMDP, gamma: float, tol: float = 1e-12,
                    max_iter: int = 100_000) -> tuple[PolicyValues, Tensor]:
    """Optimal values by ``V ← max_a (R + γ P V)``.

    Returns:
        ``(values, pi_star)``: :class:`PolicyValues` of the optimum (``A* ≤ 0``) and a greedy
        deterministic policy ``pi_star`` (Tensor, [S, A]) one-hot rows.
    """
    check_range("gamma", gamma, 0.0, 1.0)
    V = torch.zeros(mdp.n_states, dtype=torch.float64, device=mdp.P.device)
    for _ in range(max_iter):
        V_new = q_from_v(mdp.P, mdp.R, V, gamma).max(-1).values
        done = (V_new - V).abs().max().item() < tol
        V = V_new
        if done:
            break
    else:
        raise ValueError(f"value_iteration: expected convergence within max_iter={max_iter} sweeps")
    Q = q_from_v(mdp.P, mdp.R, V, gamma)
    pi_star = torch.nn.functional.one_hot(Q.argmax(-1), mdp.n_actions).to(torch.float64)
    return PolicyValues(V=V, Q=Q, A=Q - V[:, None]), pi_star


@dataclass(frozen=True)
class TabularRollout:
    """A time-major rollout ``[T, N]`` sampled from a :class:`TabularMDP`.

    ``next_states`` is −1 where the step terminated (there is no next state); use
    :func:`gather_values` to read ``V(s_{t+1})`` with 0 there. After a terminated or truncated
    step the environment resets, so ``states[t + 1]`` is a fresh start.
    """

    states: Tensor       # (T, N) long
    actions: Tensor      # (T, N) long
    rewards: Tensor      # (T, N) float64
    next_states: Tensor  # (T, N) long, −1 after termination
    terminated: Tensor   # (T, N) bool
    truncated: Tensor    # (T, N) bool


def gather_values(V: Tensor, states: Tensor) -> Tensor:
    """``V[states]`` with 0 where ``states == −1`` (no next state after termination)."""
    V_ext = torch.cat([V, V.new_zeros(1)])
    return V_ext[states]


def sample_rollout(mdp: TabularMDP, pi: Tensor, n_envs: int, n_steps: int, generator: torch.Generator | None = None,
                   time_limit: int | None = None) -> TabularRollout:
    """Run ``n_envs`` copies of the model for ``n_steps`` steps under ``π`` (vectorised, auto-reset).

    Rewards are ``R[s, a] + reward_std[s, a] · ε`` with ε ~ N(0, 1). With ``time_limit = k`` an
    episode that reaches k steps without terminating is truncated (and reset).

    Returns:
        :class:`TabularRollout` of shape [n_steps, n_envs].
    """
    pi = _check_policy(mdp, pi)
    if n_envs < 1 or n_steps < 1:
        raise ValueError(f"n_envs, n_steps: expected positive integers, got {n_envs} and {n_steps}")
    if time_limit is not None and time_limit < 1:
        raise ValueError(f"time_limit: expected a positive integer or None, got {time_limit}")
    dev = mdp.P.device
    S = mdp.n_states
    # Next-state table with an extra last column "terminated": (S, A, S + 1).
    outcome = torch.cat([mdp.P, mdp.p_terminate[..., None]], dim=-1).clamp_min(0.0)
    T, N = n_steps, n_envs
    states = torch.empty(T, N, dtype=torch.long, device=dev)
    actions = torch.empty_like(states)
    next_states = torch.empty_like(states)
    rewards = torch.empty(T, N, dtype=torch.float64, device=dev)
    terminated = torch.empty(T, N, dtype=torch.bool, device=dev)
    truncated = torch.empty_like(terminated)
    s = torch.multinomial(mdp.mu0.expand(N, S), 1, generator=generator).squeeze(-1)
    age = torch.zeros(N, dtype=torch.long, device=dev)
    for t in range(T):
        a = torch.multinomial(pi[s], 1, generator=generator).squeeze(-1)
        noise = torch.randn(N, dtype=torch.float64, device=dev, generator=generator)
        nxt = torch.multinomial(outcome[s, a], 1, generator=generator).squeeze(-1)
        term = nxt == S
        age = age + 1
        trunc = ~term & (age >= time_limit) if time_limit is not None else torch.zeros_like(term)
        states[t], actions[t], rewards[t] = s, a, mdp.R[s, a] + mdp.reward_std[s, a] * noise
        next_states[t] = torch.where(term, torch.full_like(nxt, -1), nxt)
        terminated[t], truncated[t] = term, trunc
        reset = term | trunc
        fresh = torch.multinomial(mdp.mu0.expand(N, S), 1, generator=generator).squeeze(-1)
        s = torch.where(reset, fresh, nxt)
        age = torch.where(reset, torch.zeros_like(age), age)
    return TabularRollout(states, actions, rewards, next_states, terminated, truncated)
