"""One training loop for the exam, switched by flags: chapters 1–5 are configurations of it.

============================ =========================================================
chapter                      config
============================ =========================================================
1 naive reward (REINFORCE)   ``baseline="none", clip_eps=None``
2 critic as baseline         ``baseline="critic", clip_eps=None``
3 clip (PPO on the exam)     ``baseline="critic", clip_eps=0.2, epochs=4``
4 reference KL               ``... kl_beta=1.0, kl_estimator="k3"`` (or ``"k2"`` with β=0.3)
5 GRPO                       ``baseline="group", group_size=8, clip_eps=0.2, kl_beta=4.0``
============================ =========================================================

Each update: sit ``batch_size`` exams with the current policy in the Gymnasium env, turn the
scores into advantages, then take ``epochs`` (μ) gradient steps on

.. math::

    L(\\theta) = -\\frac1N\\sum_i \\min\\big(r_i A_i, \\operatorname{clip}(r_i, 1-\\varepsilon, 1+\\varepsilon) A_i\\big)
                 + \\beta\\,\\frac1N\\sum_i \\hat k\\big(\\pi_\\theta(a_i|s_i), \\pi_\\text{ref}(a_i|s_i)\\big)

(or the REINFORCE loss when ``clip_eps=None``), and, with a critic, on the value loss
(V_ψ(s_i) − r_i)².
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from ..progress import tqdm

from .._checks import check_choice
from ..device import resolve_device
from ..group import group_advantages, zero_std_groups
from ..history import History
from ..kl import KL_ESTIMATORS
from ..surrogate import clipped_surrogate
from ..value import value_loss
from .exact import exact_kl, expected_reward, state_values
from .gradients import BASELINES, reinforce_loss
from .policy import TabularCritic, TabularSoftmaxPolicy

__all__ = ["BanditConfig", "train_bandit"]


@dataclass
class BanditConfig:
    """Settings of :func:`train_bandit` (symbol, typical range, why).

    Attributes:
        baseline: what is subtracted from the score: ``"none"`` (ch. 1), ``"critic"`` a learned
            V_ψ(s) (ch. 2–4) or ``"group"`` the mean of G exams by the same student (ch. 5, GRPO).
        clip_eps: ε, PPO's clip range, 0.1–0.3; None = no clip (plain REINFORCE loss, then ``epochs`` must be 1).
        kl_beta: β >= 0, weight of the KL(π_θ ‖ π_ref) penalty in the loss; 0.05–0.5 here.
        kl_estimator: ``"k1"``, ``"k2"`` or ``"k3"`` (GRPO's choice), per-sample KL estimator.
        group_size: G >= 2, exams per student per group (only for ``baseline="group"``); 4–16.
        group_scale: GRPO's advantage scaling: ``"group"`` (divide by the group std), ``"batch"`` or ``"none"`` (Dr. GRPO).
        batch_size: N exams per update (a multiple of G for ``"group"``); 32–256.
        lr: α, Adam step size of the policy; 0.01–0.1 for a logit table.
        critic_lr: Adam step size of the critic; 0.05–0.2.
        epochs: μ, gradient steps on each batch (PPO reuses a batch 1–10 times).
        steps: number of updates (batches).
        init: ``"reference"`` (start from π_ref, as RLHF starts from the SFT model) or ``"uniform"``.
        seed: seeds torch, the action sampler and the envs.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        progress: show a tqdm bar.
        log_every: write a History record every this many updates.
    """

    baseline: str = "critic"
    clip_eps: float | None = 0.2
    kl_beta: float = 0.0
    kl_estimator: str = "k3"
    group_size: int = 8
    group_scale: str = "group"
    batch_size: int = 64
    lr: float = 0.05
    critic_lr: float = 0.1
    epochs: int = 1
    steps: int = 200
    init: str = "reference"
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    log_every: int = 1

    def __post_init__(self):
        check_choice("baseline", self.baseline, BASELINES)
        check_choice("kl_estimator", self.kl_estimator, tuple(KL_ESTIMATORS))
        check_choice("group_scale", self.group_scale, ("group", "batch", "none"))
        check_choice("init", self.init, ("reference", "uniform"))
        if self.clip_eps is not None and not 0.0 < self.clip_eps < 1.0:
            raise ValueError(f"clip_eps: expected ε in (0, 1) (typically 0.2) or None for no clip, got {self.clip_eps}")
        if self.clip_eps is None and self.epochs != 1:
            raise ValueError(f"epochs: expected 1 when clip_eps is None (reusing a batch without the clip lets the "
                             f"policy run away); got {self.epochs}. Set clip_eps=0.2 to reuse batches.")
        if not self.kl_beta >= 0.0:
            raise ValueError(f"kl_beta: expected β >= 0 (0 turns the penalty off), got {self.kl_beta}")
        for name in ("batch_size", "epochs", "steps", "log_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        for name in ("lr", "critic_lr"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name}: expected a step size > 0 (e.g. 0.05), got {getattr(self, name)}")
        if self.baseline == "group":
            if not isinstance(self.group_size, int) or self.group_size < 2:
                raise ValueError(f"group_size: expected G >= 2 for baseline='group', got {self.group_size!r}")
            if self.batch_size % self.group_size:
                raise ValueError(f"batch_size: expected a multiple of group_size = {self.group_size}, got "
                                 f"{self.batch_size}; try batch_size={self.group_size * max(1, self.batch_size // self.group_size)}")


def _sit_exams(envs, policy, cfg, gen, device):
    """One batch: N envs, one exam each (the G envs of a group share their first env's student)."""
    G = cfg.group_size if cfg.baseline == "group" else 1
    obs, students = [], []
    for i, env in enumerate(envs):
        opts = {"student": students[i - i % G]} if i % G else None
        o, info = env.reset(options=opts)
        obs.append(o)
        students.append(info["student"])
    obs_t = torch.as_tensor(np.stack(obs), device=device)             # (N, S)
    actions = policy.sample(obs_t, generator=gen)                      # (N,)
    rewards = [env.step(int(a))[1] for env, a in zip(envs, actions)]
    return obs_t, actions.to(device), torch.as_tensor(rewards, dtype=torch.float32, device=device)


def train_bandit(cfg: BanditConfig, env_id: str = "ppo_grpo_lab/ExamBandit-v0", model=None) -> tuple:
    """Train the exam policy; returns ``(policy, critic_or_None, history)``.

    History metrics (one record per ``log_every`` updates, step = exams sat so far):
    ``reward/mean`` batch mean score; ``reward/expected`` exact J(π_θ);
    ``loss/policy``; ``loss/value`` (critic); ``loss/kl`` β·mean k̂;
    ``stats/kl_ref`` mean k̂ (chosen estimator) on the batch; ``stats/kl_ref_exact`` exact E_s KL(π_θ ‖ π_ref);
    ``stats/clip_frac``, ``stats/approx_kl`` (last epoch; see :func:`~ppo_grpo_lab.surrogate.clipped_surrogate`);
    ``stats/zero_std_frac`` share of groups with all-equal scores (GRPO);
    ``policy/<student>/<action>`` the probability π_θ(action | student);
    ``value/<student>`` the critic's V_ψ(s) and ``value_exact/<student>`` the exact V^π(s).
    """
    import ppo_grpo_lab.envs  # noqa: F401  (registers the env id)

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    kwargs = {} if model is None else {"model": model}
    envs = [gym.make(env_id, **kwargs) for _ in range(cfg.batch_size)]
    for i, env in enumerate(envs):
        env.reset(seed=cfg.seed * 100_003 + i)
    model = envs[0].unwrapped.model
    ref_probs = torch.as_tensor(model.reference_probs, dtype=torch.float32, device=device)
    policy = TabularSoftmaxPolicy(model.n_students, model.n_actions,
                                  ref_probs.cpu() if cfg.init == "reference" else None).to(device)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    critic, critic_opt = None, None
    if cfg.baseline == "critic":
        critic = TabularCritic(model.n_students).to(device)
        critic_opt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
    kl_fn = KL_ESTIMATORS[cfg.kl_estimator]
    hist = History()
    for update in tqdm(range(cfg.steps), disable=not cfg.progress, desc="exam updates"):
        obs, actions, rewards = _sit_exams(envs, policy, cfg, gen, device)
        ref_logp = (obs @ ref_probs.log()).gather(1, actions[:, None]).squeeze(1)   # (N,)
        with torch.no_grad():
            old_logp = policy.log_prob(obs, actions)
        stats = {}
        if cfg.baseline == "none":
            adv = rewards
        elif cfg.baseline == "critic":
            with torch.no_grad():
                adv = rewards - critic(obs)
        else:
            groups = rewards.view(-1, cfg.group_size)                                # (B, G)
            adv = group_advantages(groups, scale=cfg.group_scale).view(-1)
            stats["stats/zero_std_frac"] = zero_std_groups(groups).float().mean()
        for _ in range(cfg.epochs):
            logp = policy.log_prob(obs, actions)
            if cfg.clip_eps is None:
                pg_loss = reinforce_loss(logp, adv)
                stats["loss/policy"] = pg_loss.detach()
            else:
                pg_loss, s = clipped_surrogate(logp, old_logp, adv, clip_eps=cfg.clip_eps)
                stats.update(s)
            kl = kl_fn(logp, ref_logp).mean()
            loss = pg_loss + cfg.kl_beta * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            if critic is not None:
                v_loss, vs = value_loss(critic(obs), rewards)
                critic_opt.zero_grad()
                v_loss.backward()
                critic_opt.step()
                stats.update(vs)
        if update % cfg.log_every == 0 or update == cfg.steps - 1:
            probs = policy.probs().cpu()
            rec = {"reward/mean": rewards.mean(), "reward/expected": expected_reward(probs, model),
                   "loss/kl": cfg.kl_beta * kl.detach(), "stats/kl_ref": kl.detach(),
                   "stats/kl_ref_exact": exact_kl(probs, model.reference_probs, model), **stats}
            v_exact = state_values(probs, model)
            for si, sn in enumerate(model.students):
                rec[f"value_exact/{sn}"] = v_exact[si]
                if critic is not None:
                    rec[f"value/{sn}"] = critic.values.detach()[si]
                for ai, an in enumerate(model.actions):
                    rec[f"policy/{sn}/{an}"] = probs[si, ai]
            hist.log((update + 1) * cfg.batch_size, rec)
    for env in envs:
        env.close()
    return policy, critic, hist
