"""PPOConfig: every knob of the PPO trainer, with its symbol, meaning and typical range.

Each implementation detail that chapter 9 discusses maps to one field:

=============================  =====================================  ==========================
detail                         what it does                           field
=============================  =====================================  ==========================
orthogonal initialisation      hidden layers gain √2, policy head     (always on, see agent.py)
                               0.01, value head 1
advantage normalisation        Â ← (Â − mean) / (std + 1e-8) per      ``norm_adv``
                               minibatch
learning-rate annealing        α_k = α (1 − k / K) linearly to 0      ``anneal_lr``
global gradient clipping       ‖g‖ ≤ max_grad_norm                    ``max_grad_norm``
minibatches and epochs         K epochs over M shuffled minibatches   ``update_epochs``, ``num_minibatches``
value clipping (optional)      critic kept within ε_v of V_old        ``clip_vloss``, ``vf_clip``
early stop on KL (optional)    stop the epochs when KL > target       ``target_kl``
=============================  =====================================  ==========================
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["PPOConfig"]


def _need(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass
class PPOConfig:
    """Hyperparameters of :class:`ppo_grpo_lab.ppo.PPOTrainer` (defaults solve CartPole-v1).

    Rollout:
        num_envs: N, parallel environments; 4-64 on a CPU, thousands with a GPU env.
        num_steps: T, steps per environment per rollout; 64-2048. One update uses a batch of N·T.
        total_timesteps: environment steps for the whole run (summed over envs); 1e5-1e7.
        gamma: γ, discount; 0.95-0.999.
        gae_lambda: λ of GAE; 0.9-0.99 (0 = one-step TD, 1 = Monte Carlo).

    Optimisation:
        learning_rate: α of Adam; 1e-4-3e-3.
        anneal_lr: decay α linearly to 0 over the run (α_k = α (1 − (k−1)/K) at update k of K).
        update_epochs: K_e, passes over each rollout; 1-10.
        num_minibatches: M, minibatches per epoch (size N·T/M); 1-64.
        max_grad_norm: clip the global gradient norm to this value; 0.5-1.0, ``None`` = no clipping.
        adam_eps: ε of Adam's denominator; 1e-8-1e-5.

    Loss ``−L^CLIP + c1·L^VF − c2·H``:
        clip_eps: ε of the clipped surrogate; 0.1-0.3.
        norm_adv: normalise advantages per minibatch to mean 0, std 1.
        vf_coef: c1, weight of the value loss; 0.25-1.
        ent_coef: c2, weight of the entropy bonus; 0-0.05.
        clip_vloss: clip the critic's change around the rollout-time values (PPO2 style).
        vf_clip: ε_v, the value clip range used when ``clip_vloss``; ~0.2 for returns of order 1,
        larger (e.g. 10) for returns in the hundreds.
        target_kl: stop an update's epochs early when the approximate KL exceeds it; 0.01-0.05, ``None`` = never.

    Model and run:
        hidden_sizes: widths of the actor's and the critic's hidden layers (separate MLPs); e.g. (64, 64).
        activation: ``"tanh"`` (the classic PPO choice) or ``"relu"``.
        seed: seeds torch, the trainer's generator and the environments; same seed → same run on CPU.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:k]"``.
        progress: show a tqdm progress bar.
    """

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
    clip_vloss: bool = False
    vf_clip: float = 0.2
    target_kl: float | None = None
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    seed: int = 1
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("num_envs", "num_steps", "total_timesteps", "update_epochs", "num_minibatches"):
            v = getattr(self, name)
            _need(_is_int(v) and v >= 1, f"{name}: expected a positive int, got {v!r}")
        _need(self.total_timesteps >= self.batch_size,
              f"total_timesteps: expected at least one batch, num_envs*num_steps = {self.batch_size}, "
              f"got {self.total_timesteps}; raise total_timesteps or lower num_envs/num_steps")
        _need(self.batch_size % self.num_minibatches == 0,
              f"num_minibatches: expected a divisor of the batch size num_envs*num_steps = {self.batch_size}, "
              f"got {self.num_minibatches}")
        for name, lo, hi in (("gamma", 0.0, 1.0), ("gae_lambda", 0.0, 1.0)):
            v = getattr(self, name)
            _need(isinstance(v, (int, float)) and lo <= v <= hi,
                  f"{name}: expected a value in [{lo}, {hi}] (typical 0.9-0.999), got {v!r}")
        _need(isinstance(self.learning_rate, (int, float)) and 0.0 < self.learning_rate < 1.0,
              f"learning_rate: expected a value in (0, 1) (typical 1e-4 to 3e-3), got {self.learning_rate!r}")
        _need(isinstance(self.clip_eps, (int, float)) and 0.0 < self.clip_eps < 1.0,
              f"clip_eps: expected a value in (0, 1) (typical 0.1-0.3), got {self.clip_eps!r}")
        for name in ("vf_coef", "ent_coef"):
            v = getattr(self, name)
            _need(isinstance(v, (int, float)) and 0.0 <= v < float("inf"),
                  f"{name}: expected a finite value >= 0 (typical {'0.25-1' if name == 'vf_coef' else '0-0.05'}), got {v!r}")
        _need(isinstance(self.vf_clip, (int, float)) and self.vf_clip > 0,
              f"vf_clip: expected a value > 0 (typical 0.2, or ~10 for large returns), got {self.vf_clip!r}")
        _need(isinstance(self.adam_eps, (int, float)) and self.adam_eps > 0,
              f"adam_eps: expected a value > 0 (typical 1e-8 to 1e-5), got {self.adam_eps!r}")
        _need(self.max_grad_norm is None or (isinstance(self.max_grad_norm, (int, float)) and self.max_grad_norm > 0),
              f"max_grad_norm: expected a value > 0 (typical 0.5) or None for no clipping, got {self.max_grad_norm!r}")
        _need(self.target_kl is None or (isinstance(self.target_kl, (int, float)) and self.target_kl > 0),
              f"target_kl: expected a value > 0 (typical 0.01-0.05) or None, got {self.target_kl!r}")
        hs = tuple(self.hidden_sizes) if isinstance(self.hidden_sizes, (list, tuple)) else None
        _need(hs is not None and len(hs) >= 1 and all(_is_int(h) and h >= 1 for h in hs),
              f"hidden_sizes: expected a non-empty tuple of positive ints such as (64, 64), got {self.hidden_sizes!r}")
        self.hidden_sizes = hs
        _need(self.activation in ("tanh", "relu"), f"activation: expected 'tanh' or 'relu', got {self.activation!r}")
        _need(_is_int(self.seed) and self.seed >= 0, f"seed: expected a non-negative int, got {self.seed!r}")
        for name in ("anneal_lr", "norm_adv", "clip_vloss", "progress"):
            _need(isinstance(getattr(self, name), bool), f"{name}: expected True or False, got {getattr(self, name)!r}")

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

    def to_dict(self) -> dict:
        """Plain dict (for checkpoints and logs)."""
        return asdict(self)
