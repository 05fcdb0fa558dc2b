"""Over-optimising a learned reward: GRPO against a reward model, with the checker as the gold.

A reward model r_φ (:mod:`~ppo_grpo_lab.llm.reward_model`) is trained on pairs judged by a
flawed labeller (:mod:`~ppo_grpo_lab.llm.preferences`); GRPO then maximises r_φ (the *proxy*)
while the task's checker (the *gold*, ``1[o correct]``) is only logged, never trained on. Gao et
al. (2022) found that as the policy moves away from π_ref the proxy keeps rising while the gold
rises, peaks and falls; the KL penalty β (chapter 4) holds the policy near π_ref and so slows both.

The GRPO itself is :class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer` with r_φ as its ``reward_fn``, and
PPO (:func:`ppo_against_reward_model`) is :class:`~ppo_grpo_lab.llm.ppo.PPOLMTrainer` with the same
hook; this module adds the measurements and the retraining around their updates. Per update the History
holds the trainer's metrics (:class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer`) and, under the names of
this experiment, ``reward/proxy`` (mean r_φ of the B·G sampled answers), ``reward/gold`` (share of
them correct, EOS required), ``reward/surface`` (mean surface score ``s(o)`` of the labeller's flaw,
when a labeller is given), ``stats/kl_ref`` (k3 KL to π_ref, masked mean over tokens, measured at
β = 0 too), and every ``eval_every`` updates (and at 0 and the last) ``eval/gold`` (greedy held-out
accuracy) and ``eval/proxy`` (mean r_φ of those greedy answers).

*Iterative RL* (DeepSeekMath §4.1.4): every ``retrain_every`` updates the current policy answers
fresh questions, the labeller judges pairs of those answers, and r_φ is trained further on them
plus a replayed share ``replay_frac`` of all earlier pairs (the retraining set is
``n_new / (1 − replay_frac)`` pairs, ``replay_frac`` of them old). The retraining draws from its
own random streams, so until the first retraining a run equals the run without it.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from .._checks import check_int, check_range
from ..history import History
from ..progress import tqdm
from .evaluation import prompts_tensor
from .grpo import GRPOConfig, GRPOTrainer
from .ppo import PPOLMConfig, PPOLMTrainer
from .preferences import FlawedLabeller, PreferencePairs, demo_answers, make_pairs, sample_answers
from .reward_model import RewardModel, RewardModelConfig, reward_fn, train_reward_model
from .sampling import generate
from .tokenizer import EOS

__all__ = ["OveroptConfig", "preference_data", "fit_reward_model", "grpo_against_reward_model",
           "ppo_against_reward_model", "beta_sweep"]


@dataclass(kw_only=True)
class OveroptConfig(GRPOConfig):
    """GRPO against a reward model: every field of :class:`~ppo_grpo_lab.llm.grpo_config.GRPOConfig` (μ, ε, β,
    aggregation...), with this experiment's defaults, plus iterative RL's.

    Attributes:
        num_updates: GRPO updates, 20–300. beta: β of the k3 KL to π_ref, 0–0.5 (default 0.1).
        learning_rate: α, 1e-5–1e-4 (default 5e-5).
        eval_every: greedy held-out ``eval/gold`` and ``eval/proxy`` every this many updates (and at 0 and the last).
        retrain_every: k, retrain the reward model every k updates (0: never; iterative RL when > 0).
        retrain_problems: questions the policy answers for each retraining (pairs come from those with a
            right and a wrong answer among ``retrain_samples``).
        retrain_samples: sampled answers per question for the retraining pool.
        replay_frac: share of old pairs in each retraining set, in [0, 1) (DeepSeekMath: 10%).
        retrain_updates: reward-model steps per retraining (its other settings: the ``rm_config`` passed in).
    """

    num_updates: int = 120
    beta: float = 0.1
    learning_rate: float = 5e-5
    retrain_every: int = 0
    retrain_problems: int = 1000
    retrain_samples: int = 8
    replay_frac: float = 0.1
    retrain_updates: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("retrain_problems", "retrain_samples", "retrain_updates"):
            check_int(name, getattr(self, name), 1)
        check_int("retrain_every", self.retrain_every, 0)
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


def _proxy_hook(rm: RewardModel, tok, task, labeller: FlawedLabeller | None):
    """``(proxy, hook, surface)``: r_φ as a reward function, the trainer's hook (r_φ, plus the mean surface score
    of the sampled answers appended to ``surface`` when there is a labeller) and that list.
    """
    proxy, surface = reward_fn(rm, tok, task.max_answer_len), []

    def hook(problems, texts, finished):
        if labeller is not None:
            surface.append(float(np.mean([labeller.score(t) for t in texts])))
        return proxy(problems, texts, finished)
    return proxy, hook, surface


def _measured_run(trainer, proxy, surface: list, eval_problems, cfg, retrain=None) -> History:
    """The loop GRPO and PPO share: one trainer update at a time, renamed to this experiment's metrics
    (module docstring), then the retraining (``retrain()`` returns the number of new pairs) and the evaluation.
    """
    policy, task, tok = trainer.model, trainer.task, trainer.tok
    hist, t0 = History(), time.perf_counter()
    hist.log(0, _evaluate(policy, task, tok, proxy, eval_problems))
    for step in tqdm(range(1, cfg.num_updates + 1), desc=f"{trainer.kind.upper()} vs reward model",
                     disable=not cfg.progress):
        trainer.train(1)
        rec = {k: v for k, v in trainer.history.records[-1].items() if k != "step"}
        rec.update({"reward/proxy": rec["reward/mean"], "reward/gold": rec["reward/accuracy"]})
        if surface:  # one entry per sampling round (several with dynamic sampling)
            rec["reward/surface"] = float(np.mean(surface))
            surface.clear()
        if retrain is not None and step % cfg.retrain_every == 0 and step < cfg.num_updates:
            rec["rm/new_pairs"] = retrain()
        if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.num_updates:
            rec.update(_evaluate(policy, task, tok, proxy, eval_problems))
        rec["time/seconds"] = time.perf_counter() - t0
        hist.log(step, rec)
    policy.eval()
    return hist


def grpo_against_reward_model(policy, task, tok, rm: RewardModel, config: OveroptConfig, eval_problems,
                              labeller: FlawedLabeller | None = None, pairs: PreferencePairs | None = None,
                              rm_config: RewardModelConfig | None = None) -> History:
    """Train ``policy`` in place with GRPO (:class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer`, ``reward_fn`` = the reward
    model's scores); π_ref is a frozen copy of ``policy`` as it is now.

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
    proxy, hook, surface = _proxy_hook(rm, tok, task, labeller)
    trainer = GRPOTrainer(task, tok, replace(cfg, progress=False), policy=policy, reward_fn=hook)
    trainer.measure_kl_ref = True  # the KL to π_ref is the x-axis of over-optimisation, at β = 0 too
    rng = np.random.default_rng([cfg.seed, 1])  # iterative RL's own streams: the GRPO run is unchanged until then
    gen = torch.Generator(device=trainer.device).manual_seed(cfg.seed + 1)
    pool = [pairs]

    def retrain() -> int:
        pool[0], n_new = _retrain(rm, policy, task, tok, labeller, pool[0], cfg, rm_config, rng, gen)
        return n_new
    return _measured_run(trainer, proxy, surface, eval_problems, cfg, retrain if cfg.retrain_every else None)


def ppo_against_reward_model(policy, task, tok, rm: RewardModel, config: PPOLMConfig, eval_problems,
                             labeller: FlawedLabeller | None = None) -> History:
    """Train ``policy`` in place with PPO and a critic (:class:`~ppo_grpo_lab.llm.ppo.PPOLMTrainer`, ``reward_fn`` =
    the reward model's scores, given at the last token); π_ref is a frozen copy of ``policy`` as it is now.

    Returns a History with the metrics of the module docstring (``config.eval_every`` sets the evaluations).
    Its ``stats/kl_ref`` is PPO's k1 estimate, the masked mean of ``log π_old − log π_ref`` over the sampled
    tokens: like GRPO's k3 it estimates the per-token KL(π_θ ‖ π_ref) without bias, with more variance.
    """
    proxy, hook, surface = _proxy_hook(rm, tok, task, labeller)
    trainer = PPOLMTrainer(task, tok, replace(config, progress=False), policy=policy, reward_fn=hook)
    return _measured_run(trainer, proxy, surface, eval_problems, config)


def beta_sweep(policy, task, tok, rm: RewardModel, betas, config: OveroptConfig, eval_problems,
               labeller: FlawedLabeller | None = None) -> dict[float, History]:
    """:func:`grpo_against_reward_model` from copies of the same ``policy`` and ``rm``, once per β."""
    return {float(b): grpo_against_reward_model(copy.deepcopy(policy), task, tok, copy.deepcopy(rm),
                                                replace(config, beta=float(b)), eval_problems, labeller)
            for b in betas}
