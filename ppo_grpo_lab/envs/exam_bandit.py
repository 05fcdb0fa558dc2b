"""The exam: a one-step contextual bandit, the environment of Part I (chapters 1–5).

Each episode is one exam. A student sits it (the observation says who), picks a study
strategy (the action), and gets a noisy score (the reward). The whole model is exposed as
tables (:class:`ExamModel`), so expected rewards, exact policy gradients and exact KL
divergences can be computed (see :mod:`ppo_grpo_lab.bandit.exact`) and every sampled
estimate in the book can be checked against the truth.

    import gymnasium as gym
    import ppo_grpo_lab.envs
    env = gym.make("ppo_grpo_lab/ExamBandit-v0")
    obs, info = env.reset(seed=0)          # obs: one-hot student, info["student"]
    obs, reward, terminated, truncated, info = env.step(1)   # practise problems
"""
from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["ExamModel", "ExamBandit", "default_exam_model"]


def _table(name: str, x, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, got {arr}")
    return arr


@dataclass(frozen=True, eq=False)  # eq=False: tables are arrays; compare fields explicitly
class ExamModel:
    """The exact model of the exam, in reward units (score / 100, so rewards lie in [0, 1]).

    Attributes:
        students: S names, e.g. ``("older", "younger")``.
        actions: A names of the study strategies.
        student_probs: (array, [S]) p(s), how often each student sits an exam.
        mean: (array, [S, A]) μ(s, a) = E[r ∣ s, a], in (0, 1).
        std: (array, [S, A]) σ(s, a) > 0, the spread of the score. Scores are drawn from a
            Beta distribution on [0, 1] with exactly this mean and std, so σ² < μ(1 − μ) is required.
        reference_probs: (array, [S, A]) π_ref(a ∣ s), the students' habits before anyone paid
            for scores (the "reference model" of chapter 4); rows sum to 1.
        beta_a: (array, [S, A]) the Beta distributions' first parameter μν, ν = μ(1 − μ)/σ² − 1 (derived).
        beta_b: (array, [S, A]) the second parameter (1 − μ)ν (derived).
    """

    students: tuple[str, ...]
    actions: tuple[str, ...]
    student_probs: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    reference_probs: np.ndarray
    beta_a: np.ndarray = field(init=False, repr=False)
    beta_b: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        S, A = len(self.students), len(self.actions)
        if S < 1 or A < 2:
            raise ValueError(f"students/actions: expected S >= 1 students and A >= 2 actions, got S={S}, A={A}")
        p = _table("student_probs", self.student_probs, (S,))
        mean = _table("mean", self.mean, (S, A))
        std = _table("std", self.std, (S, A))
        ref = _table("reference_probs", self.reference_probs, (S, A))
        if np.any(p < 0) or abs(p.sum() - 1) > 1e-8:
            raise ValueError(f"student_probs: expected non-negative values summing to 1, got {p}")
        if np.any(mean <= 0) or np.any(mean >= 1):
            raise ValueError(f"mean: expected values in (0, 1) (score / 100), got {mean}")
        if np.any(std <= 0) or np.any(std ** 2 >= mean * (1 - mean)):
            raise ValueError(
                "std: expected 0 < std and std² < mean·(1 − mean) (a Beta distribution on [0, 1] must exist), "
                f"got std={std}"
            )
        if np.any(ref <= 0) or np.any(np.abs(ref.sum(axis=1) - 1) > 1e-8):
            raise ValueError(f"reference_probs: expected positive rows summing to 1, got {ref}")
        # Beta(a, b) with mean μ and variance σ²:  ν = μ(1−μ)/σ² − 1,  a = μν,  b = (1−μ)ν.
        nu = mean * (1 - mean) / std ** 2 - 1
        for name, val in [("student_probs", p), ("mean", mean), ("std", std), ("reference_probs", ref),
                          ("beta_a", mean * nu), ("beta_b", (1 - mean) * nu)]:
            object.__setattr__(self, name, val)

    @property
    def n_students(self) -> int:
        """Number of student types (rows of the tables)."""
        return len(self.students)

    @property
    def n_actions(self) -> int:
        """Number of actions (revise, cram, cheat, ...)."""
        return len(self.actions)

    def sample_rewards(self, students, actions, rng: np.random.Generator) -> np.ndarray:
        """Draw rewards r ∼ Beta with mean μ(s, a) and std σ(s, a), vectorised.

        Args:
            students: (int array, [N]) student indices.
            actions: (int array, [N]) action indices, same shape.
            rng: a numpy Generator.

        Returns:
            (float array, [N]) rewards in [0, 1].
        """
        s = np.asarray(students, dtype=np.int64)
        a = np.asarray(actions, dtype=np.int64)
        if s.shape != a.shape:
            raise ValueError(f"actions: expected shape {s.shape} (the shape of students), got {a.shape}")
        if s.size and (s.min() < 0 or s.max() >= self.n_students):
            raise ValueError(f"students: expected indices in [0, {self.n_students - 1}], got {s}")
        if a.size and (a.min() < 0 or a.max() >= self.n_actions):
            raise ValueError(f"actions: expected indices in [0, {self.n_actions - 1}], got {a}")
        return rng.beta(self.beta_a[s, a], self.beta_b[s, a])


def default_exam_model() -> ExamModel:
    """The book's exam: two siblings, four study strategies (scores in points, reward = points / 100).

    ========== ============ ============== ============ ============
    mean (std) review       practice       cram         cheat
    ========== ============ ============== ============ ============
    older      80 (5)       86 (6)         78 (18)      95 (3)
    younger    30 (6)       50 (10)        38 (20)      90 (5)
    ========== ============ ============== ============ ============

    Each student sits half of the exams. ``cram`` (an all-nighter) has the widest spread;
    ``cheat`` scores highest, but the reference habits take it only 1% of the time
    (π_ref = 55% review, 25% practice, 19% cram, 1% cheat, for both students).
    """
    return ExamModel(
        students=("older", "younger"),
        actions=("review", "practice", "cram", "cheat"),
        student_probs=np.array([0.5, 0.5]),
        mean=np.array([[80, 86, 78, 95], [30, 50, 38, 90]]) / 100.0,
        std=np.array([[5, 6, 18, 3], [6, 10, 20, 5]]) / 100.0,
        reference_probs=np.array([[0.55, 0.25, 0.19, 0.01], [0.55, 0.25, 0.19, 0.01]]),
    )


class ExamBandit(gym.Env):
    """One exam per episode: a contextual bandit with a known model.

    ## Description
    A student (drawn at random) sits an exam. Seeing who sits it, the agent chooses a study
    strategy and receives the exam score. The agent is the students' shared policy
    π(a | s); chapters 1–5 train it with REINFORCE, a critic, the clip, a KL penalty and GRPO.

    ## Action Space
    ``Discrete(A)``; by default A = 4: 0 review (steady revision), 1 practice (practice
    problems), 2 cram (an all-nighter, high variance), 3 cheat (highest score; the reference
    habits almost never choose it).

    ## Observation Space
    ``Box(0, 1, (S,), float32)``: the one-hot vector of the student sitting the exam
    (default S = 2: 0 the older sibling, about 80 points; 1 the younger brother, about 30).

    ## Rewards
    The score divided by 100, drawn from a Beta distribution on [0, 1] with mean
    ``model.mean[s, a]`` and standard deviation ``model.std[s, a]`` (exact tables:
    :func:`default_exam_model`). ``info["score"]`` gives it in points.

    ## Starting State
    The student is drawn from ``model.student_probs`` with ``self.np_random``; pass
    ``options={"student": k}`` to :meth:`reset` to choose student k (GRPO samples a group of
    answers for the same student this way).

    ## Episode End
    After one step: ``terminated=True``; never truncated.

    ## Arguments
    ``model``: an :class:`ExamModel` (default :func:`default_exam_model`).
    """

    metadata = {"render_modes": []}

    def __init__(self, model: ExamModel | None = None, render_mode: str | None = None):
        if model is None:
            model = default_exam_model()
        if not isinstance(model, ExamModel):
            raise ValueError(f"model: expected an ExamModel, got {type(model).__name__}")
        if render_mode is not None:
            raise ValueError(f"render_mode: expected None (ExamBandit does not render), got {render_mode!r}")
        self.model = model
        self.render_mode = None
        self.observation_space = spaces.Box(0.0, 1.0, shape=(model.n_students,), dtype=np.float32)
        self.action_space = spaces.Discrete(model.n_actions)
        self._student: int | None = None

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.model.n_students, dtype=np.float32)
        obs[self._student] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an exam: draw the student (or take ``options["student"]``).

        Args:
            seed: seeds ``self.np_random`` (students and scores) when given.
            options: None, or ``{"student": k}`` with k in [0, S − 1].

        Returns:
            ``(obs, info)``: the one-hot student (float32, [S]) and ``{"student": k}``.
        """
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - {"student"}
        if unknown:
            raise ValueError(f"options: expected only the key 'student', got {sorted(unknown)}")
        if options.get("student") is not None:
            k = options["student"]
            if not isinstance(k, (int, np.integer)) or not 0 <= k < self.model.n_students:
                raise ValueError(f"options['student']: expected an int in [0, {self.model.n_students - 1}], got {k!r}")
            self._student = int(k)
        else:
            self._student = int(self.np_random.choice(self.model.n_students, p=self.model.student_probs))
        return self._obs(), {"student": self._student}

    def step(self, action):
        """Sit the exam with strategy ``action`` (an int in [0, A − 1]).

        Returns:
            ``(obs, reward, terminated, truncated, info)``: the same one-hot student, the score / 100,
            True, False and ``{"student": k, "score": points}``. Calling it again needs a new :meth:`reset`.
        """
        if self._student is None:
            raise RuntimeError("step: expected reset() to be called first (each episode is one exam)")
        if not self.action_space.contains(action):
            raise ValueError(f"action: expected an int in [0, {self.model.n_actions - 1}], got {action!r}")
        a = int(action)
        s = self._student
        reward = float(self.model.sample_rewards([s], [a], self.np_random)[0])
        obs = self._obs()
        self._student = None
        info = {"student": s, "score": 100.0 * reward}
        return obs, reward, True, False, info
