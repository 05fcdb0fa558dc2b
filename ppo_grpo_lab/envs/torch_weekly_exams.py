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

Same vector API and SAME_STEP autoreset as :class:`ppo_grpo_lab.envs.torch_cartpole.TorchCartPoleVectorEnv`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from torch import Tensor

from ..device import resolve_device
from .weekly_exams import ACTIONS, FATIGUE_LEVELS, SKILL_LEVELS, WeeklyExams, outcomes

__all__ = ["TorchWeeklyExamsVectorEnv"]


def _compact_tables(env: WeeklyExams) -> tuple[Tensor, Tensor, Tensor]:
    """Next-state indices ``nxt`` [S, A, M], cumulative probabilities ``cdf`` [S, A, M], and
    the observations ``obs`` [S + K·F, D] including the graduated states (week fraction 1)."""
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


class TorchWeeklyExamsVectorEnv(VectorEnv):
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

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int, n_weeks: int = 8, reward_noise: float = 0.1,
                 device: str | torch.device = "auto", max_episode_steps: int | None = None,
                 seed: int | None = None):
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs: expected a positive int, got {num_envs!r}")
        if max_episode_steps is not None and (not isinstance(max_episode_steps, int) or max_episode_steps < 1):
            raise ValueError(f"max_episode_steps: expected a positive int or None, got {max_episode_steps!r}")
        self.gym_env = WeeklyExams(n_weeks=n_weeks, reward_noise=reward_noise)  # validates both
        self.model = self.gym_env.tabular_model()
        self.num_envs, self.max_episode_steps = num_envs, max_episode_steps
        self.device = resolve_device(device)
        nxt, cdf, obs = _compact_tables(self.gym_env)
        mdp = self.model.mdp
        self.n_states = mdp.n_states
        self._nxt, self._cdf, self._obs = nxt.to(self.device), cdf.to(self.device), obs.to(self.device)
        self._R, self._std = mdp.R.to(self.device), mdp.reward_std.to(self.device)  # [S, A]
        self._mu0 = mdp.mu0.to(self.device)
        self.single_observation_space = self.gym_env.observation_space
        self.single_action_space = self.gym_env.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.generator = torch.Generator(device=self.device)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> 1)
        self._seed(seed)
        self.state = torch.zeros(num_envs, dtype=torch.long, device=self.device)  # s, [N]
        self.elapsed = torch.zeros(num_envs, dtype=torch.long, device=self.device)  # [N]
        self._needs_reset = True

    def _seed(self, seed) -> None:
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected a non-negative int or None, got {seed!r}")
        self.generator.manual_seed(int(seed))

    def _initial_states(self) -> Tensor:
        """s_0 ~ mu0 for every env, [N] long."""
        return torch.multinomial(self._mu0, self.num_envs, replacement=True, generator=self.generator)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Tensor, dict]:
        """Start a new semester everywhere. Returns ``(obs [N, 10], {"state": [N]})``."""
        if seed is not None:
            self._seed(seed)
        if options:
            raise ValueError(f"options: TorchWeeklyExamsVectorEnv accepts no options, got {options!r}")
        self.state = self._initial_states()
        self.elapsed.zero_()
        self._needs_reset = False
        return self._obs[self.state], {"state": self.state.clone()}

    def step(self, actions) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """One week for every student (returns: see the class docstring)."""
        if self._needs_reset:
            raise RuntimeError("step() called before reset(); call env.reset(seed=...) first")
        a = actions if isinstance(actions, Tensor) else torch.as_tensor(np.asarray(actions))
        if a.shape != (self.num_envs,) or torch.is_floating_point(a):
            raise ValueError(f"actions: expected an integer tensor of shape ({self.num_envs},) with values in "
                             f"[0, {len(ACTIONS) - 1}], got shape {tuple(a.shape)} dtype {a.dtype}")
        a = a.to(self.device, torch.long, non_blocking=True)
        s = self.state
        g = self.generator
        eps = torch.randn(self.num_envs, dtype=torch.float64, device=self.device, generator=g)
        reward = (self._R[s, a] + self._std[s, a] * eps).to(torch.float32)  # r ~ N(R[s,a], σ²)
        u = torch.rand(self.num_envs, 1, dtype=torch.float64, device=self.device, generator=g)
        j = (self._cdf[s, a] <= u).sum(-1, keepdim=True)  # inverse-CDF pick, [N, 1]
        s_next = self._nxt[s, a].gather(1, j).squeeze(1)  # [N], index into states + graduated
        terminated = s_next >= self.n_states
        self.elapsed += 1
        if self.max_episode_steps is None:
            truncated = torch.zeros_like(terminated)
        else:
            truncated = self.elapsed >= self.max_episode_steps
        done = terminated | truncated
        final_obs = self._obs[s_next]
        final_state = torch.where(terminated, -1, s_next)
        self.state = torch.where(done, self._initial_states(), s_next)
        self.elapsed.masked_fill_(done, 0)
        info = {"final_obs": final_obs, "_final_obs": done, "state": self.state.clone(),
                "final_state": final_state}
        return self._obs[self.state], reward, terminated, truncated, info

    def __repr__(self) -> str:
        return (f"TorchWeeklyExamsVectorEnv(num_envs={self.num_envs}, n_weeks={self.gym_env.n_weeks}, "
                f"device={str(self.device)!r}, max_episode_steps={self.max_episode_steps})")
