"""A single-file PPO for CartPole in the style of CleanRL's ``ppo.py``, written from scratch.

Used only as a benchmark competitor. It follows CleanRL's published defaults (facts, not
code): 4 envs x 128 steps, Adam lr 2.5e-4 annealed linearly to 0 (eps 1e-5), 4 epochs of
4 minibatches, γ = 0.99, λ = 0.95, clip 0.2, clipped value loss, entropy 0.01, value 0.5,
gradient norm 0.5, per-minibatch advantage normalisation, two separate 64-64 tanh MLPs with
orthogonal initialisation, and — like CleanRL — a time-limit truncation is treated as a
termination (no bootstrap from the final observation).

    .venv/bin/python benchmarks/cleanrl_style_ppo.py --seed 1 [--total-timesteps 500000]

``run(...)`` returns when the mean return of the last 20 finished episodes first reaches the
target (475 by default) or the budget is spent, with the wall time and env steps it took.
"""
from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical


@dataclass
class Settings:
    seed: int = 1
    env_id: str = "CartPole-v1"
    total_timesteps: int = 500_000
    learning_rate: float = 2.5e-4
    num_envs: int = 4
    num_steps: int = 128
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 4
    norm_adv: bool = True
    clip_coef: float = 0.2
    clip_vloss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5


def _ortho(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class Agent(nn.Module):
    """Critic V(s) and actor logits(s): two 64-64 tanh MLPs."""

    def __init__(self, obs_dim: int, n_actions: int):
        super().__init__()
        g = float(np.sqrt(2.0))
        self.critic = nn.Sequential(_ortho(nn.Linear(obs_dim, 64), g), nn.Tanh(),
                                    _ortho(nn.Linear(64, 64), g), nn.Tanh(), _ortho(nn.Linear(64, 1), 1.0))
        self.actor = nn.Sequential(_ortho(nn.Linear(obs_dim, 64), g), nn.Tanh(),
                                   _ortho(nn.Linear(64, 64), g), nn.Tanh(), _ortho(nn.Linear(64, n_actions), 0.01))

    def value(self, obs):
        return self.critic(obs).squeeze(-1)

    def policy_and_value(self, obs, action=None):
        dist = Categorical(logits=self.actor(obs))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.value(obs)


def run(s: Settings, target: float = 475.0, window: int = 20, stop_when_solved: bool = True) -> dict:
    """Train; return ``{"solved", "steps", "seconds", "episodes", "last_mean"}``."""
    random.seed(s.seed)
    np.random.seed(s.seed)
    torch.manual_seed(s.seed)
    t_start = time.perf_counter()
    envs = gym.make_vec(s.env_id, num_envs=s.num_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    obs_dim = envs.single_observation_space.shape[0]
    agent = Agent(obs_dim, envs.single_action_space.n)
    opt = torch.optim.Adam(agent.parameters(), lr=s.learning_rate, eps=1e-5)
    T, N = s.num_steps, s.num_envs
    batch = T * N
    mb_size = batch // s.num_minibatches
    n_updates = s.total_timesteps // batch
    obs_buf = torch.zeros(T, N, obs_dim)
    act_buf = torch.zeros(T, N, dtype=torch.long)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros(T, N) for _ in range(4))
    next_obs = torch.as_tensor(envs.reset(seed=s.seed)[0], dtype=torch.float32)
    next_done = torch.zeros(N)
    running = np.zeros(N)
    finished: list[float] = []
    step = 0
    result = {"solved": False, "steps": None, "seconds": None}
    for update in range(1, n_updates + 1):
        if s.anneal_lr:
            opt.param_groups[0]["lr"] = s.learning_rate * (1.0 - (update - 1.0) / n_updates)
        for t in range(T):
            step += N
            obs_buf[t], done_buf[t] = next_obs, next_done
            with torch.no_grad():
                action, logp, _, value = agent.policy_and_value(next_obs)
            act_buf[t], logp_buf[t], val_buf[t] = action, logp, value
            o, r, term, trunc, _ = envs.step(action.numpy())
            done = np.logical_or(term, trunc)  # CleanRL: truncation handled as termination
            rew_buf[t] = torch.as_tensor(r, dtype=torch.float32)
            next_obs = torch.as_tensor(o, dtype=torch.float32)
            next_done = torch.as_tensor(done, dtype=torch.float32)
            running += r
            for i in np.flatnonzero(done):
                finished.append(float(running[i]))
                running[i] = 0.0
                if (not result["solved"] and len(finished) >= window
                        and np.mean(finished[-window:]) >= target):
                    result = {"solved": True, "steps": step, "seconds": time.perf_counter() - t_start}
            if result["solved"] and stop_when_solved:
                break
        if result["solved"] and stop_when_solved:
            break
        # GAE, backwards; done_buf[t] says whether obs_buf[t] starts a new episode
        with torch.no_grad():
            next_value = agent.value(next_obs)
            adv = torch.zeros(T, N)
            last = torch.zeros(N)
            for t in reversed(range(T)):
                if t == T - 1:
                    nonterminal, v_next = 1.0 - next_done, next_value
                else:
                    nonterminal, v_next = 1.0 - done_buf[t + 1], val_buf[t + 1]
                delta = rew_buf[t] + s.gamma * v_next * nonterminal - val_buf[t]
                last = delta + s.gamma * s.gae_lambda * nonterminal * last
                adv[t] = last
            ret = adv + val_buf
        b_obs, b_act = obs_buf.reshape(batch, obs_dim), act_buf.reshape(batch)
        b_logp, b_adv = logp_buf.reshape(batch), adv.reshape(batch)
        b_ret, b_val = ret.reshape(batch), val_buf.reshape(batch)
        for _ in range(s.update_epochs):
            perm = torch.randperm(batch)
            for start in range(0, batch, mb_size):
                mb = perm[start:start + mb_size]
                _, new_logp, entropy, new_val = agent.policy_and_value(b_obs[mb], b_act[mb])
                ratio = (new_logp - b_logp[mb]).exp()
                mb_adv = b_adv[mb]
                if s.norm_adv:
                    mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio,
                                    -mb_adv * ratio.clamp(1 - s.clip_coef, 1 + s.clip_coef)).mean()
                if s.clip_vloss:
                    v_clipped = b_val[mb] + (new_val - b_val[mb]).clamp(-s.clip_coef, s.clip_coef)
                    v_loss = 0.5 * torch.max((new_val - b_ret[mb]) ** 2, (v_clipped - b_ret[mb]) ** 2).mean()
                else:
                    v_loss = 0.5 * ((new_val - b_ret[mb]) ** 2).mean()
                loss = pg_loss - s.ent_coef * entropy.mean() + s.vf_coef * v_loss
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), s.max_grad_norm)
                opt.step()
    envs.close()
    if not result["solved"]:
        result = {"solved": False, "steps": step, "seconds": time.perf_counter() - t_start}
    result.update(episodes=len(finished), last_mean=float(np.mean(finished[-window:])) if finished else float("nan"))
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--total-timesteps", type=int, default=500_000)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = run(Settings(seed=a.seed, total_timesteps=a.total_timesteps))
    print(out)
    return out


if __name__ == "__main__":
    main()
