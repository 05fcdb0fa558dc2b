"""One training loop for the exam, switched by flags: chapters 1–5 are configurations of it.

============================ =========================================================
chapter                      config
============================ =========================================================
1 naive reward (REINFORCE)   ``baseline="none", clip_eps=None``
2 critic as baseline         ``baseline="critic", clip_eps=None``
3 clip (PPO on the exam)     ``baseline="critic", clip_eps=0.2, update_epochs=4``
4 reference KL               ``... beta=1.0, kl_estimator="k3"`` (or ``"k2"`` with β=0.3)
5 GRPO                       ``baseline="group", group_size=8, clip_eps=0.2, beta=4.0``
============================ =========================================================

Each update: sit ``batch_size`` exams with the current policy in the Gymnasium env, turn the
scores into advantages (:mod:`~ppo_grpo_lab.bandit.baselines`), then take ``update_epochs`` (K in the PPO paper, μ in GRPO's)
gradient steps on

.. math::

    L(\\theta) = -\\frac1N\\sum_i \\min\\big(r_i A_i, \\operatorname{clip}(r_i, 1-\\varepsilon, 1+\\varepsilon) A_i\\big)
                 + \\beta\\,\\frac1N\\sum_i \\hat k\\big(\\pi_\\theta(a_i|s_i), \\pi_\\text{ref}(a_i|s_i)\\big)

(or the REINFORCE loss when ``clip_eps=None``), and, with a critic, on the value loss
(V_ψ(s_i) − r_i)².
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import numpy as np
import torch

from .._checks import check_choice, check_clip_eps, check_int, check_range
from ..config import TrainerConfig
from ..device import resolve_device
from ..group import SCALES, zero_std_groups
from ..history import History
from ..kl import KL_ESTIMATORS
from ..progress import tqdm
from ..surrogate import clipped_surrogate
from ..value import value_loss
from .baselines import BASELINES, baseline_advantages
from .exact import exact_kl, expected_reward, state_values
from .gradients import reinforce_loss
from .policy import TabularCritic, TabularSoftmaxPolicy

__all__ = ["BanditConfig", "train_bandit"]


@dataclass(kw_only=True)
class BanditConfig(TrainerConfig):
    """Settings of :func:`train_bandit` (symbol, typical range, why); ``seed``, ``device``, ``progress``
    come from :class:`~ppo_grpo_lab.config.TrainerConfig`.

    Attributes:
        baseline: what is subtracted from the score: ``"none"`` (ch. 1), ``"critic"`` a learned
            V_ψ(s) (ch. 2–4) or ``"group"`` the mean of G exams by the same student (ch. 5, GRPO).
        clip_eps: ε, PPO's clip range, 0.1–0.3 (any ε > 0; ε ≥ 1 never clips from below); None = no
            clip (plain REINFORCE loss, then ``update_epochs`` must be 1).
        beta: β >= 0, weight of the KL(π_θ ‖ π_ref) penalty in the loss; 0.05–0.5 here.
        kl_estimator: ``"k1"``, ``"k2"`` or ``"k3"`` (GRPO's choice), per-sample KL estimator.
        group_size: G >= 2, exams per student per group (only for ``baseline="group"``); 4–16.
        adv_scale: GRPO's advantage scaling: ``"group"`` (divide by the group std), ``"batch"`` or
            ``"none"`` (Dr. GRPO).
        batch_size: N exams per update (a multiple of G for ``"group"``); 32–256.
        learning_rate: α, Adam step size of the policy; 0.01–0.1 for a logit table.
        critic_learning_rate: Adam step size of the critic; 0.05–0.2.
        update_epochs: K (PPO; μ in GRPO), gradient steps on each batch (PPO reuses a batch 1–10 times).
        num_updates: number of updates (batches).
        init: ``"reference"`` (start from π_ref, as RLHF starts from the SFT model) or ``"uniform"``.
        log_every: write a History record every this many updates.

    Old names (``lr``, ``critic_lr``, ``epochs``, ``kl_beta``, ``group_scale``, ``steps``) still work
    for one release, with a FutureWarning.
    """

    ALIASES: ClassVar[dict[str, str]] = {"lr": "learning_rate", "critic_lr": "critic_learning_rate",
                                         "epochs": "update_epochs", "kl_beta": "beta", "group_scale": "adv_scale",
                                         "steps": "num_updates"}

    baseline: str = "critic"
    clip_eps: float | None = 0.2
    beta: float = 0.0
    kl_estimator: str = "k3"
    group_size: int = 8
    adv_scale: str = "group"
    batch_size: int = 64
    learning_rate: float = 0.05
    critic_learning_rate: float = 0.1
    update_epochs: int = 1
    num_updates: int = 200
    init: str = "reference"
    log_every: int = 1

    def __post_init__(self):
        super().__post_init__()
        check_choice("baseline", self.baseline, list(BASELINES))
        check_choice("kl_estimator", self.kl_estimator, tuple(KL_ESTIMATORS))
        check_choice("adv_scale", self.adv_scale, SCALES)
        check_choice("init", self.init, ("reference", "uniform"))
        if self.clip_eps is not None:
            check_clip_eps(self.clip_eps)
        for name in ("batch_size", "update_epochs", "num_updates", "log_every"):
            check_int(name, getattr(self, name), 1)
        if self.clip_eps is None and self.update_epochs != 1:
            raise ValueError(f"update_epochs: expected 1 when clip_eps is None (reusing a batch without the clip lets "
                             f"the policy run away); got {self.update_epochs}. Set clip_eps=0.2 to reuse batches.")
        check_range("beta", self.beta, 0.0, float("inf"))
        for name in ("learning_rate", "critic_learning_rate"):
            check_range(name, getattr(self, name), 0.0, float("inf"), low_open=True, high_open=True)
        if self.baseline == "group":
            check_int("group_size", self.group_size, 2, " for baseline='group'", symbol="G")
            if self.batch_size % self.group_size:
                fix = self.group_size * max(1, self.batch_size // self.group_size)
                raise ValueError(f"batch_size: expected a multiple of group_size = {self.group_size}, got "
                                 f"{self.batch_size}; try batch_size={fix}")


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


def _make_envs(cfg: BanditConfig, env_id: str, model):
    """``batch_size`` seeded copies of the exam env (one exam each per update)."""
    kwargs = {} if model is None else {"model": model}
    envs = [gym.make(env_id, **kwargs) for _ in range(cfg.batch_size)]
    for i, env in enumerate(envs):
        env.reset(seed=cfg.seed * 100_003 + i)
    return envs


def _make_learners(cfg: BanditConfig, model, device):
    """The policy (from π_ref or uniform) and, for ``baseline="critic"``, the critic; each with its Adam."""
    ref_probs = torch.as_tensor(model.reference_probs, dtype=torch.float32, device=device)
    policy = TabularSoftmaxPolicy(model.n_students, model.n_actions,
                                  ref_probs.cpu() if cfg.init == "reference" else None).to(device)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate)
    critic, critic_opt = None, None
    if cfg.baseline == "critic":
        critic = TabularCritic(model.n_students).to(device)
        critic_opt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_learning_rate)
    return ref_probs, policy, opt, critic, critic_opt


def _advantages(cfg: BanditConfig, critic, obs, rewards):
    """A_i under the configured baseline, and ``stats/zero_std_frac`` for groups."""
    stats = {}
    with torch.no_grad():
        values = critic(obs) if critic is not None else None
    adv = baseline_advantages(cfg.baseline, rewards, values, cfg.group_size, cfg.adv_scale)
    if cfg.baseline == "group":
        stats["stats/zero_std_frac"] = zero_std_groups(rewards.view(-1, cfg.group_size)).float().mean()
    return adv, stats


def _policy_step(cfg: BanditConfig, policy, opt, obs, actions, old_logp, ref_logp, adv, stats):
    """One gradient step on −L^CLIP (or REINFORCE) + β k̂; returns the mean k̂ (stats updated in place)."""
    logp = policy.log_prob(obs, actions)
    if cfg.clip_eps is None:
        pg_loss = reinforce_loss(logp, adv)
        stats["loss/policy"] = pg_loss.detach()
    else:
        pg_loss, s = clipped_surrogate(logp, old_logp, adv, clip_eps=cfg.clip_eps)
        stats.update(s)
    kl = KL_ESTIMATORS[cfg.kl_estimator](logp, ref_logp).mean()
    opt.zero_grad()
    (pg_loss + cfg.beta * kl).backward()
    opt.step()
    return kl.detach()


def _hooked_update(cfg: BanditConfig, policy_update, policy, opt, obs, actions, old_logp, ref_logp, adv):
    """The caller's update in place of the policy steps; returns the mean k̂ to π_ref afterwards."""
    policy_update(policy, opt, obs, actions, old_logp, adv.detach())
    with torch.no_grad():
        return KL_ESTIMATORS[cfg.kl_estimator](policy.log_prob(obs, actions), ref_logp).mean()


def _critic_step(critic, critic_opt, obs, rewards, stats):
    """One gradient step of V_ψ towards the scores (stats updated in place)."""
    v_loss, vs = value_loss(critic(obs), rewards)
    critic_opt.zero_grad()
    v_loss.backward()
    critic_opt.step()
    stats.update(vs)


def _record(cfg: BanditConfig, policy, critic, model, rewards, kl, stats):
    """One History record: rewards, exact J and KL, the policy table and the critic's values."""
    probs = policy.probs().cpu()
    rec = {"reward/mean": rewards.mean(), "reward/expected": expected_reward(probs, model),
           "loss/kl": cfg.beta * kl, "stats/kl_ref": kl,
           "stats/kl_ref_exact": exact_kl(probs, model.reference_probs, model), **stats}
    v_exact = state_values(probs, model)
    for si, sn in enumerate(model.students):
        rec[f"value_exact/{sn}"] = v_exact[si]
        if critic is not None:
            rec[f"value/{sn}"] = critic.values.detach()[si]
        for ai, an in enumerate(model.actions):
            rec[f"policy/{sn}/{an}"] = probs[si, ai]
    return rec


def train_bandit(cfg: BanditConfig, env_id: str = "ppo_grpo_lab/ExamBandit-v0", model=None,
                 policy_update=None) -> tuple:
    """Train the exam policy; returns ``(policy, critic_or_None, history)``.

    ``policy_update(policy, optimizer, obs, actions, old_log_probs, advantages)``, when given, replaces
    the ``update_epochs`` policy steps of each update (e.g. chapter 3's capstone ``ppo_update`` with its
    generator, epochs, minibatch size and ε bound); the critic still trains, ``beta`` must be 0 and
    the ``loss/policy``, ``stats/clip_frac``, ``stats/approx_kl`` records are then left out.

    History metrics (one record per ``log_every`` updates, step = exams sat so far):
    ``reward/mean`` batch mean score; ``reward/expected`` exact J(π_θ);
    ``loss/policy``; ``loss/value`` (critic); ``loss/kl`` β·mean k̂;
    ``stats/kl_ref`` mean k̂ (chosen estimator) on the batch; ``stats/kl_ref_exact`` exact E_s KL(π_θ ‖ π_ref);
    ``stats/clip_frac``, ``stats/approx_kl`` (last epoch; see :func:`~ppo_grpo_lab.surrogate.clipped_surrogate`);
    ``stats/zero_std_frac`` share of groups with all-equal scores (GRPO);
    ``policy/<student>/<action>`` the probability π_θ(action | student);
    ``value/<student>`` the critic's V_ψ(s) and ``value_exact/<student>`` the exact V^π(s).
    """
    if policy_update is not None and cfg.beta != 0:
        raise ValueError(f"beta: expected 0 with a policy_update hook (its loss has no KL term), got {cfg.beta}")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    envs = _make_envs(cfg, env_id, model)
    model = envs[0].unwrapped.model
    ref_probs, policy, opt, critic, critic_opt = _make_learners(cfg, model, device)
    hist = History()
    for update in tqdm(range(cfg.num_updates), disable=not cfg.progress, desc="exam updates"):
        obs, actions, rewards = _sit_exams(envs, policy, cfg, gen, device)
        ref_logp = (obs @ ref_probs.log()).gather(1, actions[:, None]).squeeze(1)   # (N,)
        with torch.no_grad():
            old_logp = policy.log_prob(obs, actions)
        adv, stats = _advantages(cfg, critic, obs, rewards)
        if policy_update is not None:
            kl = _hooked_update(cfg, policy_update, policy, opt, obs, actions, old_logp, ref_logp, adv)
        for _ in range(cfg.update_epochs):
            if policy_update is None:
                kl = _policy_step(cfg, policy, opt, obs, actions, old_logp, ref_logp, adv, stats)
            if critic is not None:
                _critic_step(critic, critic_opt, obs, rewards, stats)
        if update % cfg.log_every == 0 or update == cfg.num_updates - 1:
            hist.log((update + 1) * cfg.batch_size, _record(cfg, policy, critic, model, rewards, kl, stats))
    for env in envs:
        env.close()
    return policy, critic, hist
