"""CartPole-v1 for thousands of copies at once, as torch tensors on any device.

Same physics, rewards, termination and time limit as Gymnasium's ``CartPole-v1``
(``TimeLimit`` of 500 steps), but every quantity is a tensor with a leading env axis
``[N]``, so one ``step`` moves all ``N`` carts with a handful of vector operations and
never copies data back to the host. On a GPU the rollout can stay on the GPU from the
environment to the loss.

Physics (explicit Euler, ``τ = 0.02`` s, force ``F = ±10`` N, cart mass ``m_c = 1``,
pole mass ``m_p = 0.1``, half-length ``l = 0.5``, ``g = 9.8``)::

    temp    = (F + m_p l θ̇² sin θ) / (m_c + m_p)
    θ̈      = (g sin θ − cos θ · temp) / (l (4/3 − m_p cos² θ / (m_c + m_p)))
    ẍ      = temp − m_p l θ̈ cos θ / (m_c + m_p)
    x ← x + τ ẋ,  ẋ ← ẋ + τ ẍ,  θ ← θ + τ θ̇,  θ̇ ← θ̇ + τ θ̈

Episode end: terminated when ``|x| > 2.4`` or ``|θ| > 12°``; truncated when the episode
reaches ``max_episode_steps`` (both flags can be true together, as in Gymnasium).
Reward: 1 for every step, including the terminating one.

Autoreset (Gymnasium's ``SAME_STEP`` mode): at a step where an env ends, the returned
observation is already the first observation of its next episode, and
``info["final_obs"]`` holds the observation the episode really ended in. Unlike
Gymnasium, ``info["final_obs"]`` is a full ``[N, 4]`` tensor: rows of envs that did not
end hold their ordinary next observation, so ``info["final_obs"]`` is always
``s_{t+1}`` and can be fed to the value network without any masking;
``info["_final_obs"]`` (bool ``[N]``) says which rows are episode ends. Seeding, reset, the
time limit, autoreset and ``state_dict`` come from
:class:`~ppo_grpo_lab.envs.torch_vector.TorchVectorEnv`; this module holds the physics.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from .torch_vector import TorchVectorEnv

__all__ = ["TorchCartPoleVectorEnv"]

# Physical constants of Gymnasium's CartPole-v1 (facts, same values).
GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_CART + MASS_POLE
HALF_LENGTH = 0.5
POLEMASS_LENGTH = MASS_POLE * HALF_LENGTH
FORCE_MAG = 10.0
TAU = 0.02
THETA_THRESHOLD = 12 * 2 * math.pi / 360  # 12 degrees in radians
X_THRESHOLD = 2.4
RESET_BOUND = 0.05  # initial state ~ U(-0.05, 0.05)^4


class TorchCartPoleVectorEnv(TorchVectorEnv):
    """``num_envs`` CartPole-v1 copies stepped together on ``device``.

    Args:
        num_envs: N, number of carts (1 to millions; thousands is the sweet spot on a GPU).
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"`` or a ``torch.device``.
        max_episode_steps: time limit; Gymnasium's CartPole-v1 uses 500.
        seed: seed of the ``torch.Generator`` used for initial states (``reset(seed=...)`` reseeds it).
        dtype: dtype of the internal physics state. ``torch.float64`` (default) reproduces
            Gymnasium, which also integrates in float64, to the last float32 digit of the
            observation; ``torch.float32`` is faster on most GPUs and drifts by ~1e-6 per step.

    Observation space: ``Box([N, 4], float32)`` with ``(x, ẋ, θ, θ̇)`` per row.
    Action space: ``MultiDiscrete([2] * N)``: 0 pushes left, 1 pushes right.

    ``reset`` returns ``(obs: Tensor [N, 4] float32, info: {})``.
    ``step(actions: Tensor [N] of 0/1)`` returns ``(obs [N, 4] float32, reward [N] float32,
    terminated [N] bool, truncated [N] bool, info)`` with ``info["final_obs"]`` ([N, 4]) and
    ``info["_final_obs"]`` ([N] bool) as described in the module docstring.

    Example:
        >>> env = TorchCartPoleVectorEnv(4, device="cpu", seed=0)
        >>> obs, info = env.reset()
        >>> obs.shape
        torch.Size([4, 4])
        >>> obs, rew, term, trunc, info = env.step(torch.ones(4, dtype=torch.long))
        >>> rew.tolist()
        [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, num_envs: int, device: str | torch.device = "auto", max_episode_steps: int = 500,
                 seed: int | None = None, dtype: torch.dtype = torch.float64):
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        self.dtype = dtype
        high = np.array([X_THRESHOLD * 2, np.inf, THETA_THRESHOLD * 2, np.inf], dtype=np.float32)
        super().__init__(num_envs, spaces.Box(-high, high, dtype=np.float32), spaces.Discrete(2), device,
                         max_episode_steps, seed)
        self.state = torch.zeros(num_envs, 4, dtype=dtype, device=self.device)  # [N, 4]
        self._reward = torch.ones(num_envs, dtype=torch.float32, device=self.device)  # [N]
        self._limits = torch.tensor([X_THRESHOLD, THETA_THRESHOLD], dtype=dtype, device=self.device)

    def _initial_states(self) -> Tensor:
        """Fresh initial states ``U(-0.05, 0.05)^4``, [N, 4]."""
        u = torch.empty(self.num_envs, 4, device=self.device, dtype=self.dtype)
        return u.uniform_(-RESET_BOUND, RESET_BOUND, generator=self.generator)

    def _observe(self, state: Tensor) -> Tensor:
        return state.to(torch.float32)

    def _transition(self, a: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """The physics of one step (actions are not range-checked, which would need a device-to-host
        copy; any nonzero action pushes right, like ``force = ±F``).
        """
        x_dot, theta, theta_dot = self.state[:, 1], self.state[:, 2], self.state[:, 3]  # each [N]
        force = a.to(self.dtype).mul_(2 * FORCE_MAG).sub_(FORCE_MAG)  # ±F
        cos, sin = torch.cos(theta), torch.sin(theta)
        # In-place ops keep Gymnasium's order of float64 operations (bit-identical results;
        # fused ops such as addcmul would round differently):
        # temp = (F + m_p l θ̇² sin θ) / (m_c + m_p)
        temp = theta_dot.square().mul_(POLEMASS_LENGTH).mul_(sin).add_(force).div_(TOTAL_MASS)
        # θ̈ = (g sin θ − cos θ · temp) / (l (4/3 − m_p cos² θ / (m_c + m_p)))
        denom = cos.square().mul_(MASS_POLE).div_(TOTAL_MASS).neg_().add_(4.0 / 3.0).mul_(HALF_LENGTH)
        theta_acc = sin.mul(GRAVITY).sub_(cos * temp).div_(denom)
        # ẍ = temp − m_p l θ̈ cos θ / (m_c + m_p)
        x_acc = temp.sub_(theta_acc.mul(POLEMASS_LENGTH).mul_(cos).div_(TOTAL_MASS))
        # Explicit Euler: (x, ẋ, θ, θ̇) += τ (ẋ, ẍ, θ̇, θ̈), positions move with the old velocities.
        deriv = torch.stack((x_dot, x_acc, theta_dot, theta_acc), dim=1)  # [N, 4]
        new = self.state + TAU * deriv  # [N, 4]
        terminated = (new[:, 0::2].abs() > self._limits).any(1)  # |x| > 2.4 or |θ| > 12°, [N]
        return new, self._reward.clone(), terminated, new.to(torch.float32), {}

    def __repr__(self) -> str:
        return (f"TorchCartPoleVectorEnv(num_envs={self.num_envs}, device={str(self.device)!r}, "
                f"max_episode_steps={self.max_episode_steps}, dtype={self.dtype})")
