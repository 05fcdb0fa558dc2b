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
:class:`~ppo_grpo_lab.envs.torch_vector.TorchVectorEnv`; this module holds the physics (and, for
the CPU, the same time limit and autoreset written with numpy, below).

What runs where. On a GPU, ``step`` is pure torch: a few dozen elementwise kernels, no copy
to the host, no branch on the host. On the CPU each of those ~45 torch calls costs 2-7 µs of
dispatch overhead, more than its arithmetic on a thousand carts, so there (``device="cpu"``, or
``"auto"`` without CUDA) ``step`` runs the physics, time limit and autoreset with numpy (about
1 µs a call) on arrays that share memory with the tensors it returns (``torch.from_numpy``, no
copy). The float operations are the same, in the same order, as Gymnasium's; with numpy's
``cos``/``sin`` the float64 state is bit-identical to Gymnasium's (torch's vectorised ``cos`` may
differ from it in the last bit). One difference: the torch path draws fresh initial states for
all ``N`` envs at every step and keeps those of the envs that ended (a host never needs to know
how many ended), while the numpy path draws ``max(N, 64)`` of them at once and hands them out, in
order, to the envs that end (``state_dict`` keeps the unused ones). Both draw from
``self.generator`` with the same distribution, and ``reset`` is the same, so for one seed and the
same actions the two paths agree step for step until the first episode ends, then in distribution.
``numpy_on_cpu=False`` forces the torch path on the CPU (for tests and comparisons).
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
        numpy_on_cpu: on a CPU device, step with numpy on memory shared with the returned
            tensors (default; 2.5-4x faster there); ``False`` keeps the pure-torch step that a
            GPU runs. No effect on other devices.

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
                 seed: int | None = None, dtype: torch.dtype = torch.float64, *, numpy_on_cpu: bool = True):
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        self.dtype = dtype
        high = np.array([X_THRESHOLD * 2, np.inf, THETA_THRESHOLD * 2, np.inf], dtype=np.float32)
        super().__init__(num_envs, spaces.Box(-high, high, dtype=np.float32), spaces.Discrete(2), device,
                         max_episode_steps, seed)
        self.state = torch.zeros(num_envs, 4, dtype=dtype, device=self.device)  # [N, 4]
        self._reward = torch.ones(num_envs, dtype=torch.float32, device=self.device)  # [N]
        self._limits = torch.tensor([X_THRESHOLD, THETA_THRESHOLD], dtype=dtype, device=self.device)
        self._numpy = bool(numpy_on_cpu) and self.device.type == "cpu"
        self._views: tuple = (None, None, None, None)  # (state, its array, elapsed, its array)
        # numpy path: fresh initial states drawn max(N, 64) rows at a time, handed out as envs end
        self._pool_t = torch.empty(max(num_envs, 64), 4, dtype=dtype) if self._numpy else None
        self._pool, self._pool_left = (None if self._pool_t is None else self._pool_t.numpy()), 0

    def _initial_states(self) -> Tensor:
        """Fresh initial states ``U(-0.05, 0.05)^4``, [N, 4]."""
        u = torch.empty(self.num_envs, 4, device=self.device, dtype=self.dtype)
        return u.uniform_(-RESET_BOUND, RESET_BOUND, generator=self.generator)

    def _observe(self, state: Tensor) -> Tensor:
        return state.to(torch.float32)

    def _transition(self, a: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """The physics of one step in torch (the GPU path). Actions are not range-checked, which
        would need a device-to-host copy: the force is ``F (2a − 1)``, ±F for actions 0 and 1.
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

    def step(self, actions) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """One step of every cart: ``(obs, reward, terminated, truncated, info)`` (see the class)."""
        if not self._numpy or self._needs_reset:
            return super().step(actions)  # the torch path (and its error before a reset)
        a = self._numpy_actions(actions)  # [N]
        state, elapsed = self._arrays()  # [N, 4], [N]
        new = _physics_numpy(state, a)  # [N, 4]
        # |x| > 2.4 or |θ| > 12°, [N] (a Python float compares in the array's dtype, as on the torch path)
        terminated = np.abs(new[:, 0]) > X_THRESHOLD
        terminated |= np.abs(new[:, 2]) > THETA_THRESHOLD
        elapsed += 1  # the same memory as self.elapsed
        if self.max_episode_steps is None:
            truncated = np.zeros_like(terminated)
        else:
            truncated = elapsed >= self.max_episode_steps  # [N]
        done = terminated | truncated
        final_obs = new.astype(np.float32)  # [N, 4]
        ended = np.flatnonzero(done)
        if ended.size:  # autoreset: fresh initial states for the envs that ended only
            new[ended] = self._fresh_rows(ended.size)
            elapsed[ended] = 0
            obs = new.astype(np.float32)
        else:
            obs = final_obs.copy()
        self.state = torch.from_numpy(new)
        self._views = (self.state, new, self.elapsed, elapsed)
        info = {"final_obs": torch.from_numpy(final_obs), "_final_obs": torch.from_numpy(done)}
        return (torch.from_numpy(obs), self._reward.clone(), torch.from_numpy(terminated),
                torch.from_numpy(truncated), info)

    def _numpy_actions(self, actions) -> np.ndarray:
        """Actions as an array [N] of integers or bools (what ``_as_actions`` checks, on numpy)."""
        if isinstance(actions, Tensor) and actions.device.type != "cpu":
            actions = actions.cpu()
        a = actions.numpy() if isinstance(actions, Tensor) else np.asarray(actions)
        if a.shape != (self.num_envs,) or a.dtype.kind not in "biu":
            raise ValueError(f"actions: expected shape ({self.num_envs},) of integers (or bools), "
                             f"got shape {a.shape} dtype {a.dtype}")
        return a

    def _fresh_rows(self, k: int) -> np.ndarray:
        """``k`` fresh initial states [k, 4] from the pool (refilled by one draw when short)."""
        size = len(self._pool)
        if k > self._pool_left:
            self._pool_t.uniform_(-RESET_BOUND, RESET_BOUND, generator=self.generator)
            self._pool_left = size
        start = size - self._pool_left
        self._pool_left -= k
        return self._pool[start:start + k]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Tensor, dict]:
        """Reset every env; ``seed`` reseeds the generator. Returns ``(obs [N, 4], info)``."""
        self._pool_left = 0  # a reset (and its seed) decides every later draw
        return super().reset(seed=seed, options=options)

    def state_dict(self) -> dict:
        """The envs' full state (see the base class), with the numpy path's unused fresh states."""
        out = super().state_dict()
        if self._numpy:
            out["fresh_pool"] = torch.from_numpy(self._pool[len(self._pool) - self._pool_left:].copy())
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (from either path)."""
        super().load_state_dict(state)
        if self._numpy:
            pool = state.get("fresh_pool", torch.empty(0, 4))[:len(self._pool)]
            self._pool_left = len(pool)
            self._pool[len(self._pool) - len(pool):] = pool.cpu().numpy()

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``self.state`` [N, 4] and ``self.elapsed`` [N] as arrays sharing their memory; rebuilt
        only when the tensors were replaced (``reset``, ``load_state_dict``, an assignment).
        """
        state_t, state, elapsed_t, elapsed = self._views
        if state_t is not self.state or elapsed_t is not self.elapsed:
            self.state = self.state.detach().to(self.dtype).contiguous()
            state, elapsed = self.state.numpy(), self.elapsed.numpy()
            self._views = (self.state, state, self.elapsed, elapsed)
        return state, elapsed

    def __repr__(self) -> str:
        return (f"TorchCartPoleVectorEnv(num_envs={self.num_envs}, device={str(self.device)!r}, "
                f"max_episode_steps={self.max_episode_steps}, dtype={self.dtype})")


def _physics_numpy(s: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Next states [N, 4] from states ``s`` [N, 4] and actions ``a`` [N]: the float operations of
    :meth:`TorchCartPoleVectorEnv._transition` and of Gymnasium, in the same order.
    """
    theta, theta_dot = s[:, 2], s[:, 3]  # each [N]
    new = np.empty_like(s)  # first the derivatives (ẋ, ẍ, θ̇, θ̈), then s + τ · them
    force = np.multiply(a, 2 * FORCE_MAG, dtype=s.dtype)
    force -= FORCE_MAG  # ±F
    cos, sin = np.cos(theta), np.sin(theta)
    temp = np.square(theta_dot)  # temp = (F + m_p l θ̇² sin θ) / (m_c + m_p)
    temp *= POLEMASS_LENGTH
    temp *= sin
    temp += force
    temp /= TOTAL_MASS
    denom = np.square(cos)  # l (4/3 − m_p cos² θ / (m_c + m_p))
    denom *= MASS_POLE
    denom /= TOTAL_MASS
    np.subtract(4.0 / 3.0, denom, out=denom)
    denom *= HALF_LENGTH
    theta_acc = np.multiply(sin, GRAVITY, out=new[:, 3])  # θ̈ = (g sin θ − cos θ · temp) / denom
    theta_acc -= cos * temp
    theta_acc /= denom
    pull = theta_acc * POLEMASS_LENGTH  # ẍ = temp − m_p l θ̈ cos θ / (m_c + m_p)
    pull *= cos
    pull /= TOTAL_MASS
    np.subtract(temp, pull, out=new[:, 1])
    new[:, 0::2] = s[:, 1::2]
    new *= TAU  # explicit Euler: positions move with the old velocities
    new += s
    return new
