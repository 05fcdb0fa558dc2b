"""WeeklyExams: a semester of weekly tests, small enough to solve exactly.

Every week the student picks a study plan; the exam at the end of the week pays its
score as the reward. Cramming all night raises this week's score but leaves the student
tired, and fatigue lowers later scores and slows learning. The semester ends
(termination) after the last week. Because the state space is tiny (skill × fatigue × week),
:meth:`WeeklyExams.tabular_model` gives the exact transition and reward tables, and
:mod:`ppo_grpo_lab.mdp` turns any policy into its exact ``V``, ``Q`` and ``A``.
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from ..mdp import TabularMDP

__all__ = ["WeeklyExams", "WeeklyExamsModel", "ACTIONS", "SKILL_LEVELS", "FATIGUE_LEVELS", "student_policy"]

ACTIONS = ("class", "self_study", "rest", "cram")
SKILL_LEVELS = 5    # skill k in {0, ..., 4}
FATIGUE_LEVELS = 4  # fatigue f in {0, ..., 3}

# Per action: score bonus this week, chance to learn (before fatigue), chance to forget,
# and the fatigue change as a list of (probability, delta).
_RULES = {
    "class":      dict(bonus=0.00, learn=0.70, forget=0.0, fatigue=[(0.7, 0), (0.3, +1)]),
    "self_study": dict(bonus=0.00, learn=0.30, forget=0.0, fatigue=[(1.0, 0)]),
    "rest":       dict(bonus=-0.05, learn=0.00, forget=0.1, fatigue=[(1.0, -2)]),
    "cram":       dict(bonus=+0.25, learn=0.20, forget=0.0, fatigue=[(1.0, +2)]),
}
_BASE, _PER_SKILL, _PER_FATIGUE = 0.35, 0.10, 0.08


def expected_score(skill: int, fatigue: int, action: int) -> float:
    """Mean exam score ``0.35 + 0.10·k − 0.08·f + bonus(a)``, in [0, 1] (1 = full marks)."""
    return _BASE + _PER_SKILL * skill - _PER_FATIGUE * fatigue + _RULES[ACTIONS[action]]["bonus"]


def outcomes(skill: int, fatigue: int, action: int) -> list[tuple[float, int, int]]:
    """Every ``(probability, next_skill, next_fatigue)`` after one week of ``action``.

    Skill rises by one with probability ``learn · (1 − f/4)`` (tired students learn less),
    falls by one with probability ``forget``; both clipped to the valid range.
    """
    rule = _RULES[ACTIONS[action]]
    p_up = rule["learn"] * (1.0 - fatigue / FATIGUE_LEVELS)
    p_down = rule["forget"]
    skill_moves = [(p_up, +1), (p_down, -1), (1.0 - p_up - p_down, 0)]
    out: dict[tuple[int, int], float] = {}
    for p_s, ds in skill_moves:
        for p_f, df in rule["fatigue"]:
            if p_s * p_f == 0.0:
                continue
            key = (min(max(skill + ds, 0), SKILL_LEVELS - 1), min(max(fatigue + df, 0), FATIGUE_LEVELS - 1))
            out[key] = out.get(key, 0.0) + p_s * p_f
    return [(p, k, f) for (k, f), p in out.items()]


@dataclass(frozen=True)
class WeeklyExamsModel:
    """The exact tables of :class:`WeeklyExams` (numpy-free: torch float64 / long tensors).

    Fields:
        mdp: :class:`ppo_grpo_lab.mdp.TabularMDP` with ``P`` [S, A, S], ``R`` [S, A], ``mu0`` [S],
            ``reward_std`` [S, A]. Rows of ``P`` for last-week states are all zero (termination).
        obs: (Tensor, [S, D] float32) the observation the env emits in each state.
            The final observation after the last week is ``obs[s']`` of the last-week state with
            the new skill and fatigue, with its last entry (week fraction) set to 1.0.
        skill, fatigue, week: (Tensor, [S] long) the decoded state components.
        terminal: (Tensor, [S] bool) acting in this state ends the semester (last week).
        n_weeks: number of weeks W.
    """

    mdp: TabularMDP
    obs: torch.Tensor
    skill: torch.Tensor
    fatigue: torch.Tensor
    week: torch.Tensor
    terminal: torch.Tensor
    n_weeks: int

    def grid(self, values: torch.Tensor) -> torch.Tensor:
        """Reshape a per-state tensor [S, ...] to [W, F, K, ...] (week, fatigue, skill) for plots."""
        return values.reshape(self.n_weeks, FATIGUE_LEVELS, SKILL_LEVELS, *values.shape[1:])


class WeeklyExams(gym.Env):
    """A semester of weekly exams with a study plan to choose every week.

    ## Description
    The student has a skill level k ∈ {0..4} and a fatigue level f ∈ {0..3}. Each week t they
    choose a plan; the exam at the end of the week pays its score; skill and fatigue then change.
    Cramming all night pays now and costs later through fatigue. Small enough for exact
    dynamic programming: ``5 · 4 · n_weeks`` states (160 for the default 8 weeks).

    ## Action Space
    ``Discrete(4)``: 0 tutoring class (learn 0.7, fatigue +1 with probability 0.3),
    1 self-study (learn 0.3), 2 rest (score −0.05, fatigue −2, forget with probability 0.1),
    3 all-night cramming (score +0.25, learn 0.2, fatigue +2). The learning chance is scaled by
    ``1 − f/4``.

    ## Observation Space
    ``Box(0, 1, (10,), float32)``: one-hot skill (5), one-hot fatigue (4), and the week fraction
    ``t / n_weeks``. The final observation after the last week has week fraction 1.
    ``info["state"]`` and :meth:`state_index` give the tabular state index.

    ## Rewards
    The exam score ``0.35 + 0.10·k − 0.08·f + bonus(a) + σ·ε`` with ε ~ N(0, 1) (σ =
    ``reward_noise``, default 0.1). The mean lies in [0, 1]; the noise is not clipped, so
    the expected reward is exactly ``R[s, a]`` of :meth:`tabular_model`.

    ## Starting State
    Skill uniform in {0, 1, 2}, fatigue 0, week 0.

    ## Episode End
    Termination after the exam of the last week (``n_weeks`` steps). For a time limit that
    truncates earlier use ``gym.make("ppo_grpo_lab/WeeklyExams-v0", max_episode_steps=k)``
    (Gymnasium's ``TimeLimit``): the semester goes on, only the data collection stops.

    ## Arguments
    ``n_weeks`` (W ≥ 1, default 8), ``reward_noise`` (σ ≥ 0, default 0.1), ``render_mode`` (None or "ansi").

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, n_weeks: int = 8, reward_noise: float = 0.1, render_mode: str | None = None):
        if not isinstance(n_weeks, (int, np.integer)) or n_weeks < 1:
            raise ValueError(f"n_weeks: expected an integer >= 1, got {n_weeks!r}")
        if reward_noise < 0:
            raise ValueError(f"reward_noise: expected a value >= 0, got {reward_noise}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode: expected None or 'ansi', got {render_mode!r}")
        self.n_weeks, self.reward_noise, self.render_mode = int(n_weeks), float(reward_noise), render_mode
        self.action_space = spaces.Discrete(len(ACTIONS))
        self.observation_space = spaces.Box(0.0, 1.0, (SKILL_LEVELS + FATIGUE_LEVELS + 1,), np.float32)
        self.n_states = SKILL_LEVELS * FATIGUE_LEVELS * self.n_weeks
        self._skill = self._fatigue = self._week = 0
        self._model: WeeklyExamsModel | None = None

    # -- state encoding -------------------------------------------------------------------
    def encode(self, skill: int, fatigue: int, week: int) -> int:
        """State index ``(week · F + fatigue) · K + skill``."""
        return (week * FATIGUE_LEVELS + fatigue) * SKILL_LEVELS + skill

    def state_index(self) -> int:
        """Index of the current state in the tabular model.

        After the semester has ended there is no next state; the index is then that of the
        last-week state with the current skill and fatigue (also what ``info["state"]`` holds).
        """
        return self.encode(self._skill, self._fatigue, min(self._week, self.n_weeks - 1))

    def observation(self, skill: int, fatigue: int, week: int) -> np.ndarray:
        """The observation vector for a state (week may equal ``n_weeks``: the final one)."""
        obs = np.zeros(self.observation_space.shape, np.float32)
        obs[skill] = 1.0
        obs[SKILL_LEVELS + fatigue] = 1.0
        obs[-1] = week / self.n_weeks
        return obs

    def _obs_info(self):
        info = {"state": self.state_index(), "skill": self._skill, "fatigue": self._fatigue, "week": self._week}
        return self.observation(self._skill, self._fatigue, self._week), info

    # -- Gymnasium API --------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start a semester: week 0, a fresh skill and fatigue; returns ``(observation, info)``."""
        super().reset(seed=seed)
        self._skill = int(self.np_random.integers(0, 3))
        self._fatigue, self._week = 0, 0
        return self._obs_info()

    def step(self, action):
        """One week: apply the action, sit the exam; returns ``(obs, reward, terminated, truncated, info)``."""
        if not self.action_space.contains(action):
            raise ValueError(f"action: expected an integer in [0, {len(ACTIONS) - 1}], got {action!r}")
        if self._week >= self.n_weeks:
            raise RuntimeError("step() called after the semester ended; call reset()")
        a = int(action)
        reward = expected_score(self._skill, self._fatigue, a) + self.reward_noise * float(self.np_random.normal())
        rule = _RULES[ACTIONS[a]]
        # Readable rules (tabular_model enumerates the same ones): learn, forget, fatigue change.
        p_up = rule["learn"] * (1.0 - self._fatigue / FATIGUE_LEVELS)
        u = float(self.np_random.random())
        ds = +1 if u < p_up else (-1 if u < p_up + rule["forget"] else 0)
        probs = [p for p, _ in rule["fatigue"]]
        df = rule["fatigue"][int(self.np_random.choice(len(probs), p=probs))][1]
        self._skill = min(max(self._skill + ds, 0), SKILL_LEVELS - 1)
        self._fatigue = min(max(self._fatigue + df, 0), FATIGUE_LEVELS - 1)
        self._week += 1
        terminated = self._week >= self.n_weeks
        obs, info = self._obs_info()
        return obs, float(reward), terminated, False, info

    def render(self):
        """The current week as text (``render_mode="ansi"``), else ``None``."""
        if self.render_mode == "ansi":
            return f"week {self._week}/{self.n_weeks}  skill {self._skill}  fatigue {self._fatigue}"
        return None

    # -- exact model ----------------------------------------------------------------------
    def tabular_model(self) -> WeeklyExamsModel:
        """Exact tables ``P[S, A, S]``, ``R[S, A]``, ``mu0[S]`` and the observation of every state."""
        if self._model is None:
            self._model = _build_model(self)
        return self._model


def _build_model(env: WeeklyExams) -> WeeklyExamsModel:
    S, A, W = env.n_states, len(ACTIONS), env.n_weeks
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    mu0 = np.zeros(S)
    obs = np.zeros((S, env.observation_space.shape[0]), np.float32)
    comps = np.zeros((3, S), np.int64)
    for w in range(W):
        for f in range(FATIGUE_LEVELS):
            for k in range(SKILL_LEVELS):
                s = env.encode(k, f, w)
                comps[:, s] = (k, f, w)
                obs[s] = env.observation(k, f, w)
                for a in range(A):
                    R[s, a] = expected_score(k, f, a)
                    if w + 1 < W:  # the last week's rows stay zero: the semester terminates
                        for p, k2, f2 in outcomes(k, f, a):
                            P[s, a, env.encode(k2, f2, w + 1)] += p
    for k in range(3):
        mu0[env.encode(k, 0, 0)] = 1.0 / 3.0
    mdp = TabularMDP(torch.from_numpy(P), torch.from_numpy(R), torch.from_numpy(mu0),
                     torch.full((S, A), env.reward_noise, dtype=torch.float64))
    skill, fatigue, week = (torch.from_numpy(c) for c in comps)
    return WeeklyExamsModel(mdp=mdp, obs=torch.from_numpy(obs), skill=skill, fatigue=fatigue, week=week,
                            terminal=week == W - 1, n_weeks=W)


def student_policy(model: WeeklyExamsModel, eps: float = 0.1) -> torch.Tensor:
    """A plausible, imperfect student's policy ``π[S, A]`` (float64), for experiments.

    Rests when fatigue ≥ 2, crams in the last week, otherwise goes to class; with
    probability ``eps`` picks an action uniformly instead (so every action has ``π > 0``).
    """
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps: expected a value in [0, 1], got {eps}")
    A = len(ACTIONS)
    choice = torch.full_like(model.skill, ACTIONS.index("class"))
    choice = torch.where(model.fatigue >= 2, torch.full_like(choice, ACTIONS.index("rest")), choice)
    choice = torch.where(model.terminal, torch.full_like(choice, ACTIONS.index("cram")), choice)
    greedy = torch.nn.functional.one_hot(choice, A).to(torch.float64)
    return (1.0 - eps) * greedy + eps / A
