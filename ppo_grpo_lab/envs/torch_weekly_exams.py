"""WeeklyExams for thousands of students at once, sampled on torch from the exact tables.

:class:`ppo_grpo_lab.envs.weekly_exams.WeeklyExams` knows its own exact model
(``P[S, A, S']``, ``R[S, A]``, ``mu0[S]``, reward noise σ). This env *samples from that
model*: every step draws, for all ``N`` students at once,

    r ~ R[s, a] + σ[s, a] · ε,  ε ~ N(0, 1)
    s' ~ P[s, a, ·]             (or "graduated" when the semester ends)

so the distribution of everything it produces is the Gymnasium env's, by construction, and
the test suite checks it against the Gymnasium env's statistics.

Sampling ``s'`` uses a compact table: a (state, action) pair has at most ``M`` (= 6)
possible next states, stored as indices ``nxt[s, a, :M]`` with cumulative probabilities
``cdf[s, a, :M]``; one uniform ``u`` per student picks ``j = #{m : cdf[s, a, m] ≤ u}``.
The last week's rows of ``P`` are empty (termination). For ``info["final_obs"]`` the env
still needs *where the student ends up* (new skill and fatigue, week fraction 1, as the
Gymnasium env reports); those outcomes come from the env's own rule table
(:func:`ppo_grpo_lab.envs.weekly_exams.outcomes`) and lead to ``K·F`` extra "graduated"
states that are never acted in.

Seeding, reset, the time limit, SAME_STEP autoreset and ``state_dict`` come from
:class:`~ppo_grpo_lab.envs.torch_vector.TorchVectorEnv`, as for :class:`ppo_grpo_lab.envs.torch_cartpole.TorchCartPoleVectorEnv`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .torch_vector import TorchVectorEnv
from .weekly_exams import FATIGUE_LEVELS, SKILL_LEVELS, WeeklyExams, outcomes

__all__ = ["TorchWeeklyExamsVectorEnv"]


def _compact_tables(env: WeeklyExams) -> tuple[Tensor, Tensor, Tensor]:
    """Next-state indices ``nxt`` [S, A, M], cumulative probabilities ``cdf`` [S, A, M], and
    the observations ``obs`` [S + K·F, D] including the graduated states (week fraction 1).
    """
    model = env.tabular_model()
    P = model.mdp.P  # [S, A, S]
    S, A = P.shape[:2]
    grad_base = S  # graduated state of (skill k, fatigue f): S + f·K + k
    rows: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for s in range(S):
        for a in range(A):
            if bool(model.terminal[s]):  # semester ends: where does the student end up?
                k, f = int(model.skill[s]), int(model.fatigue[s])
                rows[s, a] = [(p, grad_base + f2 * SKILL_LEVELS + k2) for p, k2, f2 in outcomes(k, f, a)]
            else:
                idx = torch.nonzero(P[s, a] > 0).flatten().tolist()
                rows[s, a] = [(float(P[s, a, j]), j) for j in idx]
    M = max(len(r) for r in rows.values())
    nxt = torch.zeros(S, A, M, dtype=torch.long)
    cdf = torch.ones(S, A, M, dtype=torch.float64)
    for (s, a), row in rows.items():
        total = sum(p for p, _ in row)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"WeeklyExams model: outcomes of (s={s}, a={a}) sum to {total}, expected 1")
        probs = torch.tensor([p for p, _ in row], dtype=torch.float64) / total
        nxt[s, a, :len(row)] = torch.tensor([j for _, j in row])
        nxt[s, a, len(row):] = row[-1][1]  # padding never chosen (cdf is 1 there)
        cdf[s, a, :len(row)] = probs.cumsum(0)
        cdf[s, a, len(row) - 1:] = 1.0  # exact 1 so that u < 1 never runs past the end
    grad_obs = [env.observation(k, f, env.n_weeks) for f in range(FATIGUE_LEVELS) for k in range(SKILL_LEVELS)]
    obs = torch.cat([model.obs, torch.from_numpy(np.stack(grad_obs))])
    return nxt, cdf, obs


class TorchWeeklyExamsVectorEnv(TorchVectorEnv):
    """``num_envs`` WeeklyExams semesters stepped together on ``device``.

    Args:
        num_envs: N, number of students.
        n_weeks: W, weeks per semester (as in ``WeeklyExams``; default 8).
        reward_noise: σ, standard deviation of the exam-score noise (default 0.1).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or a ``torch.device``.
        max_episode_steps: optional time limit (truncation, as Gymnasium's ``TimeLimit``);
            ``None`` lets every semester run to its end.
        seed: seed of the ``torch.Generator`` (``reset(seed=...)`` reseeds it).

    Observation: (Tensor, [N, 10] float32), one-hot skill (5), one-hot fatigue (4), week fraction.
    Action: (Tensor, [N]) integers in {0: class, 1: self-study, 2: rest, 3: cram}.

    ``step`` returns ``(obs [N, 10], reward [N] float32, terminated [N] bool, truncated [N] bool,
    info)`` with ``info["final_obs"]`` ([N, 10]: the true next observation, also for envs that
    did not end), ``info["_final_obs"]`` ([N] bool: which envs ended), ``info["state"]`` ([N]
    long: tabular state of the returned obs, to index exact values ``V[state]``) and
    ``info["final_state"]`` ([N] long: tabular next state, −1 after termination).
    """

    def __init__(self, num_envs: int, n_weeks: int = 8, reward_noise: float = 0.1,
                 device: str | torch.device = "auto", max_episode_steps: int | None = None,
                 seed: int | None = None):
        self.gym_env = WeeklyExams(n_weeks=n_weeks, reward_noise=reward_noise)  # validates both
        super().__init__(num_envs, self.gym_env.observation_space, self.gym_env.action_space, device,
                         max_episode_steps, seed)
        self.model = self.gym_env.tabular_model()
        nxt, cdf, obs = _compact_tables(self.gym_env)
        mdp = self.model.mdp
        self.n_states = mdp.n_states
        self._nxt, self._cdf, self._obs = nxt.to(self.device), cdf.to(self.device), obs.to(self.device)
        self._R, self._std = mdp.R.to(self.device), mdp.reward_std.to(self.device)  # [S, A]
        self._mu0 = mdp.mu0.to(self.device)
        self.state = torch.zeros(num_envs, dtype=torch.long, device=self.device)  # s, [N]

    def _initial_states(self) -> Tensor:
        """s_0 ~ mu0 for every env, [N] long."""
        return torch.multinomial(self._mu0, self.num_envs, replacement=True, generator=self.generator)

    def _observe(self, state: Tensor) -> Tensor:
        return self._obs[state]

    def _reset_info(self) -> dict[str, Tensor]:
        return {"state": self.state.clone()}

    def _transition(self, a: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """One week for every student: r ~ N(R[s,a], σ²), s' by inverse CDF (see the module docstring)."""
        a = a.long()
        s = self.state
        g = self.generator
        eps = torch.randn(self.num_envs, dtype=torch.float64, device=self.device, generator=g)
        reward = (self._R[s, a] + self._std[s, a] * eps).to(torch.float32)  # r ~ N(R[s,a], σ²)
        u = torch.rand(self.num_envs, 1, dtype=torch.float64, device=self.device, generator=g)
        j = (self._cdf[s, a] <= u).sum(-1, keepdim=True)  # inverse-CDF pick, [N, 1]
        s_next = self._nxt[s, a].gather(1, j).squeeze(1)  # [N], index into states + graduated
        terminated = s_next >= self.n_states
        final_state = torch.where(terminated, -1, s_next)
        return s_next, reward, terminated, self._obs[s_next], {"final_state": final_state}

    def step(self, actions) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """One week for every student (returns: see the class docstring)."""
        out = super().step(actions)
        out[4]["state"] = self.state.clone()
        return out

    def __repr__(self) -> str:
        return (f"TorchWeeklyExamsVectorEnv(num_envs={self.num_envs}, n_weeks={self.gym_env.n_weeks}, "
                f"device={str(self.device)!r}, max_episode_steps={self.max_episode_steps})")
