"""PPOTrainer: collect a rollout, compute GAE, take minibatch steps on ``ppo_loss``; repeat.

The trainer only orchestrates; the math lives in :func:`ppo_grpo_lab.gae`,
:func:`ppo_grpo_lab.ppo.loss.ppo_loss` and the core losses. One update ``k`` of ``K``::

    α_k = config.learning_rate_at(k)                (linear annealing if anneal_lr)
    rollout  = T steps of N envs with π_θold          (collect_rollout)
    Â, V^targ = gae(r, V(s), V(s'), terminated, truncated, γ, λ)   (V(s') of the true next state)
    for epoch in 1..update_epochs:                  shuffled, M minibatches of N·T/M
        Â_mb ← (Â_mb − mean) / (std + 1e-8)           if norm_adv (unbiased std)
        L = −L^CLIP + c1 L^VF − c2 H                  (ppo_loss)
        g ← clip(∇L, max_grad_norm); Adam step
        stop early if approx KL > target_kl

Metrics (one record per update, ``step`` = environment steps so far), averaged over the update's minibatches:
``loss/policy``, ``loss/value``, ``loss/entropy``, ``loss/total``, ``stats/entropy``, ``stats/approx_kl``,
``stats/clip_frac``, ``stats/value_clip_frac``, ``stats/grad_norm`` (before clipping); ``stats/explained_variance``
(rollout values vs V^targ), ``stats/epochs``, ``charts/learning_rate``, ``charts/SPS`` (wall-clock). Per finished
episode: ``charts/episode_return``, ``charts/episode_length``.

Several processes (:mod:`ppo_grpo_lab.distributed`, ``torchrun --nproc_per_node R``): each rank runs ``num_envs / R``
of the envs, seeded as one process seeds them, keeps its share of each (shared) minibatch, weights its loss by that
share, and the ranks sum their gradients: R processes compute the update of one process (up to float32 rounding;
tested on CPU with gloo, R = 2) for envs made from an id (a torch env draws all its envs from one generator: valid
runs, not the same run). One process runs the same code.

Checkpoint format (:meth:`PPOTrainer.save`, kind ``"ppo"`` of :mod:`ppo_grpo_lab.checkpoint`; plain data only, so
it loads with ``torch.load(path, weights_only=True)``)::

    format, kind          1, "ppo"
    config                PPOConfig.to_dict()
    env_id                the Gymnasium id, or None when the run was given an env object
    agent, optimizer      state_dicts of the ActorCritic and of Adam
    rng                   checkpoint.rng_state(generator=...): torch's state and the trainer's generator
    global_step, update   counters (environment steps, updates done)
    obs                   [N, obs_dim] observations to continue from (None: reset on resume)
    tracker               {"return": [N], "length": [N]} of the running episodes (or None)
    history               History.records, a list of {"step": int, name: float}
    env_state             envs.snapshot.vector_env_state(env) (None: not restorable, or R > 1)
    normalizer            Normalizer.state_dict() with norm_obs or norm_reward (running stats), else None

With several processes only rank 0 writes and the envs' state is left out: a resumed run restarts its episodes from
the reset.
"""
from __future__ import annotations

import time

import gymnasium as gym
import torch
from torch import Tensor

from .. import distributed as ddp
from .._checks import NonFiniteError
from ..checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ..device import resolve_device
from ..envs.snapshot import load_vector_env_state, vector_env_state
from ..history import History
from ..progress import tqdm
from .agent import ActorCritic
from .config import PPOConfig
from .loss import ppo_loss
from .normalize import make_normalizer
from .rollout import EpisodeTracker, VecEnvAdapter, collect_rollout, compute_advantages, make_vec_env

__all__ = ["PPOTrainer", "train_ppo"]

_CHECKED = ("loss/total", "loss/policy", "loss/value", "stats/entropy")  # must be finite at every step
_FIX_HINT = "try a lower learning_rate, keep max_grad_norm set, and check the env's observations and rewards for NaN/inf"


class PPOTrainer:
    """Proximal Policy Optimisation on a vector environment.

    Args:
        env: a Gymnasium env id (``"CartPole-v1"``), or a vector env with ``SAME_STEP`` autoreset and ``config.num_envs``
            envs (e.g. from :func:`~ppo_grpo_lab.ppo.make_vec_env`, or a ``TorchCartPoleVectorEnv``).
        config: a :class:`PPOConfig`; None: ``PPOConfig.for_env(env)``, the defaults for the env's action space.
        env_id: alternative keyword for a Gymnasium env id.

    ``rank``, ``world_size`` and ``local_envs`` (= num_envs / world_size, the envs this process runs) describe this
    process (0, 1, num_envs without ``torchrun``); a vector env given as ``env`` must hold ``local_envs`` envs.

    Example:
        >>> trainer = PPOTrainer(env_id="CartPole-v1", config=PPOConfig(total_timesteps=2048, progress=False))
        >>> history = trainer.train()
        >>> trainer.save("ppo.pt"); trainer = PPOTrainer.load("ppo.pt")   # resume later
    """

    def __init__(self, env: str | gym.vector.VectorEnv | None = None, config: PPOConfig | None = None, *,
                 env_id: str | None = None):
        self.config = config = config if config is not None else PPOConfig.for_env(env if env is not None else env_id)
        if not isinstance(config, PPOConfig):
            raise ValueError(f"config: expected a PPOConfig, got {type(config).__name__}")
        if isinstance(env, str):
            env_id, env = env, None
        if env is None and env_id is None:
            raise ValueError("env: expected a Gymnasium env id such as 'CartPole-v1' or a vector env, got None")
        self.env_id = env_id
        self.rank, self.world_size, self.device = ddp.setup(resolve_device(config.device))
        R = self.world_size
        if config.num_envs % R:
            raise ValueError(f"num_envs: expected a multiple of the number of processes {R} (each runs "
                             f"num_envs/{R} envs), got {config.num_envs}; set num_envs to a multiple of {R}")
        self.local_envs = k = config.num_envs // R  # envs of this rank: offset … offset+k−1
        self.env_offset = self.rank * k
        env = make_vec_env(env_id, k) if env is None else env
        if getattr(env, "num_envs", None) != k:
            share = "" if R == 1 else f" / {R} processes"
            raise ValueError(f"env: expected a vector env with config.num_envs{share} = {k} envs, "
                             f"got {getattr(env, 'num_envs', type(env).__name__)}")
        norm = make_normalizer(config, env.single_observation_space, k, self.device, R)  # None: not normalising
        self.env = VecEnvAdapter(env, self.device, norm)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.agent = ActorCritic(env.single_observation_space, env.single_action_space,
                                     config.hidden_sizes, config.activation).to(self.device)
        ddp.broadcast_module(self.agent)  # same seed, same weights; the broadcast makes sure of it
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=config.learning_rate, eps=config.adam_eps, foreach=True)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.history = History()
        self.global_step, self.update = 0, 0  # environment steps so far (summed over envs), updates done
        self.obs, self.tracker = None, EpisodeTracker(k, self.device)  # obs: [N, obs_dim] to continue from

    # ----------------------------------------------------------------- training
    def train(self, num_updates: int | None = None) -> History:
        """Run updates until ``config.total_timesteps`` (or only ``num_updates`` more); return the History.

        Calling ``train`` again continues where it stopped (same schedule, same RNG streams).
        """
        K = self.config.num_updates
        last = K if num_updates is None else min(K, self.update + num_updates)
        if self.obs is None:
            self.obs = self.env.reset(seed=self._env_seed())
        bar = tqdm(total=K, initial=self.update, disable=not self.config.progress or self.rank != 0, desc="PPO",
                   unit="update")
        try:
            while self.update < last:
                self._update()
                if not bar.disable and "charts/episode_return" in self.history.keys():
                    bar.set_postfix(ret20=f"{self.mean_return(20):.1f}", step=self.global_step)
                bar.update(1)
        finally:
            bar.close()
        return self.history

    def _env_seed(self) -> int:
        """Seed of this rank's first env: a Gymnasium vector env seeds its env i with seed + i, so rank r
        (envs r·k …) starts at ``seed + r·k`` and its envs are those of the single-process run.
        """
        return self.config.seed + self.env_offset

    def mean_return(self, last: int = 20) -> float:
        """Mean of the last ``last`` finished episodes' returns (NaN before the first one)."""
        if "charts/episode_return" not in self.history.keys():
            return float("nan")
        return float(self.history.series("charts/episode_return")[1][-last:].mean())

    def _where(self, k: int, epoch: int | None = None, mb: int | None = None) -> str:
        s = f"PPO update {k}/{self.config.num_updates} (env step {self.global_step})"
        return s if epoch is None else f"{s}, epoch {epoch}, minibatch {mb}"

    def _update(self) -> None:
        """One update: rollout, GAE, then epochs of minibatch steps (the loop of the module docstring)."""
        cfg, k, t0, step0 = self.config, self.update + 1, time.perf_counter(), self.global_step
        lr = cfg.learning_rate_at(k)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        ro, self.obs, episodes = collect_rollout(self.env, self.agent, self.obs, cfg.num_steps, self.tracker,
                                                 self.generator, (self.env_offset, cfg.num_envs))
        self.global_step += cfg.batch_size
        self._check_rollout(ro, k)
        advantages, targets, _ = compute_advantages(self.agent, ro, cfg.gamma, cfg.gae_lambda)  # [T, N] each
        batch = {"obs": ro.obs.flatten(0, 1), "actions": ro.actions.flatten(0, 1),  # [B, ...], B = T · local envs
                 "log_probs": ro.log_probs.flatten(), "values": ro.values.flatten(),
                 "advantages": advantages.flatten(), "targets": targets.flatten()}
        sums, n_mb = 0.0, 0  # the minibatches' statistics, summed as one vector (names: self._stat_names)
        for epoch in range(1, cfg.update_epochs + 1):
            perm = torch.randperm(cfg.batch_size, generator=self.generator, device=self.device)  # all N·T
            epoch_stats = []
            for m in range(cfg.num_minibatches):
                mb = perm[m * cfg.minibatch_size:(m + 1) * cfg.minibatch_size]  # [N·T/M], index t·N + n
                idx, n_real = ddp.shard_indices(mb, cfg.num_envs, self.env_offset, self.local_envs)  # this rank's
                epoch_stats.append(self._minibatch_step({key: x[idx] for key, x in batch.items()}, n_real,
                                                        (k, epoch, m + 1)))
                sums, n_mb = sums + epoch_stats[-1], n_mb + 1
            kl = None if cfg.target_kl is None else torch.stack(epoch_stats)[:, self._stat_names.index("stats/approx_kl")]
            if kl is not None and float(kl.contiguous().mean()) > cfg.target_kl:  # the epoch's mean approximate KL
                break
        metrics = dict(zip(self._stat_names, (sums / n_mb).tolist()))
        metrics["stats/explained_variance"] = ddp.global_explained_variance(batch["values"], batch["targets"])
        metrics.update({"stats/epochs": epoch, "charts/learning_rate": lr})
        metrics["charts/SPS"] = cfg.batch_size / max(time.perf_counter() - t0, 1e-9)
        self._log_episodes(step0, episodes)
        self.history.log(self.global_step, metrics)
        self.update = k

    def _check_rollout(self, ro, k: int) -> None:
        for name, x in (("observations", ro.obs), ("rewards", ro.rewards), ("values V(s)", ro.values),
                        ("log-probabilities", ro.log_probs), ("next observations", ro.next_obs)):
            if not bool(torch.isfinite(x).all()):
                raise FloatingPointError(f"{self._where(k)}: rollout {name} contain NaN/inf; {_FIX_HINT}")

    def _minibatch_step(self, mb: dict[str, Tensor], n_real: int, where: tuple[int, int, int]) -> Tensor:
        """One gradient step on this process's ``n_real`` samples of a minibatch (all of it with one
        process; none: one placeholder sample). The loss is weighted by w = n_real / minibatch_size and
        the gradients and statistics summed over processes, Σ_r w_r · mean_r = the minibatch mean; returns
        them as one vector (names: ``self._stat_names``), checked for NaN/inf with one host sync.
        """
        cfg, agent = self.config, self.agent
        log_probs, values, out = agent.evaluate(mb["obs"], mb["actions"])
        adv = ddp.global_normalize(mb["advantages"], n_real) if cfg.norm_adv else mb["advantages"]
        args = (log_probs, mb["log_probs"], adv, values, mb["targets"])
        kwargs = dict(logits=out if agent.discrete else None, entropies=None if agent.discrete else agent.entropy(out),
                      old_values=None if cfg.value_clip_eps is None else mb["values"], clip_eps=cfg.clip_eps,
                      vf_coef=cfg.vf_coef, ent_coef=cfg.ent_coef, vf_clip=cfg.value_clip_eps)
        loss, stats = ppo_loss(*args, **kwargs, check_finite=False)  # checked below, with the gradient norm
        w = n_real / cfg.minibatch_size
        self.optimizer.zero_grad(set_to_none=True)
        (loss * w).backward()
        keys = sorted(stats)
        summed = ddp.all_reduce_grads(agent.parameters(), torch.stack([stats[key] for key in keys]).to(loss.dtype) * w)
        grad_norm = torch.nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm or float("inf"))
        checked = [stats[c] for c in _CHECKED] + [grad_norm]
        if not bool(torch.isfinite(torch.stack(checked)).all()):
            self._explain_non_finite(args, kwargs, checked, self._where(*where))
        self.optimizer.step()
        self._stat_names = (*keys, "stats/grad_norm")
        return torch.cat([summed, grad_norm.detach().reshape(1).to(summed.dtype)])

    def _explain_non_finite(self, args, kwargs, checked: list[Tensor], where: str) -> None:
        """Raise FloatingPointError naming the first non-finite quantity: a loss input, a loss term, the gradient."""
        try:
            ppo_loss(*args, **kwargs)  # the checked path names a non-finite input
        except NonFiniteError as exc:
            raise FloatingPointError(f"{where}: {exc}; {_FIX_HINT}") from exc
        bad = next(i for i, x in enumerate(checked) if not bool(torch.isfinite(x)))
        if bad < len(_CHECKED):
            raise FloatingPointError(f"{where}: {_CHECKED[bad]} is {checked[bad].item()}; {_FIX_HINT}")
        raise FloatingPointError(f"{where}: gradient norm stats/grad_norm is {checked[bad].item()} "
                                 f"(loss/total = {checked[0].item():.4g}); {_FIX_HINT}")

    def _log_episodes(self, step0: int, episodes: dict[str, Tensor]) -> None:
        """Log every env's finished episodes (gathered from all ranks, [T, N] in env order)."""
        done = ddp.all_gather_cat(episodes["done"].to(torch.uint8), 1).bool().cpu()
        if not bool(done.any()):
            return
        rets, lens = (ddp.all_gather_cat(episodes[key], 1).cpu() for key in ("return", "length"))
        N = self.config.num_envs
        for t, n in done.nonzero().tolist():  # time-major order
            self.history.log(step0 + (t + 1) * N, {"charts/episode_return": rets[t, n],
                                                   "charts/episode_length": lens[t, n]})

    # -------------------------------------------------------------- checkpoints
    def save(self, path: str) -> None:
        """Checkpoint everything needed to resume exactly (the format is in the module docstring).
        With several processes only rank 0 writes, without the envs' state.
        """
        if self.rank != 0:
            return
        one = self.world_size == 1
        save_checkpoint(path, "ppo", {
            "config": self.config.to_dict(), "env_id": self.env_id,
            "agent": self.agent.state_dict(), "optimizer": self.optimizer.state_dict(),
            "rng": rng_state(generator=self.generator), "global_step": self.global_step, "update": self.update,
            "obs": self.obs if one else None,
            "tracker": {"return": self.tracker.ret, "length": self.tracker.length} if one else None,
            "history": self.history.records, "env_state": vector_env_state(self.env.env) if one else None,
            "normalizer": None if self.env.normalizer is None else self.env.normalizer.state_dict()})

    @classmethod
    def load(cls, path: str, env: gym.vector.VectorEnv | None = None, **overrides) -> PPOTrainer:
        """Rebuild a trainer from :meth:`save`. Pass ``env`` when the run used an env object rather than an
        env id; ``overrides`` replace config fields (e.g. ``progress=False``). The file is read with
        ``weights_only=True``; one that is not a plain-data PPO checkpoint raises
        :class:`~ppo_grpo_lab.checkpoint.CheckpointError`.
        """
        ckpt = load_checkpoint(path, kind="ppo")
        if "num_envs" in overrides and overrides["num_envs"] != ckpt["config"]["num_envs"]:
            raise ValueError(f"num_envs: the checkpoint ran {ckpt['config']['num_envs']} envs and can only resume "
                             f"with that many, got {overrides['num_envs']}")
        trainer = cls(env if env is not None else ckpt["env_id"], PPOConfig.from_dict({**ckpt["config"], **overrides}))
        dev = trainer.device
        trainer.agent.load_state_dict(ckpt["agent"])
        trainer.optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"], generator=trainer.generator)
        trainer.global_step, trainer.update = ckpt["global_step"], ckpt["update"]
        trainer.obs = None if ckpt["obs"] is None else ckpt["obs"].to(dev)
        if ckpt["tracker"] is not None:
            trainer.tracker.ret, trainer.tracker.length = (ckpt["tracker"][key].to(dev) for key in ("return", "length"))
        trainer.history = History(records=[dict(r) for r in ckpt["history"]])
        load_vector_env_state(trainer.env.env, ckpt["env_state"])
        if ckpt.get("normalizer") is not None and trainer.env.normalizer is not None:  # None: not normalising
            trainer.env.normalizer.load_state_dict(ckpt["normalizer"])
        return trainer


def train_ppo(env: str | gym.vector.VectorEnv, config: PPOConfig | None = None) -> History:
    """One-call PPO: ``PPOTrainer(env, config).train()``; returns the History."""
    return PPOTrainer(env, config).train()
