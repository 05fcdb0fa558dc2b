"""Over-optimising a learned reward: GRPO against a reward model, with the checker as the gold.

A reward model r_φ (:mod:`~ppo_grpo_lab.llm.reward_model`) is trained on pairs judged by a
flawed labeller (:mod:`~ppo_grpo_lab.llm.preferences`); GRPO then maximises r_φ (the *proxy*)
while the task's checker (the *gold*, ``1[o correct]``) is only logged, never trained on. Gao et
al. (2022) found that as the policy moves away from π_ref the proxy keeps rising while the gold
rises, peaks and falls; the KL penalty β (chapter 4) holds the policy near π_ref and so slows both.

Per update the History logs ``reward/proxy`` (mean r_φ of the B·G sampled answers),
``reward/gold`` (share of them correct, EOS required), ``reward/surface`` (mean surface score
``s(o)`` of the labeller's flaw, when a labeller is given), ``stats/kl_ref`` (k3 KL to π_ref,
masked mean over tokens), and every ``eval_every`` updates (and at 0 and the last) ``eval/gold``
(greedy held-out accuracy) and ``eval/proxy`` (mean r_φ of those greedy answers).

*Iterative RL* (DeepSeekMath §4.1.4): every ``retrain_every`` updates the current policy answers
fresh questions, the labeller judges pairs of those answers, and r_φ is trained further on them
plus a replayed share ``replay_frac`` of all earlier pairs (the retraining set is
``n_new / (1 − replay_frac)`` pairs, ``replay_frac`` of them old).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from .._checks import check_int, check_range
from ..aggregation import masked_mean
from ..config import TrainerConfig
from ..group import group_advantages
from ..history import History
from ..kl import kl_k3
from ..progress import tqdm
from .evaluation import prompts_tensor
from .grpo_loss import grpo_loss
from .preferences import FlawedLabeller, PreferencePairs, demo_answers, make_pairs, sample_answers
from .reward_model import RewardModel, RewardModelConfig, reward_fn, train_reward_model
from .sampling import completion_log_probs, generate
from .tokenizer import EOS

__all__ = ["OveroptConfig", "preference_data", "fit_reward_model", "grpo_against_reward_model", "beta_sweep"]


@dataclass(kw_only=True)
class OveroptConfig(TrainerConfig):
    """GRPO against a reward model (symbols as in :class:`~ppo_grpo_lab.llm.grpo.GRPOConfig`).

    Attributes:
        num_updates: GRPO updates, 20–300 (μ = 1: one gradient step per batch).
        batch_size: B·G answers per update; group_size: G, 4–16.
        beta: β of the k3 KL to π_ref, 0–0.5. learning_rate: α, 1e-5–1e-4.
        clip_eps: ε; temperature: τ; max_grad_norm: gradient clip.
        eval_every: greedy held-out evaluation every this many updates (and at 0 and the last).
        retrain_every: k, retrain the reward model every k updates (0: never; iterative RL when > 0).
        retrain_problems: questions the policy answers for each retraining (pairs come from those with a
            right and a wrong answer among ``retrain_samples``).
        retrain_samples: sampled answers per question for the retraining pool.
        replay_frac: share of old pairs in each retraining set, in [0, 1) (DeepSeekMath: 10%).
        retrain_updates: reward-model steps per retraining (its other settings: the ``rm_config`` passed in).
    """

    num_updates: int = 120
    batch_size: int = 128
    group_size: int = 8
    beta: float = 0.1
    learning_rate: float = 5e-5
    clip_eps: float = 0.2
    temperature: float = 1.0
    max_grad_norm: float = 1.0
    eval_every: int = 10
    retrain_every: int = 0
    retrain_problems: int = 1000
    retrain_samples: int = 8
    replay_frac: float = 0.1
    retrain_updates: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("num_updates", "batch_size", "retrain_problems", "retrain_samples", "retrain_updates"):
            check_int(name, getattr(self, name), 1)
        check_int("group_size", self.group_size, 2, symbol="G")
        if self.batch_size % self.group_size:
            raise ValueError(f"batch_size: expected a multiple of group_size={self.group_size}, got {self.batch_size}")
        check_int("eval_every", self.eval_every, 0)
        check_int("retrain_every", self.retrain_every, 0)
        check_range("beta", self.beta, 0.0, float("inf"))
        check_range("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        check_range("clip_eps", self.clip_eps, 0.0, float("inf"), low_open=True)
        check_range("temperature", self.temperature, 0.0, float("inf"), low_open=True)
        check_range("max_grad_norm", self.max_grad_norm, 0.0, float("inf"), low_open=True)
        check_range("replay_frac", self.replay_frac, 0.0, 1.0, high_open=True)


def _pool(policy, tok, task, problems, samples: int, demos: int, rng, gen) -> list[list[str]]:
    pool = sample_answers(policy, tok, task, problems, samples, 1.0, gen) if samples else [[] for _ in problems]
    if demos:
        pool = [a + d for a, d in zip(pool, demo_answers(task, problems, demos, rng, 0.5))]
    return pool


def preference_data(policy, task, tok, labeller: FlawedLabeller, n_train: int, n_eval: int, samples: int = 8,
                    demos: int = 2, seed: int = 0) -> tuple[PreferencePairs, PreferencePairs]:
    """Training pairs (from ``n_train`` train-split questions) and held-out pairs (``n_eval`` eval-split ones).

    Each question's pool: ``samples`` answers of ``policy`` (τ = 1) and ``demos`` demonstrations (half of them
    wrong); one mixed pair (a right and a wrong answer) per question whose pool has both, judged by ``labeller``.
    """
    rng, gen = np.random.default_rng(seed), torch.Generator(device=next(policy.parameters()).device).manual_seed(seed)
    out = []
    for split, n in (("train", n_train), ("eval", n_eval)):
        problems = task.sample(n, rng, split)
        out.append(make_pairs(task, problems, _pool(policy, tok, task, problems, samples, demos, rng, gen),
                              labeller, rng))
    return out[0], out[1]


def fit_reward_model(policy, tok, pairs: PreferencePairs, config: RewardModelConfig, max_len: int) -> RewardModel:
    """A :class:`~ppo_grpo_lab.llm.reward_model.RewardModel` initialised from ``policy`` and trained on ``pairs``."""
    rm = RewardModel(policy.cfg, init_from=policy)
    train_reward_model(rm, tok, pairs, config, max_len)
    return rm


@torch.no_grad()
def _evaluate(policy, task, tok, proxy, problems) -> dict[str, float]:
    comps, _ = generate(policy, prompts_tensor(tok, problems, next(policy.parameters()).device),
                        task.max_answer_len, 0.0)
    rows = comps.cpu().tolist()
    texts, fin = [tok.decode(r) for r in rows], [EOS in r for r in rows]
    gold = np.mean([f and task.is_correct(p, t) for p, t, f in zip(problems, texts, fin)])
    return {"eval/gold": float(gold), "eval/proxy": float(proxy(problems, texts, fin).mean())}


def _retrain(rm, policy, task, tok, labeller, old: PreferencePairs, cfg: OveroptConfig, rm_config, rng, gen):
    """Iterative RL: fresh pairs of the policy's answers plus a replayed ``replay_frac`` of ``old``; returns all pairs."""
    problems = task.sample(cfg.retrain_problems, rng, "train")
    new = make_pairs(task, problems, _pool(policy, tok, task, problems, cfg.retrain_samples, 0, rng, gen),
                     labeller, rng)
    n_old = min(len(old), round(len(new) * cfg.replay_frac / (1 - cfg.replay_frac)))
    train = new + old.subset(rng.choice(len(old), size=n_old, replace=False)) if n_old else new
    if len(train):
        train_reward_model(rm, tok, train, replace(rm_config, num_updates=cfg.retrain_updates,
                                                            seed=int(rng.integers(2**31))), task.max_answer_len)
    return old + new, len(new)


def _grpo_step(policy, reference, opt, task, tok, proxy, problems, cfg: OveroptConfig, gen) -> dict[str, float]:
    """One GRPO update (μ = 1) on the proxy reward; the gold is only measured."""
    dev = next(policy.parameters()).device
    prompts = prompts_tensor(tok, problems, dev)  # (B·G, P)
    comps, mask = generate(policy, prompts, task.max_answer_len, cfg.temperature, gen)  # (B·G, L)
    rows = comps.cpu().tolist()
    texts, fin = [tok.decode(r) for r in rows], [EOS in r for r in rows]
    r_proxy = proxy(problems, texts, fin)  # (B·G,)
    gold = torch.tensor([float(f and task.is_correct(p, t)) for p, t, f in zip(problems, texts, fin)])
    adv = group_advantages(r_proxy.view(-1, cfg.group_size)).view(-1).to(dev)  # (B·G,)
    lp = completion_log_probs(policy, prompts, comps)["log_probs"]  # (B·G, L)
    with torch.no_grad():  # π_ref's log-probs even at β = 0: the KL is always measured
        ref_lp = completion_log_probs(reference, prompts, comps)["log_probs"]
    loss, _ = grpo_loss(lp, lp.detach(), ref_lp, adv, mask, cfg.clip_eps, None, cfg.beta, "grpo")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
    opt.step()
    return {"reward/proxy": float(r_proxy.mean()), "reward/gold": float(gold.mean()),
            "stats/kl_ref": float(masked_mean(kl_k3(lp.detach(), ref_lp), mask)), "_texts": texts}


def grpo_against_reward_model(policy, task, tok, rm: RewardModel, config: OveroptConfig, eval_problems,
                              labeller: FlawedLabeller | None = None, pairs: PreferencePairs | None = None,
                              rm_config: RewardModelConfig | None = None) -> History:
    """Train ``policy`` in place with GRPO on the reward model's scores; π_ref is a frozen copy of it now.

    Args:
        policy: the SFT model (a :class:`~ppo_grpo_lab.llm.model.TinyGPT`); rm: the reward model (retrained in
            place when ``config.retrain_every > 0``); config: :class:`OveroptConfig`.
        eval_problems: held-out questions for ``eval/gold`` and ``eval/proxy``.
        labeller: logs ``reward/surface``; with ``retrain_every > 0`` it also labels the new pairs.
        pairs: the reward model's training pairs (the replay pool of iterative RL); rm_config: its settings.

    Returns:
        A History with the metrics of the module docstring, plus ``rm/new_pairs`` at each retraining.
    """
    cfg = config
    if cfg.retrain_every and (labeller is None or pairs is None or rm_config is None):
        raise ValueError("retrain_every > 0: expected labeller, pairs and rm_config (to retrain the reward model)")
    torch.manual_seed(cfg.seed)
    rng, gen = np.random.default_rng(cfg.seed), torch.Generator(device=next(policy.parameters()).device)
    gen.manual_seed(cfg.seed)
    reference = copy.deepcopy(policy).eval()
    policy.train()
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate)
    proxy, hist, t0 = reward_fn(rm, tok, task.max_answer_len), History(), time.perf_counter()
    hist.log(0, _evaluate(policy, task, tok, proxy, eval_problems))
    for step in tqdm(range(1, cfg.num_updates + 1), desc="GRPO vs reward model", disable=not cfg.progress):
        questions = task.sample(cfg.batch_size // cfg.group_size, rng, "train")
        rec = _grpo_step(policy, reference, opt, task, tok, proxy,
                         [q for q in questions for _ in range(cfg.group_size)], cfg, gen)
        texts = rec.pop("_texts")
        if labeller is not None:
            rec["reward/surface"] = float(np.mean([labeller.score(t) for t in texts]))
        if cfg.retrain_every and step % cfg.retrain_every == 0 and step < cfg.num_updates:
            pairs, rec["rm/new_pairs"] = _retrain(rm, policy, task, tok, labeller, pairs, cfg, rm_config, rng, gen)
        if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.num_updates:
            rec.update(_evaluate(policy, task, tok, proxy, eval_problems))
        rec["time/seconds"] = time.perf_counter() - t0
        hist.log(step, rec)
    policy.eval()
    return hist


def beta_sweep(policy, task, tok, rm: RewardModel, betas, config: OveroptConfig, eval_problems,
               labeller: FlawedLabeller | None = None) -> dict[float, History]:
    """:func:`grpo_against_reward_model` from copies of the same ``policy`` and ``rm``, once per β."""
    return {float(b): grpo_against_reward_model(copy.deepcopy(policy), task, tok, copy.deepcopy(rm),
                                                replace(config, beta=float(b)), eval_problems, labeller)
            for b in betas}
