"""Outcome vs process supervision on chapter 12's worked 4-digit addition (issue 12, item 3).

One SFT warm-up per seed (chapter 12/13 settings), then from it, each variant trained in rounds:

- ``outcome``: GRPO, reward 1[final answer right] (chapter 12);
- ``process``: GRPO with code-checked steps (:func:`process_advantage_fn`, DeepSeekMath §4.1.3);
- ``prm``: GRPO whose step rewards are a learned PRM's probabilities (:func:`prm_advantage_fn`); the PRM is
  trained once, before RL, on the code checker's labels of the SFT policy's own samples;
- ``prm_cf``: the same PRM marks the working, the checker grades the final answer (``check_final=True``);
- ``prm_iter`` (``prm_iter_cf``): iterative RL, the PRM retrained every ``prm_every`` updates on the policy's
  new answers plus 10% of the old pool (DeepSeekMath §4.1.4);
- ``ppo_steps``: PPO with a critic, GAE over per-token rewards at step ends (:func:`process_token_reward_fn`);
- ``ppo_outcome``: the same PPO with the outcome reward on the last token (for reference).

After every round: greedy accuracy on 200 held-out problems and sampled accuracy (8 answers at τ = 1 on
100 held-out problems), with the answers sampled in training so far and the training CPU seconds so far
(process time of training alone: evaluation is not counted). One JSON line per variant and seed.

    PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 5 python experiments/process.py --seeds 0 --updates 60 --round 10
"""
import argparse
import copy
import json
import os
import time

import numpy as np
import torch

from ppo_grpo_lab.llm import (
    CharTokenizer,
    GPTConfig,
    GRPOConfig,
    GRPOTrainer,
    PPOLMConfig,
    PPOLMTrainer,
    SFTConfig,
    TinyGPT,
    train_sft,
)
from ppo_grpo_lab.llm.evaluation import accuracy, answer_stats, answers, prompts_tensor
from ppo_grpo_lab.llm.process_hooks import process_advantage_fn, process_token_reward_fn
from ppo_grpo_lab.llm.process_reward_model import (
    ProcessRewardModel,
    ProcessRewardModelConfig,
    prm_advantage_fn,
    step_accuracy,
    train_process_reward_model,
)
from ppo_grpo_lab.llm.sampling import generate
from ppo_grpo_lab.llm.scratchpad import ScratchpadAddition

ap = argparse.ArgumentParser()
ap.add_argument("--seeds", type=int, nargs="+", default=[0])
ap.add_argument("--updates", type=int, default=60)
ap.add_argument("--round", type=int, default=10)
ap.add_argument("--variants", nargs="*", default=["outcome", "process", "prm", "prm_cf", "prm_iter", "ppo_steps",
                                                  "ppo_outcome"])
ap.add_argument("--sft", type=int, default=1000)
ap.add_argument("--lr", type=float, default=2e-4)
ap.add_argument("--beta", type=float, default=0.02)
ap.add_argument("--ppo_lr", type=float, default=2e-4)
ap.add_argument("--ppo_mu", type=int, default=2)
ap.add_argument("--ppo_lam", type=float, default=0.95)
ap.add_argument("--prm_questions", type=int, default=256)
ap.add_argument("--prm_samples", type=int, default=8)
ap.add_argument("--prm_updates", type=int, default=300)
ap.add_argument("--prm_hard", action="store_true")
ap.add_argument("--check_final", action="store_true", help="every prm variant: the checker grades the final answer")
ap.add_argument("--prm_temp", type=float, default=1.0)
ap.add_argument("--prm_beta", type=float, default=None)
ap.add_argument("--tag", default="")
ap.add_argument("--prm_every", type=int, default=10, help="prm_iter: retrain the PRM every k updates")
ap.add_argument("--prm_new", type=int, default=64, help="prm_iter: new questions (x prm_samples answers) per retrain")
ap.add_argument("--prm_retrain", type=int, default=100, help="prm_iter: PRM updates per retrain")
ap.add_argument("--replay", type=float, default=0.1, help="prm_iter: share of the old pool replayed")
ap.add_argument("--cache", default="/tmp/ps_cache")
a = ap.parse_args()
torch.set_num_threads(1)
tok = CharTokenizer()
task = ScratchpadAddition(digits=4, worked_frac=0.3, format_weight=0.0)
GREEDY = task.eval_set(200, seed=1234)
EXAM = GREEDY[:100]
P = len(EXAM[0].prompt) + 1
model_cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=P + task.max_answer_len, n_layer=1, n_head=4, n_embd=64)
GRPO = dict(num_updates=a.updates, batch_size=128, group_size=8, update_epochs=1, clip_eps=0.2, beta=a.beta,
            aggregation="grpo", adv_scale="group", temperature=1.0, learning_rate=a.lr, max_grad_norm=1.0,
            eval_every=0, progress=False)
PPO = dict(num_updates=a.updates, batch_size=128, update_epochs=a.ppo_mu, clip_eps=0.2, value_clip_eps=0.2,
           beta=a.beta, gamma=1.0, gae_lambda=a.ppo_lam, vf_coef=0.5, norm_adv=True, temperature=1.0,
           learning_rate=a.ppo_lr, critic_learning_rate=1e-3, max_grad_norm=1.0, eval_every=0, progress=False)


def warm_start(seed):
    """Chapter 12's SFT warm-up (cached per seed); returns the model and its (CPU, wall) seconds or None."""
    path = f"{a.cache}/sft_{seed}_{a.sft}.pt"
    if os.path.exists(path):
        m = TinyGPT(model_cfg)
        m.load_state_dict(torch.load(path))
        return m.eval(), None
    c0, t0 = time.process_time(), time.perf_counter()
    m, _ = train_sft(task, tok, model_cfg, SFTConfig(num_updates=a.sft, batch_size=128, learning_rate=3e-3,
                                                     error_rate=0.0, eval_every=0, seed=seed, progress=False))
    os.makedirs(a.cache, exist_ok=True)
    torch.save(m.state_dict(), path)
    return m.eval(), (time.process_time() - c0, time.perf_counter() - t0)


def exam(model, seed):
    """Greedy accuracy on 200 held-out problems; sampled accuracy and worked share on 100 of them (8 at τ = 1)."""
    s = answer_stats(answers(model, task, tok, EXAM, n=8, temperature=1.0, seed=seed), ks=(1,), prefix="")
    return {"greedy": accuracy(model, task, tok, GREEDY), "sampled": s["pass@1"], "worked": s["worked_frac"]}


def policy_samples(policy, n_questions, seed, temperature=1.0):
    """``prm_samples`` answers of ``policy`` to each of n new training questions: (problems, completions)."""
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    qs = [p for p in task.sample(n_questions, rng, "train") for _ in range(a.prm_samples)]
    return qs, generate(policy, prompts_tensor(tok, qs), task.max_answer_len, temperature, gen)[0]


def prm_check(prm, policy, seed):
    """The PRM's step accuracy on the policy's answers to held-out questions not in the exam."""
    qs = [p for p in GREEDY[100:] for _ in range(4)]
    comps = generate(policy, prompts_tensor(tok, qs), task.max_answer_len, 1.0, torch.Generator().manual_seed(seed))[0]
    return {k: round(v, 3) for k, v in step_accuracy(prm, task, tok, qs, comps).items()}


def train_prm(ref, seed):
    """PRM from the SFT model, on the code checker's labels of its samples."""
    qs, comps = policy_samples(ref, a.prm_questions, seed + 777, a.prm_temp)
    prm = ProcessRewardModel(model_cfg, init_from=ref)
    train_process_reward_model(prm, task, tok, qs, comps, ProcessRewardModelConfig(
        num_updates=a.prm_updates, batch_size=64, learning_rate=1e-3, seed=seed, progress=False))
    prm.pool = (qs, comps)  # iterative RL's replay pool
    return prm, prm_check(prm, ref, seed), len(qs)


def retrain_prm(prm, policy, seed, k):
    """Iterative RL (DeepSeekMath §4.1.4): the policy's new answers plus a replayed share of the old pool."""
    qs, comps = policy_samples(policy, a.prm_new, seed * 1000 + k)
    old_q, old_c = prm.pool
    keep = np.random.default_rng(seed * 1000 + k).choice(len(old_q), int(a.replay * len(old_q)), replace=False)
    train_process_reward_model(prm, task, tok, qs + [old_q[i] for i in keep],
                               torch.cat([comps, old_c[torch.as_tensor(keep, dtype=torch.long)]]),
                               ProcessRewardModelConfig(num_updates=a.prm_retrain, batch_size=64, learning_rate=1e-3,
                                                        seed=seed + k, progress=False))
    prm.pool = (old_q + qs, torch.cat([old_c, comps]))
    return len(qs)


def make_trainer(name, ref, seed):
    """The trainer of a variant and the env answers sampled before RL (the PRM's training data)."""
    if name.startswith("ppo"):
        hook = process_token_reward_fn(task, tok) if name == "ppo_steps" else None
        return PPOLMTrainer(task, tok, PPOLMConfig(**PPO, seed=seed), copy.deepcopy(ref), ref,
                            token_reward_fn=hook), {}, 0
    cfg = GRPOConfig(**GRPO, seed=seed)
    info, pre, prm = {}, 0, None
    hook = None
    if name == "process":
        hook = process_advantage_fn(task, tok, group_size=cfg.group_size)
    elif name.startswith("prm"):
        prm, info, pre = train_prm(ref, seed)
        hook = prm_advantage_fn(prm, task, tok, group_size=cfg.group_size, hard=a.prm_hard,
                                check_final=a.check_final or "_cf" in name)
        if a.prm_beta is not None:
            cfg = GRPOConfig(**{**GRPO, "beta": a.prm_beta}, seed=seed)
    tr = GRPOTrainer(task, tok, cfg, copy.deepcopy(ref), ref, advantage_fn=hook)
    tr.prm = prm
    return tr, info, pre


for seed in a.seeds:
    ref, sft_cost = warm_start(seed)
    start = exam(ref, seed)
    print(json.dumps({"seed": seed, "sft_cpu_wall": sft_cost, "start": start}), flush=True)
    for name in a.variants:
        c0, t0 = time.process_time(), time.perf_counter()
        tr, prm_info, pre = make_trainer(name, ref, seed)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0  # the PRM's cost counts
        curve = [{"update": 0, "samples": pre, "cpu": round(cpu, 1), **start}]
        chunk = a.prm_every if name.startswith("prm_iter") else a.round
        while tr.step < tr.config.num_updates:
            c0, t0 = time.process_time(), time.perf_counter()
            tr.train(num_updates=chunk)
            if name.startswith("prm_iter") and tr.step < tr.config.num_updates:
                pre += retrain_prm(tr.prm, tr.model, seed, tr.step)
            cpu, wall = cpu + time.process_time() - c0, wall + time.perf_counter() - t0
            if tr.step % a.round == 0 or tr.step == tr.config.num_updates:
                point = {"update": tr.step, "samples": pre + tr.step * tr.config.batch_size, "cpu": round(cpu, 1),
                         **exam(tr.model, seed)}
                if name.startswith("prm"):
                    point["prm_on_policy"] = prm_check(tr.prm, tr.model, seed)
                curve.append(point)
        h = tr.history
        out = {"seed": seed, "variant": name, "tag": a.tag, "cpu": round(cpu, 1), "wall": round(wall, 1), "prm": prm_info,
               "kl_last": float(h.series("stats/kl_ref")[1][-5:].mean()),
               "train_acc_last": float(h.series("reward/accuracy")[1][-5:].mean()), "curve": curve}
        print(json.dumps(out), flush=True)
