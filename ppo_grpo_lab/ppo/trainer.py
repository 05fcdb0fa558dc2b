"""PPOTrainer: collect a rollout, compute GAE, take minibatch steps on ``ppo_loss``; repeat.

The trainer only orchestrates; the math lives in :func:`ppo_grpo_lab.gae`,
:func:`ppo_grpo_lab.ppo.loss.ppo_loss` and the core losses. One update ``k`` of ``K``::

    α_k = α (1 − (k−1)/K)                           if anneal_lr
    rollout  = T steps of N envs with π_θold          (collect_rollout)
    V(s_{t+1}) for every step, the final obs at episode ends
    Â, V^targ = gae(r, V(s), V(s'), terminated, truncated, γ, λ)
    for epoch in 1..update_epochs:                  shuffled, M minibatches of N·T/M
        Â_mb ← (Â_mb − mean) / std                    if norm_adv
        L = −L^CLIP + c1 L^VF − c2 H                  (ppo_loss)
        g ← clip(∇L, max_grad_norm); Adam step
        stop early if approx KL > target_kl

Metrics (one record per update, ``step`` = environment steps so far): ``loss/policy``,
``loss/value``, ``loss/entropy``, ``loss/total``, ``stats/entropy``, ``stats/approx_kl``,
``stats/clip_frac``, ``stats/value_clip_frac``, ``stats/grad_norm`` (before clipping), all
averaged over the update's minibatches; ``stats/explained_variance`` of the rollout values
against V^targ; ``charts/learning_rate``, ``charts/SPS`` (environment steps per second,
wall-clock, so not reproducible). One record per finished episode: ``charts/episode_return``,
``charts/episode_length``.

Several processes (data parallelism, see :mod:`ppo_grpo_lab.distributed`): launched with
``torchrun --nproc_per_node R script.py`` (or with ``torch.distributed`` already initialised), each of
the R ranks runs ``num_envs / R`` of the envs, seeded as the single-process run seeds them, keeps its
envs' samples of each (shared) minibatch and weights its loss by its share of it; the ranks sum their
gradients, so R processes compute the same update as one process with all ``num_envs`` envs (up to
float32 summation order; tested on CPU with gloo and R = 2; NCCL on GPUs untested). This holds for
envs made from an env id (Gymnasium seeds sub-env i with seed + i); a torch-native vector env draws
all its envs from one generator, so its multi-process runs are valid but not the same run. Metrics and
episodes are global and identical on every rank; only rank 0 shows the progress bar and writes
checkpoints. A checkpoint of a multi-process run keeps the model, optimiser, RNG and History but not
the envs' state: resuming restarts the episodes from the seeded reset.
"""
from __future__ import annotations

import pickle
import time

import gymnasium as gym
import torch
from ..progress import tqdm

from ..device import resolve_device
from ..history import History
from .agent import ActorCritic
from .. import distributed as ddp
from .config import PPOConfig
from .loss import explained_variance, normalize_advantages, ppo_loss
from .rollout import EpisodeTracker, VecEnvAdapter, collect_rollout, compute_advantages, make_vec_env

__all__ = ["PPOTrainer", "train_ppo"]

_FIX_HINT = ("try a lower learning_rate, keep max_grad_norm set, and check the environment's observations "
             "and rewards for NaN/inf")


class PPOTrainer:
    """Proximal Policy Optimisation on a vector environment.

    Args:
        env: a Gymnasium env id (``"CartPole-v1"``), or a vector env with ``SAME_STEP`` autoreset
            (e.g. from :func:`ppo_grpo_lab.ppo.make_vec_env` or a
            :class:`~ppo_grpo_lab.envs.torch_cartpole.TorchCartPoleVectorEnv`) with ``config.num_envs`` envs.
        config: a :class:`PPOConfig` (defaults if None).
        env_id: alternative keyword for a Gymnasium env id.

    Under ``torchrun`` (or with ``torch.distributed`` initialised) ``rank``, ``world_size`` and
    ``local_envs`` (= num_envs / world_size, the envs this process runs) describe this process; a
    vector env given as ``env`` must then hold ``local_envs`` envs. Single process: 0, 1, num_envs.

    Example:
        >>> trainer = PPOTrainer(env_id="CartPole-v1", config=PPOConfig(total_timesteps=2048, progress=False))
        >>> history = trainer.train()
        >>> trainer.save("ppo.pt"); trainer = PPOTrainer.load("ppo.pt")   # resume later
    """

    def __init__(self, env: str | gym.vector.VectorEnv | None = None, config: PPOConfig | None = None, *,
                 env_id: str | None = None):
        self.config = config = config if config is not None else PPOConfig()
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
        if env is None:
            env = make_vec_env(env_id, k)
        if getattr(env, "num_envs", None) != k:
            share = "" if R == 1 else f" / {R} processes"
            raise ValueError(f"env: expected a vector env with config.num_envs{share} = {k} envs, "
                             f"got {getattr(env, 'num_envs', type(env).__name__)}")
        self.env = VecEnvAdapter(env, self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.agent = ActorCritic(env.single_observation_space, env.single_action_space,
                                     config.hidden_sizes, config.activation).to(self.device)
        if R > 1:  # same seed gives the same weights; broadcasting makes sure of it
            for p in self.agent.parameters():
                torch.distributed.broadcast(p.data, src=0)
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=config.learning_rate, eps=config.adam_eps)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(config.seed)
        self.history = History()
        self.global_step = 0  # environment steps so far (summed over envs)
        self.update = 0  # updates done
        self.obs = None  # [N, obs_dim] observations to continue from
        self.tracker = EpisodeTracker(k, self.device)

    # ----------------------------------------------------------------- training
    def train(self, num_updates: int | None = None) -> History:
        """Run updates until ``config.total_timesteps`` (or only ``num_updates`` more); return the History.

        Calling ``train`` again continues where it stopped (same schedule, same RNG streams).
        """
        cfg = self.config
        K = cfg.num_updates
        last = K if num_updates is None else min(K, self.update + num_updates)
        if self.obs is None:
            self.obs = self.env.reset(seed=self._env_seed())
        bar = tqdm(total=K, initial=self.update, disable=not cfg.progress or self.rank != 0, desc="PPO",
                   unit="update")
        try:
            while self.update < last:
                self._update()
                if len(self.history) and "charts/episode_return" in self.history.keys():
                    bar.set_postfix(ret20=f"{self.mean_return(20):.1f}", step=self.global_step)
                bar.update(1)
        finally:
            bar.close()
        return self.history

    def _env_seed(self) -> int:
        """Seed of this rank's first env: a Gymnasium vector env seeds its env i with seed + i, so rank r
        (envs r·k …) starts at ``seed + r·k`` and its envs are those of the single-process run."""
        return self.config.seed + self.env_offset

    @property
    def _shard(self) -> tuple[int, int] | None:
        return None if self.world_size == 1 else (self.env_offset, self.config.num_envs)

    def mean_return(self, last: int = 20) -> float:
        """Mean of the last ``last`` finished episodes' returns (NaN before the first one)."""
        if "charts/episode_return" not in self.history.keys():
            return float("nan")
        return float(self.history.series("charts/episode_return")[1][-last:].mean())

    def _where(self, k: int, epoch: int | None = None, mb: int | None = None) -> str:
        s = f"PPO update {k}/{self.config.num_updates} (env step {self.global_step})"
        return s if epoch is None else f"{s}, epoch {epoch}, minibatch {mb}"

    def _update(self) -> None:
        cfg, agent = self.config, self.agent
        k, K = self.update + 1, cfg.num_updates
        t0 = time.perf_counter()
        lr = cfg.learning_rate * (1.0 - (k - 1) / K) if cfg.anneal_lr else cfg.learning_rate
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        step0 = self.global_step
        ro, self.obs, episodes = collect_rollout(self.env, agent, self.obs, cfg.num_steps, self.tracker, self.generator,
                                                   self._shard)
        self.global_step += cfg.batch_size
        for name, x in (("observations", ro.obs), ("rewards", ro.rewards), ("values V(s)", ro.values),
                        ("log-probabilities", ro.log_probs), ("next observations", ro.next_obs)):
            if not bool(torch.isfinite(x).all()):
                raise FloatingPointError(f"{self._where(k)}: rollout {name} contain NaN/inf; {_FIX_HINT}")
        advantages, targets, _ = compute_advantages(agent, ro, cfg.gamma, cfg.gae_lambda)  # [T, N] each
        B = cfg.num_steps * self.local_envs  # this rank's samples (= batch_size with one process)
        b_obs = ro.obs.reshape(B, -1)  # [B, obs_dim]
        b_act = ro.actions.reshape(B, *ro.actions.shape[2:])  # [B] or [B, D]
        b_logp, b_val = ro.log_probs.reshape(B), ro.values.reshape(B)  # [B]
        b_adv, b_targ = advantages.reshape(B), targets.reshape(B)  # [B]
        sums: dict[str, torch.Tensor] = {}
        n_mb = 0
        for epoch in range(1, cfg.update_epochs + 1):
            perm = torch.randperm(cfg.batch_size, generator=self.generator, device=self.device)
            epoch_kl = []
            for m in range(cfg.num_minibatches):
                idx = perm[m * cfg.minibatch_size:(m + 1) * cfg.minibatch_size]  # [B/M] global t·N + n
                n_real = len(idx)
                if self.world_size > 1:  # keep this rank's samples of the global minibatch, as local t·k + j
                    t, n = idx // cfg.num_envs, idx % cfg.num_envs - self.env_offset
                    mine = (n >= 0) & (n < self.local_envs)
                    idx = t[mine] * self.local_envs + n[mine]
                    n_real = len(idx)
                    if n_real == 0:  # nothing here this time: one placeholder sample with weight 0
                        idx = torch.zeros(1, dtype=torch.long, device=self.device)
                stats = self._minibatch_step(b_obs[idx], b_act[idx], b_logp[idx], b_val[idx], b_adv[idx],
                                             b_targ[idx], self._where(k, epoch, m + 1), n_real)
                for key, v in stats.items():
                    sums[key] = sums.get(key, 0.0) + v
                epoch_kl.append(stats["stats/approx_kl"])
                n_mb += 1
            if cfg.target_kl is not None and float(torch.stack(epoch_kl).mean()) > cfg.target_kl:
                break
        metrics = {key: v / n_mb for key, v in sums.items()}
        metrics["stats/explained_variance"] = (explained_variance(b_val, b_targ) if self.world_size == 1
                                               else ddp.global_explained_variance(b_val, b_targ))
        metrics["stats/epochs"] = epoch
        metrics["charts/learning_rate"] = lr
        metrics["charts/SPS"] = cfg.batch_size / max(time.perf_counter() - t0, 1e-9)
        self._log_episodes(step0, episodes)
        self.history.log(self.global_step, metrics)
        self.update = k

    def _minibatch_step(self, obs, actions, old_logp, old_values, adv, targets, where: str,
                        n_real: int | None = None) -> dict:
        """One gradient step. With several processes the first ``n_real`` samples are this rank's share
        of the global minibatch (possibly none: then one placeholder sample with weight 0)."""
        cfg, agent = self.config, self.agent
        R = self.world_size
        try:
            log_probs, values, out = agent.evaluate(obs, actions)
            if cfg.norm_adv:
                adv = normalize_advantages(adv) if R == 1 else ddp.global_normalize(adv, n_real)
            loss, stats = ppo_loss(
                log_probs, old_logp, adv, values, targets,
                logits=out if agent.discrete else None, entropies=None if agent.discrete else agent.entropy(out),
                old_values=old_values if cfg.clip_vloss else None, clip_eps=cfg.clip_eps,
                vf_coef=cfg.vf_coef, ent_coef=cfg.ent_coef, vf_clip=cfg.vf_clip if cfg.clip_vloss else None)
        except ValueError as exc:
            if "finite" not in str(exc):
                raise
            raise FloatingPointError(f"{where}: {exc}; {_FIX_HINT}") from exc
        checked = ("loss/total", "loss/policy", "loss/value", "stats/entropy")
        if not bool(torch.isfinite(torch.stack([stats[c] for c in checked])).all()):
            bad = next(c for c in checked if not bool(torch.isfinite(stats[c])))
            raise FloatingPointError(f"{where}: {bad} is {stats[bad].item()}; {_FIX_HINT}")
        self.optimizer.zero_grad(set_to_none=True)
        if R == 1:
            loss.backward()
        else:  # Σ_r (n_r / |mb|) · mean_r = the global minibatch mean, for the loss and every statistic
            w = n_real / cfg.minibatch_size
            (loss * w).backward()
            params = list(agent.parameters())
            keys = sorted(stats)
            flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
                             + [torch.stack([stats[key] for key in keys]).to(loss.dtype) * w])
            ddp.all_reduce_sum(flat)
            i = 0
            for p in params:
                p.grad = flat[i:i + p.numel()].view_as(p).clone()
                i += p.numel()
            stats = dict(zip(keys, flat[i:].clone()))
        max_norm = cfg.max_grad_norm if cfg.max_grad_norm is not None else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(agent.parameters(), max_norm)
        if not bool(torch.isfinite(grad_norm)):
            raise FloatingPointError(f"{where}: gradient norm stats/grad_norm is {grad_norm.item()} "
                                     f"(loss/total = {stats['loss/total'].item():.4g}); {_FIX_HINT}")
        self.optimizer.step()
        stats["stats/grad_norm"] = grad_norm.detach()
        return stats

    def _log_episodes(self, step0: int, episodes: dict) -> None:
        if self.world_size > 1:  # every rank logs every env's episodes, [T, N] in env order
            episodes = {"done": ddp.all_gather_cat(episodes["done"].to(torch.uint8), 1).bool(),
                        "return": ddp.all_gather_cat(episodes["return"], 1),
                        "length": ddp.all_gather_cat(episodes["length"], 1)}
        done = episodes["done"].cpu()
        if not bool(done.any()):
            return
        rets, lens = episodes["return"].cpu(), episodes["length"].cpu()
        N = self.config.num_envs
        for t, n in done.nonzero().tolist():  # time-major order
            self.history.log(step0 + (t + 1) * N, {"charts/episode_return": rets[t, n],
                                                   "charts/episode_length": lens[t, n]})

    # -------------------------------------------------------------- checkpoints
    def _env_state(self):
        env = self.env.env
        if hasattr(env, "envs"):  # Gymnasium SyncVectorEnv: pickle the sub-envs (state + RNG)
            return {"kind": "sync", "envs": pickle.dumps(env.envs)}
        if all(hasattr(env, a) for a in ("state", "elapsed", "generator")):  # torch-native env
            return {"kind": "torch", "state": env.state, "elapsed": env.elapsed,
                    "generator": env.generator.get_state(), "needs_reset": getattr(env, "_needs_reset", False)}
        return None

    def _set_env_state(self, s) -> None:
        env = self.env.env
        if s is None:
            return
        if s["kind"] == "sync":
            env.envs = pickle.loads(s["envs"])
        else:
            env.state, env.elapsed = s["state"].to(env.device), s["elapsed"].to(env.device)
            env.generator.set_state(s["generator"])
            env._needs_reset = s["needs_reset"]

    def save(self, path: str) -> None:
        """Checkpoint everything needed to resume exactly: model, optimiser, RNG streams, environment
        state (Gymnasium sync envs and torch-native envs), counters, running episodes and the History.

        With several processes only rank 0 writes, and the envs' state is left out (each rank holds
        only its share): a resumed run restarts its episodes from the seeded reset."""
        if self.world_size > 1:
            if self.rank == 0:
                torch.save({"config": self.config.to_dict(), "env_id": self.env_id,
                            "agent": self.agent.state_dict(), "optimizer": self.optimizer.state_dict(),
                            "generator": self.generator.get_state(), "global_step": self.global_step,
                            "update": self.update, "obs": None, "tracker": None,
                            "history": self.history.records, "env_state": None}, path)
            return
        torch.save({
            "config": self.config.to_dict(), "env_id": self.env_id,
            "agent": self.agent.state_dict(), "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(), "global_step": self.global_step, "update": self.update,
            "obs": self.obs, "tracker": (self.tracker.ret, self.tracker.length),
            "history": self.history.records, "env_state": self._env_state(),
        }, path)

    @classmethod
    def load(cls, path: str, env: gym.vector.VectorEnv | None = None, **overrides) -> "PPOTrainer":
        """Rebuild a trainer from :meth:`save`. Pass ``env`` when the run used an env object rather
        than an env id; ``overrides`` replace config fields (e.g. ``progress=False``). The file is
        unpickled: load only checkpoints you trust."""
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        if "num_envs" in overrides and overrides["num_envs"] != ckpt["config"]["num_envs"]:
            raise ValueError(f"num_envs: the checkpoint ran {ckpt['config']['num_envs']} envs and can only resume "
                             f"with that many, got {overrides['num_envs']}")
        config = PPOConfig(**{**ckpt["config"], **overrides})
        trainer = cls(env if env is not None else ckpt["env_id"], config)
        dev = trainer.device
        trainer.agent.load_state_dict(ckpt["agent"])
        trainer.optimizer.load_state_dict(ckpt["optimizer"])
        trainer.generator.set_state(ckpt["generator"])
        trainer.global_step, trainer.update = ckpt["global_step"], ckpt["update"]
        trainer.obs = None if ckpt["obs"] is None else ckpt["obs"].to(dev)
        if ckpt["tracker"] is not None:
            trainer.tracker.ret, trainer.tracker.length = (x.to(dev) for x in ckpt["tracker"])
        trainer.history = History(records=[dict(r) for r in ckpt["history"]])
        trainer._set_env_state(ckpt["env_state"])
        return trainer


def train_ppo(env: str | gym.vector.VectorEnv, config: PPOConfig | None = None) -> History:
    """One-call PPO: ``PPOTrainer(env, config).train()``; returns the History."""
    return PPOTrainer(env, config).train()
