"""PPOConfig: every knob of the PPO trainer, with its symbol, meaning and typical range.

Each implementation detail that chapter 9 discusses maps to one field:

=============================  ======================================  =======================================
detail                         what it does                            field
=============================  ======================================  =======================================
orthogonal initialisation      hidden layers gain √2, policy head      (always on, see agent.py)
                               0.01, value head 1
advantage normalisation        Â ← (Â − mean) / (std + 1e-8) per       ``norm_adv``
                               minibatch (unbiased std)
learning-rate annealing        α decays linearly over the updates      ``anneal_lr``
                               (schedule: see ``anneal_lr``)
global gradient clipping       ‖g‖ ≤ max_grad_norm                     ``max_grad_norm``
minibatches and epochs         K_e epochs over M shuffled minibatches  ``update_epochs``, ``num_minibatches``
value clipping (optional)      critic kept within ε_v of V_old         ``value_clip_eps``
early stop on KL (optional)    stop the epochs when KL > target        ``target_kl``
observation normalisation      s ← (s − μ_s) / σ_s, running stats      ``norm_obs``
reward scaling                 r ← r / σ(discounted return)            ``norm_reward``
=============================  ======================================  =======================================

The names follow the package's one vocabulary (:mod:`ppo_grpo_lab.config`). Deprecated:
``clip_vloss`` + ``vf_clip`` (one switch and one range) became ``value_clip_eps`` (``None`` = off):
``clip_vloss=True, vf_clip=x`` means ``value_clip_eps=x``, ``clip_vloss=False`` means ``None``.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym

from .._checks import check_bool, check_choice, check_int, check_range
from ..config import TrainerConfig

__all__ = ["PPOConfig"]

_INF = float("inf")
_OLD_VF_CLIP = 0.2  # the default of the deprecated ``vf_clip``


def _real(name: str, value, low: float, high: float, **open_ends: bool) -> None:
    """A number (not a bool) in the range, by :func:`~ppo_grpo_lab._checks.check_range`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    check_range(name, value, low, high, **open_ends)


class _PPOAliasMeta(type(TrainerConfig)):
    """Maps the deprecated pair ``clip_vloss`` + ``vf_clip`` to ``value_clip_eps`` (FutureWarning)."""

    def __call__(cls, *args, **kwargs):
        if "clip_vloss" in kwargs or "vf_clip" in kwargs:
            on, eps = kwargs.pop("clip_vloss", False), kwargs.pop("vf_clip", _OLD_VF_CLIP)
            check_bool("clip_vloss", on)
            new = eps if on else None
            warnings.warn(f"{cls.__name__}: 'clip_vloss' and 'vf_clip' are deprecated, use "
                          f"value_clip_eps={new!r} (None = no value clipping)", FutureWarning, stacklevel=2)
            kwargs["value_clip_eps"] = new  # the old names win, as for every alias (see TrainerConfig)
        return super().__call__(*args, **kwargs)


@dataclass(kw_only=True)
class PPOConfig(TrainerConfig, metaclass=_PPOAliasMeta):
    """Hyperparameters of :class:`ppo_grpo_lab.ppo.PPOTrainer` (defaults solve CartPole-v1).

    ``PPOTrainer(env)`` without a config uses :meth:`for_env`: these defaults for discrete actions,
    :meth:`sample_efficient` with a constant learning rate for continuous (Box) actions.

    Rollout:
        num_envs: N, parallel environments; 4-64 on a CPU, thousands with a GPU env.
        num_steps: T, steps per environment per rollout; 64-2048. One update uses a batch of N·T.
        total_timesteps: the run's budget in environment steps (summed over envs); 1e5-1e7.
            ``num_updates`` = K = total_timesteps // (N·T) is derived from it.
        gamma: γ, discount; 0.95-0.999.
        gae_lambda: λ of GAE; 0.9-0.99 (0 = one-step TD, 1 = Monte Carlo).

    Optimisation:
        learning_rate: α of Adam; 1e-4-3e-3.
        anneal_lr: decay α linearly over the K updates: α_k = α (1 − (k−1)/K) at update k = 1 … K
            (α_1 = α, α_K = α/K); off: α_k = α. :meth:`learning_rate_at` computes it.
        update_epochs: K_e, passes over each rollout; 1-10.
        num_minibatches: M, minibatches per epoch (size N·T/M); 1-64.
        max_grad_norm: clip the global gradient norm to this value; 0.5-1.0, ``None`` = no clipping.
        adam_eps: ε of Adam's denominator; 1e-8-1e-5.

    Loss ``−L^CLIP + c1·L^VF − c2·H``:
        clip_eps: ε of the clipped surrogate; 0.1-0.3. Values ≥ 1 are accepted: the lower bound
            1 − ε of the ratio then never binds, only the upper one does.
        norm_adv: normalise advantages per minibatch to mean 0, (unbiased) std 1.
        vf_coef: c1, weight of the value loss; 0.25-1. Our ``L^VF`` is the mean squared error
            ``mean((V − V^targ)²)`` **without** a factor ½; CleanRL's ``v_loss`` has one
            (``0.5 · mean(...)``), so at the same ``vf_coef`` our critic's gradient weighs twice as
            much: ``vf_coef = c`` here matches CleanRL's ``vf_coef = 2c``.
        ent_coef: c2, weight of the entropy bonus; 0-0.05.
        value_clip_eps: ε_v, keep the critic within ε_v of the rollout-time values (PPO2 style), or
            ``None`` (default) for no value clipping; ~0.2 for returns of order 1, larger (e.g. 10) for
            returns in the hundreds.
        target_kl: stop an update's epochs early when the approximate KL exceeds it; 0.01-0.05,
            ``None`` = never.

    Normalisation (:mod:`ppo_grpo_lab.ppo.normalize`; off by default, single process only):
        norm_obs: feed the agent observations standardised by their running mean and std (clipped
            to ±10). Helps when observation scales differ by orders of magnitude (MuJoCo).
        norm_reward: divide rewards by the running std of the discounted return (clipped to ±10).
            Helps when returns are in the hundreds or thousands (Pendulum, MuJoCo, LunarLander).

    Model and run:
        hidden_sizes: widths of the actor's and the critic's hidden layers (separate MLPs); e.g. (64, 64).
        activation: ``"tanh"`` (the classic PPO choice) or ``"relu"``.
        seed, device, progress: as in :class:`~ppo_grpo_lab.config.TrainerConfig` (seed default 1).
    """

    ALIASES: ClassVar[dict[str, str]] = {"lr": "learning_rate", "lam": "gae_lambda", "epochs": "update_epochs"}

    num_envs: int = 8
    num_steps: int = 128
    total_timesteps: int = 150_000
    gamma: float = 0.99
    gae_lambda: float = 0.95
    learning_rate: float = 2.5e-3
    anneal_lr: bool = True
    update_epochs: int = 4
    num_minibatches: int = 4
    max_grad_norm: float | None = 0.5
    adam_eps: float = 1e-5
    clip_eps: float = 0.2
    norm_adv: bool = True
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    value_clip_eps: float | None = None
    target_kl: float | None = None
    norm_obs: bool = False
    norm_reward: bool = False
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    seed: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("num_envs", "num_steps", "total_timesteps", "update_epochs", "num_minibatches"):
            check_int(name, getattr(self, name), 1, " (a positive count)")
        check_int("total_timesteps", self.total_timesteps, self.batch_size,
                  " (one batch of num_envs*num_steps; raise it or lower num_envs/num_steps)")
        if self.batch_size % self.num_minibatches:
            raise ValueError(f"num_minibatches: expected a divisor of the batch size num_envs*num_steps = "
                             f"{self.batch_size}, got {self.num_minibatches}")
        _real("gamma", self.gamma, 0.0, 1.0)
        _real("gae_lambda", self.gae_lambda, 0.0, 1.0)
        _real("learning_rate", self.learning_rate, 0, 1, low_open=True, high_open=True)
        _real("clip_eps", self.clip_eps, 0, _INF, low_open=True, high_open=True)
        _real("vf_coef", self.vf_coef, 0.0, _INF, high_open=True)
        _real("ent_coef", self.ent_coef, 0.0, _INF, high_open=True)
        _real("adam_eps", self.adam_eps, 0.0, _INF, low_open=True, high_open=True)
        for name in ("value_clip_eps", "max_grad_norm", "target_kl"):  # None = off
            if getattr(self, name) is not None:
                _real(name, getattr(self, name), 0.0, _INF, low_open=True)
        hs = tuple(self.hidden_sizes) if isinstance(self.hidden_sizes, (list, tuple)) else None
        if not hs or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hs):
            raise ValueError(f"hidden_sizes: expected a non-empty tuple of positive ints such as (64, 64), "
                             f"got {self.hidden_sizes!r}")
        self.hidden_sizes = hs
        check_choice("activation", self.activation, ("tanh", "relu"))
        for name in ("anneal_lr", "norm_adv", "norm_obs", "norm_reward"):
            check_bool(name, getattr(self, name))

    def __getattr__(self, name: str) -> Any:  # deprecated reads: cfg.clip_vloss, cfg.vf_clip
        if name in ("clip_vloss", "vf_clip"):
            warnings.warn(f"PPOConfig: '{name}' is deprecated, use 'value_clip_eps'", FutureWarning, stacklevel=2)
            on = self.value_clip_eps is not None
            return on if name == "clip_vloss" else (self.value_clip_eps if on else _OLD_VF_CLIP)
        return super().__getattr__(name)

    @classmethod
    def sample_efficient(cls, **overrides: Any) -> PPOConfig:
        """A setting for envs that are expensive to step: more learning from each sample, more CPU per sample.

        Stable-Baselines3's update (batch 2048 = 8 envs x 256 steps, minibatches of 64, 10 epochs,
        α = 3e-4, no entropy bonus) with ``norm_obs`` and ``norm_reward`` on; ``overrides`` replace any
        field. The defaults spend ~4x less CPU per env step and learn less from each one;
        ``benchmarks/bench_suite.py`` compares both with SB3's defaults at equal env steps and CPU time.
        """
        preset = dict(num_envs=8, num_steps=256, update_epochs=10, num_minibatches=32, learning_rate=3e-4,
                      ent_coef=0.0, norm_obs=True, norm_reward=True)
        return cls(**{**preset, **overrides})

    @classmethod
    def for_env(cls, env: Any, **overrides: Any) -> PPOConfig:
        """The defaults for ``env``'s action space, the config ``PPOTrainer(env)`` uses when given none.

        - Discrete(A) actions: ``PPOConfig(**overrides)``, the class defaults (picked on CartPole-v1).
        - Box actions (continuous control): :meth:`sample_efficient` with a constant learning rate
          (``anneal_lr=False``, as Stable-Baselines3 and the PPO paper's MuJoCo runs), then ``overrides``.
          The class defaults do not learn Pendulum-v1 within 60k env steps (mean −1251, random policy −1270)
          and lose to SB3 there at equal CPU time; this setting learns Pendulum and Hopper and beats SB3's
          defaults on both at equal CPU time and at equal env steps (``benchmarks/README.md`` §2). Its
          observation and reward normalisation runs in one process only: under ``torchrun`` with
          ``WORLD_SIZE`` > 1 both are left off, with a warning.

        Args:
            env: a Gymnasium env id (made once to read its action space), a vector env
                (``single_action_space``), an env (``action_space``) or a ``gymnasium.spaces.Space``.
            overrides: fields that replace the chosen defaults.
        """
        space = _action_space(env)
        if not isinstance(space, gym.spaces.Box):
            return cls(**overrides)
        overrides = {"anneal_lr": False, **overrides}
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            kept = {k: overrides[k] for k in ("norm_obs", "norm_reward") if k in overrides}
            warnings.warn("PPOConfig.for_env: continuous actions get sample_efficient(), whose observation and "
                          "reward normalisation needs a single process; left off under torchrun", stacklevel=2)
            overrides = {**overrides, "norm_obs": False, "norm_reward": False, **kept}
        return cls.sample_efficient(**overrides)

    @property
    def batch_size(self) -> int:
        """N·T transitions per update."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        """N·T / M transitions per gradient step."""
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """K = total_timesteps // (N·T) updates in the run."""
        return self.total_timesteps // self.batch_size

    def learning_rate_at(self, k: int) -> float:
        """α_k, the step size of update ``k`` (1-based), by the schedule documented at ``anneal_lr``."""
        return self.learning_rate * (1.0 - (k - 1) / self.num_updates) if self.anneal_lr else self.learning_rate


def _action_space(env: Any) -> gym.spaces.Space:
    """The (single-env) action space of an env id, a vector env, an env or a space."""
    if isinstance(env, gym.spaces.Space):
        return env
    if isinstance(env, str):
        try:
            made = gym.make(env)
        except gym.error.Error as exc:
            raise ValueError(f"env: expected a registered Gymnasium env id such as 'CartPole-v1', got {env!r} "
                             f"({type(exc).__name__}: {exc})") from None
        try:
            return made.action_space
        finally:
            made.close()
    for name in ("single_action_space", "action_space"):
        if isinstance(getattr(env, name, None), gym.spaces.Space):
            return getattr(env, name)
    raise ValueError(f"env: expected a Gymnasium env id such as 'CartPole-v1', a vector env, an env or an action "
                     f"space, got {type(env).__name__ if env is not None else None}")
