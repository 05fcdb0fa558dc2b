"""Collecting a rollout: T steps of N environments into time-major ``[T, N]`` tensors.

One code path serves two kinds of vector environments, both with Gymnasium's
``SAME_STEP`` autoreset (the observation returned at a done step is already the first
observation of the next episode; the true last observation is in ``info["final_obs"]``):

- Gymnasium vector envs (numpy; ``final_obs`` is an object array with ``None`` where
  an env did not end), wrapped by :class:`VecEnvAdapter` which moves data to the device;
- torch-native vector envs such as
  :class:`ppo_grpo_lab.envs.torch_cartpole.TorchCartPoleVectorEnv`, which already return
  tensors on their device: the whole rollout stays there.

Truncation is not termination. For every step we store ``next_obs[t]`` = the true
``s_{t+1}`` (the final observation where the episode ended), and the trainer computes
``next_values[t] = V(next_obs[t])`` in one batched pass. GAE then bootstraps with it at
truncated steps and multiplies it by 0 at terminated ones.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from ..gae import gae
from .agent import ActorCritic

__all__ = ["VecEnvAdapter", "Rollout", "EpisodeTracker", "collect_rollout", "compute_advantages", "make_vec_env"]


def make_vec_env(env_id: str, num_envs: int, **env_kwargs) -> gym.vector.VectorEnv:
    """A synchronous Gymnasium vector env with ``SAME_STEP`` autoreset."""
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}, **env_kwargs)


class VecEnvAdapter:
    """Uniform tensor interface over a Gymnasium (numpy) or torch-native vector env.

    ``step(actions)`` returns ``(obs, reward, terminated, truncated, next_obs)``, all tensors on
    ``device``: ``obs`` [N, obs_dim] is what the agent sees next (already reset where done),
    ``next_obs`` [N, obs_dim] is the true ``s_{t+1}`` (the final observation where done).
    With a ``normalizer`` (:class:`~ppo_grpo_lab.ppo.normalize.Normalizer`) observations and rewards come
    out normalised; ``raw_reward`` [N] keeps the last step's reward as the env gave it.
    """

    def __init__(self, env: gym.vector.VectorEnv, device: torch.device, normalizer=None):
        mode = env.metadata.get("autoreset_mode", None)
        if mode is None or getattr(mode, "value", mode) != gym.vector.AutoresetMode.SAME_STEP.value:
            raise ValueError(f"env: expected a vector env with autoreset_mode=SAME_STEP, got {mode!r}; "
                             "create it with ppo_grpo_lab.ppo.make_vec_env(env_id, num_envs)")
        self.env = env
        self.num_envs = env.num_envs
        self.device = device
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space
        self.is_torch = bool(getattr(env, "device", None) is not None)
        self.normalizer = normalizer
        self.raw_reward: Tensor | None = None

    def _t(self, x, dtype=torch.float32) -> Tensor:
        """A new tensor (always a copy: the rollout keeps it while the env may reuse its buffers)."""
        if isinstance(x, Tensor):
            return x.to(self.device, dtype=dtype, non_blocking=True, copy=True)
        return torch.tensor(x, dtype=dtype, device=self.device)

    def reset(self, seed: int | None = None) -> Tensor:
        """Reset every env; returns the observations as a tensor ``[N, obs_dim]``."""
        obs, _ = self.env.reset(seed=seed)
        obs = self._t(obs)
        return obs if self.normalizer is None else self.normalizer.obs(obs, update=True)

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Step every env; returns tensors ``(obs, reward, terminated, truncated, final_obs)``, each with N rows."""
        if self.is_torch:
            env_actions = actions.to(getattr(self.env, "device", actions.device))
        else:
            env_actions = actions.cpu().numpy()
        obs, reward, terminated, truncated, info = self.env.step(env_actions)
        obs_t = self._t(obs)
        if "final_obs" in info and isinstance(info["final_obs"], Tensor):
            next_obs = self._t(info["final_obs"])  # full [N, obs_dim]: s_{t+1} in every row
        elif "_final_obs" in info and np.any(info["_final_obs"]):
            rows = np.asarray(obs, dtype=np.float32).copy()
            for i in np.flatnonzero(info["_final_obs"]):
                rows[i] = info["final_obs"][i]
            next_obs = self._t(rows)
        else:
            next_obs = obs_t
        self.raw_reward = self._t(reward)
        out = (obs_t, self.raw_reward, self._t(terminated, torch.bool), self._t(truncated, torch.bool), next_obs)
        return out if self.normalizer is None else self.normalizer.step(*out)


@dataclass
class Rollout:
    """One rollout, time-major ``[T, N]`` (the trainer flattens it to ``B = T·N`` samples).

    Attributes:
        obs: (Tensor, [T, N, obs_dim]) s_t.
        actions: (Tensor, [T, N] or [T, N, D]) a_t.
        log_probs: (Tensor, [T, N]) log π_θold(a_t|s_t).
        values: (Tensor, [T, N]) V(s_t) at rollout time.
        rewards: (Tensor, [T, N]) r_t.
        terminated: (bool Tensor, [T, N]) episode ended with no future after step t.
        truncated: (bool Tensor, [T, N]) episode cut by a time limit after step t.
        next_obs: (Tensor, [T, N, obs_dim]) the true s_{t+1} (final observation at episode ends).
    """

    obs: Tensor
    actions: Tensor
    log_probs: Tensor
    values: Tensor
    rewards: Tensor
    terminated: Tensor
    truncated: Tensor
    next_obs: Tensor

    def __iter__(self):
        return iter(getattr(self, f.name) for f in fields(self))


class EpisodeTracker:
    """Running return and length per env, on the device; finished episodes read once per rollout."""

    def __init__(self, num_envs: int, device: torch.device):
        self.ret = torch.zeros(num_envs, device=device)  # [N]
        self.length = torch.zeros(num_envs, dtype=torch.long, device=device)  # [N]

    def step(self, reward: Tensor, done: Tensor) -> tuple[Tensor, Tensor]:
        """Add one step; return (returns, lengths) [N] as they stand (meaningful where ``done``)."""
        self.ret += reward
        self.length += 1
        out = (self.ret.clone(), self.length.clone())
        self.ret.masked_fill_(done, 0.0)
        self.length.masked_fill_(done, 0)
        return out


@torch.no_grad()
def collect_rollout(env: VecEnvAdapter, agent: ActorCritic, obs: Tensor, num_steps: int,
                    tracker: EpisodeTracker, generator: torch.Generator | None = None,
                    shard: tuple[int, int] | None = None) -> tuple[Rollout, Tensor, dict[str, Tensor]]:
    """Run ``num_steps`` steps of every env with the current policy.

    Args:
        env: the adapted vector env (N envs).
        agent: the actor-critic.
        obs: (Tensor, [N, obs_dim]) current observations.
        num_steps: T.
        tracker: per-env running episode statistics.
        generator: torch generator for action sampling (seeded by the trainer).
        shard: ``(offset, total)`` when these N envs are envs ``offset … offset+N−1`` of ``total`` spread
            over processes (see :meth:`ppo_grpo_lab.ppo.agent.ActorCritic.act`); None for a single process.

    Returns:
        ``(rollout, obs, episodes)``: the :class:`Rollout`, the observations to continue from,
        and ``episodes = {"done", "return", "length"}`` ([T, N] each) to read finished episodes from.
    """
    steps = []  # per step: obs, action, log π, V, reward, terminated, truncated, next obs, return, length
    for _ in range(num_steps):
        action, log_prob, value = agent.act(obs, generator, shard)
        nxt, reward, term, trunc, final = env.step(ActorCritic.env_actions(action, env.single_action_space))
        raw = getattr(env, "raw_reward", None)  # episode returns in the env's own rewards
        steps.append((obs, action, log_prob, value, reward, term, trunc, final,
                      *tracker.step(reward if raw is None else raw, term | trunc)))
        obs = nxt
    # one stack per field ([T, N, ...]) instead of T writes into preallocated buffers
    (buf_obs, buf_act, buf_logp, buf_val, buf_rew, buf_term, buf_trunc, buf_next, ep_ret, ep_len
     ) = (torch.stack(field) for field in zip(*steps))
    rollout = Rollout(buf_obs, buf_act, buf_logp, buf_val, buf_rew, buf_term, buf_trunc, buf_next)
    return rollout, obs, {"done": buf_term | buf_trunc, "return": ep_ret, "length": ep_len}


@torch.no_grad()
def compute_advantages(agent: ActorCritic, rollout: Rollout, gamma: float, lam: float
                       ) -> tuple[Tensor, Tensor, Tensor]:
    """GAE on a rollout, bootstrapping truncated steps with ``V(final obs)``.

    ``next_values[t] = V(next_obs[t])`` in one batched critic pass over all T·N true next states;
    GAE zeroes it where ``terminated`` and keeps it where ``truncated``. The inputs (shapes,
    finiteness, γ, λ) are checked once, by :func:`ppo_grpo_lab.gae`.

    Args:
        agent: the actor-critic (its critic gives V(s_{t+1})).
        rollout: a :class:`Rollout` of T steps of N envs.
        gamma: γ in [0, 1].
        lam: λ in [0, 1].

    Returns:
        ``(advantages, value_targets, next_values)``, each (Tensor, [T, N]).
    """
    T, N = rollout.rewards.shape
    next_values = agent.value(rollout.next_obs.reshape(T * N, -1)).reshape(T, N)  # V(s_{t+1}), [T, N]
    # gae validates once (one host sync for finiteness), then runs its unchecked kernel gae._gae
    advantages, targets = gae(rollout.rewards, rollout.values, next_values, rollout.terminated,
                              rollout.truncated, gamma, lam)
    return advantages, targets, next_values
