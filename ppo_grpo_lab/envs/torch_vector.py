"""The scaffolding every torch-native vector env shares: seeding, reset, time limit, autoreset, state.

A subclass describes only its dynamics; :class:`TorchVectorEnv` owns the rest, the same way
for every env:

- **seeding**: one ``torch.Generator`` on the env's device draws every random number
  (initial states, noise); ``seed=None`` picks a fresh seed, ``reset(seed=s)`` reseeds it;
- **reset**: ``state ← _initial_states()`` for all ``N`` envs, elapsed steps ``← 0``;
- **time limit**: ``truncated = elapsed ≥ max_episode_steps`` (``None``: never), counted
  after every step as Gymnasium's ``TimeLimit`` does;
- **autoreset** (Gymnasium's ``SAME_STEP`` mode, with no host synchronisation): fresh
  initial states are drawn for all envs after every step and kept where ``terminated or
  truncated``; ``info["final_obs"]`` is the full ``[N, obs_dim]`` true next observation
  and ``info["_final_obs"]`` ([N] bool) marks the episode ends;
- **state**: :meth:`state_dict` / :meth:`load_state_dict` hold the state tensor, the
  elapsed steps, the generator and whether a reset is due, as plain tensors (checkpoints
  of a run on a torch env resume it exactly).

A subclass sets ``num_envs``-independent spaces and implements three methods::

    _initial_states()        -> state [N, ...]          (draws from self.generator)
    _observe(state)          -> obs [N, obs_dim] float32
    _transition(actions)     -> (next_state [N, ...], reward [N], terminated [N] bool,
                                 final_obs [N, obs_dim], extra info dict)

and may override ``_as_actions`` (conversion and checks of the actions).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from torch import Tensor

from .._checks import check_int
from ..device import resolve_device

__all__ = ["TorchVectorEnv"]


class TorchVectorEnv(VectorEnv):
    """Base of the torch-native vector envs (``SAME_STEP`` autoreset, state on ``device``).

    Args:
        num_envs: N, number of envs stepped together.
        single_observation_space, single_action_space: the spaces of one env.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or a ``torch.device``.
        max_episode_steps: time limit (truncation), or ``None`` for none.
        seed: seed of the generator (``None``: a fresh random seed).

    Attributes:
        state: (Tensor, [N, ...]) the envs' current states.
        elapsed: (Tensor, [N] long) steps since each env's last reset.
        generator: the ``torch.Generator`` all randomness comes from.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int, single_observation_space, single_action_space,
                 device: str | torch.device = "auto", max_episode_steps: int | None = None,
                 seed: int | None = None):
        check_int("num_envs", num_envs, 1)
        if max_episode_steps is not None:
            check_int("max_episode_steps", max_episode_steps, 1)
        self.num_envs, self.max_episode_steps = num_envs, max_episode_steps
        self.device = resolve_device(device)
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, num_envs)
        self.action_space = batch_space(single_action_space, num_envs)
        self.generator = torch.Generator(device=self.device)
        self._seed(seed)
        self.elapsed = torch.zeros(num_envs, dtype=torch.long, device=self.device)  # [N]
        self._needs_reset = True

    # ------------------------------------------------------------ to implement
    def _initial_states(self) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _observe(self, state: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _transition(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        raise NotImplementedError  # pragma: no cover - abstract

    def _as_actions(self, actions) -> Tensor:
        """Actions as a tensor [N] of integers on the device (floats are refused: they would be truncated)."""
        a = actions if isinstance(actions, Tensor) else torch.as_tensor(np.asarray(actions))
        if a.shape != (self.num_envs,) or torch.is_floating_point(a) or a.is_complex():
            raise ValueError(f"actions: expected shape ({self.num_envs},) of integers (or bools), "
                             f"got shape {tuple(a.shape)} dtype {a.dtype}")
        return a.to(self.device, non_blocking=True)

    # ------------------------------------------------------------ shared
    def _seed(self, seed: int | None) -> None:
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> 1)
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected a non-negative int or None, got {seed!r}")
        self.generator.manual_seed(int(seed))

    def _reset_info(self) -> dict[str, Tensor]:
        return {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Tensor, dict]:
        """Reset every env; ``seed`` reseeds the generator. Returns ``(obs [N, obs_dim], info)``."""
        if seed is not None:
            self._seed(seed)
        if options:
            raise ValueError(f"options: {type(self).__name__} accepts no options, got {options!r}")
        self.state = self._initial_states()
        self.elapsed.zero_()
        self._needs_reset = False
        return self._observe(self.state), self._reset_info()

    def step(self, actions) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """Advance every env by one step: ``(obs, reward, terminated, truncated, info)``, ``[N, ...]`` each."""
        if self._needs_reset:
            raise RuntimeError("step() called before reset(); call env.reset(seed=...) first")
        new, reward, terminated, final_obs, info = self._transition(self._as_actions(actions))
        self.elapsed += 1
        if self.max_episode_steps is None:
            truncated = torch.zeros_like(terminated)
        else:
            truncated = self.elapsed >= self.max_episode_steps  # [N]
        done = terminated | truncated
        # Same-step autoreset without branching on the host: fresh states are drawn for
        # every env and kept only where the episode ended.
        mask = done.reshape(-1, *([1] * (new.ndim - 1)))  # [N, 1, ...] to broadcast over the state
        self.state = torch.where(mask, self._initial_states(), new)
        self.elapsed.masked_fill_(done, 0)
        info = {"final_obs": final_obs, "_final_obs": done, **info}
        return self._observe(self.state), reward, terminated, truncated, info

    def state_dict(self) -> dict[str, Any]:
        """The envs' full state as plain data (tensors and a bool): enough to continue exactly."""
        state = getattr(self, "state", None)
        return {"state": None if state is None else state.clone(), "elapsed": self.elapsed.clone(),
                "generator": self.generator.get_state(), "needs_reset": self._needs_reset}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (tensors move to this env's device)."""
        if state["state"] is not None:
            self.state = state["state"].to(self.device)
        self.elapsed = state["elapsed"].to(self.device)
        self.generator.set_state(state["generator"])
        self._needs_reset = bool(state["needs_reset"])
