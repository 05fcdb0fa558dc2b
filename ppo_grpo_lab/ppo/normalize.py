"""Observation and reward normalisation: running statistics the trainer keeps while it collects.

Two switches of :class:`~ppo_grpo_lab.ppo.PPOConfig` (both off by default; the same recipe as
Stable-Baselines3's ``VecNormalize`` and Gymnasium's ``NormalizeObservation``/``NormalizeReward``):

- ``norm_obs``: every observation the agent sees is ``clip((s − μ_s) / √(σ²_s + ε), ±c)``, with μ_s,
  σ²_s the running mean and variance of all observations collected so far (updated with each
  step's N new observations *before* normalising them);
- ``norm_reward``: every reward is ``clip(r / √(σ²_G + ε), ±c)``, with σ²_G the running variance of
  the discounted return ``G ← γ G + r`` (reset to 0 where an episode ends). The mean is not
  subtracted: that would change which policy is optimal.

ε = 1e-8, c = 10. The running statistics merge each batch into the totals (Chan et al.'s parallel
formula), starting from a count of 1e-4 so that the first batch dominates, as in SB3::

    δ = x̄_b − μ,  n' = n + n_b,  μ' = μ + δ n_b / n',  σ²' = (σ² n + σ²_b n_b + δ² n n_b / n') / n'

(σ²_b is the batch's population variance, dividing by n_b). Statistics are float64 on the device; the
episode statistics the trainer logs stay in raw rewards. The agent of a run with ``norm_obs`` expects
normalised observations: evaluate it on ``normalizer.obs(s, update=False)``.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["RunningMeanStd", "Normalizer", "make_normalizer"]


class RunningMeanStd:
    """Running mean and (population) variance of a stream of batches ``x`` of shape ``[B, *shape]``.

    Args:
        shape: the shape of one sample (``()`` for scalars, ``(obs_dim,)`` for observations).
        device: where the float64 statistics live.
        count: the prior count (1e-4: the prior μ = 0, σ² = 1 is forgotten after the first batch).

    Example:
        >>> rms = RunningMeanStd(())
        >>> rms.update(torch.tensor([1.0, 3.0]))
        >>> round(float(rms.mean), 3), round(float(rms.var), 3)
        (2.0, 1.0)
    """

    def __init__(self, shape: tuple[int, ...] = (), device: torch.device | str = "cpu", count: float = 1e-4):
        self.mean = torch.zeros(shape, dtype=torch.float64, device=device)
        self.var = torch.ones(shape, dtype=torch.float64, device=device)
        self.count = float(count)

    def update(self, x: Tensor) -> None:
        """Merge a batch ``x`` ([B, *shape], B ≥ 1) into the statistics (no host synchronisation)."""
        if x.ndim != self.mean.ndim + 1 or tuple(x.shape[1:]) != tuple(self.mean.shape) or x.shape[0] < 1:
            raise ValueError(f"x: expected a batch of shape [B, {', '.join(map(str, self.mean.shape))}] with B ≥ 1"
                             f", got shape {tuple(x.shape)}")
        x = x.to(self.mean.dtype)
        n_b = x.shape[0]
        b_mean, b_var = x.mean(0), x.var(0, unbiased=False)
        delta, total = b_mean - self.mean, self.count + n_b
        m2 = self.var * self.count + b_var * n_b + delta.square() * (self.count * n_b / total)
        self.mean = self.mean + delta * (n_b / total)
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        """Plain data: ``{"mean", "var", "count"}``."""
        return {"mean": self.mean.clone(), "var": self.var.clone(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (tensors move to this object's device)."""
        dev = self.mean.device
        self.mean, self.var, self.count = state["mean"].to(dev), state["var"].to(dev), float(state["count"])


class Normalizer:
    """The trainer's normaliser of observations and rewards (the module docstring gives the formulas).

    Args:
        obs_dim: size of one observation.
        num_envs: N, the envs whose discounted returns G [N] are tracked.
        gamma: γ of the discounted return (the run's discount).
        norm_obs, norm_reward: which of the two to apply (one or both).
        device: where the statistics live.
        clip: c, the bound of the normalised values.
        eps: ε in the square roots.
    """

    def __init__(self, obs_dim: int, num_envs: int, gamma: float, norm_obs: bool, norm_reward: bool,
                 device: torch.device | str = "cpu", clip: float = 10.0, eps: float = 1e-8):
        self.norm_obs, self.norm_reward, self.gamma, self.clip, self.eps = norm_obs, norm_reward, gamma, clip, eps
        self.obs_rms = RunningMeanStd((obs_dim,), device)
        self.ret_rms = RunningMeanStd((), device)
        self.returns = torch.zeros(num_envs, dtype=torch.float64, device=device)  # G [N]

    def obs(self, obs: Tensor, update: bool = False) -> Tensor:
        """Observations [N, obs_dim] normalised (first merged into the statistics if ``update``)."""
        if not self.norm_obs:
            return obs
        if update:
            self.obs_rms.update(obs)
        z = (obs - self.obs_rms.mean) / torch.sqrt(self.obs_rms.var + self.eps)
        return z.clamp(-self.clip, self.clip).to(obs.dtype)

    def reward(self, reward: Tensor, done: Tensor) -> Tensor:
        """Rewards [N] scaled by the running std of G (updated with this step's G); G resets where ``done``."""
        if not self.norm_reward:
            return reward
        self.returns = self.returns * self.gamma + reward
        self.ret_rms.update(self.returns)
        self.returns = self.returns.masked_fill(done, 0.0)
        scaled = reward / torch.sqrt(self.ret_rms.var + self.eps)
        return scaled.clamp(-self.clip, self.clip).to(reward.dtype)

    def step(self, obs: Tensor, reward: Tensor, terminated: Tensor, truncated: Tensor, next_obs: Tensor
             ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Normalise one step of :class:`~ppo_grpo_lab.ppo.VecEnvAdapter` (``obs`` updates the statistics,
        ``next_obs`` reuses them, so the two agree wherever they hold the same state).
        """
        same = next_obs is obs
        obs = self.obs(obs, update=True)
        next_obs = obs if same else self.obs(next_obs)
        return obs, self.reward(reward, terminated | truncated), terminated, truncated, next_obs

    def state_dict(self) -> dict[str, Any]:
        """Plain data for checkpoints: both running statistics and the returns G [N]."""
        return {"obs_rms": self.obs_rms.state_dict(), "ret_rms": self.ret_rms.state_dict(),
                "returns": self.returns.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.obs_rms.load_state_dict(state["obs_rms"])
        self.ret_rms.load_state_dict(state["ret_rms"])
        self.returns = state["returns"].to(self.returns.device)


def make_normalizer(config, observation_space, num_envs: int, device: torch.device,
                    world_size: int = 1) -> Normalizer | None:
    """The :class:`Normalizer` a :class:`~ppo_grpo_lab.ppo.PPOConfig` asks for (``None`` when both switches
    are off). Refused with several processes: each rank would keep statistics of its own.
    """
    if not (config.norm_obs or config.norm_reward):
        return None
    if world_size > 1:
        raise ValueError(f"norm_obs/norm_reward: expected a single process, got {world_size} (each would keep "
                         "its own statistics); turn both off under torchrun")
    return Normalizer(int(observation_space.shape[0]), num_envs, config.gamma, config.norm_obs, config.norm_reward,
                      device)
