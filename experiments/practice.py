"""Chapter 13's experiment, standalone: one warm-up per seed, then GRPO variants trained in rounds.

    PYTHONPATH=. OMP_NUM_THREADS=1 python experiments/practice.py --seeds 0 1 --updates 40 --round 10

Prints per-round held-out sampled statistics and per-update trainer metrics summaries (JSON lines).
"""
import argparse, copy, json, time

import numpy as np
import torch

from ppo_grpo_lab.history import History
from ppo_grpo_lab.llm import CharTokenizer, GPTConfig, GRPOConfig, GRPOTrainer, SFTConfig, train_sft
from ppo_grpo_lab.llm.evaluation import accuracy, answer_stats, answers
from ppo_grpo_lab.llm.scratchpad import ScratchpadAddition

ap = argparse.ArgumentParser()
ap.add_argument("--seeds", type=int, nargs="+", default=[0])
ap.add_argument("--updates", type=int, default=40)
ap.add_argument("--round", type=int, default=10)
ap.add_argument("--variants", nargs="*", default=None)
ap.add_argument("--sft", type=int, default=1000)
a = ap.parse_args()
torch.set_num_threads(1)
tok = CharTokenizer()
task = ScratchpadAddition(digits=4, worked_frac=0.3, format_weight=0.0)
EXAM = task.eval_set(100, seed=1234)
P = len(EXAM[0].prompt) + 1
model_cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=P + task.max_answer_len, n_layer=1, n_head=4, n_embd=64)
BASE = dict(num_updates=a.updates, batch_size=128, group_size=8, update_epochs=1, clip_eps=0.2, clip_eps_high=None,
            beta=0.02, aggregation="grpo", adv_scale="group", temperature=1.0, learning_rate=2e-4, max_grad_norm=1.0,
            eval_every=0, progress=False)
VARIANTS = {"grpo": {}, "dr_grpo": {"aggregation": "dr_grpo"}, "dapo": {"aggregation": "dapo"},
            "mu2": {"update_epochs": 2}, "mu4": {"update_epochs": 4},
            "mu4_high": {"update_epochs": 4, "clip_eps_high": 0.28},
            "beta0": {"beta": 0.0}, "beta0.1": {"beta": 0.1}}


def sample_exam(model, seed):
    ans = answers(model, task, tok, EXAM, n=8, temperature=1.0, seed=seed)
    c, L = ans["correct"], ans["length"]
    st = answer_stats(ans, ks=(1, 8), prefix="exam/")
    st["exam/len_right"] = L[c].mean().item() if c.any() else float("nan")
    st["exam/len_wrong"] = L[~c].mean().item() if (~c).any() else float("nan")
    return st


for seed in a.seeds:
    t0 = time.perf_counter(); c0 = time.process_time()
    ref, _ = train_sft(task, tok, model_cfg, SFTConfig(num_updates=a.sft, batch_size=128, learning_rate=3e-3,
                                                       error_rate=0.0, eval_every=0, seed=seed, progress=False))
    print(json.dumps({"seed": seed, "sft_wall": time.perf_counter() - t0, "sft_cpu": time.process_time() - c0}), flush=True)
    for name in (a.variants or VARIANTS):
        t0 = time.perf_counter(); c0 = time.process_time()
        cfg = GRPOConfig(**{**BASE, **VARIANTS[name], "seed": seed})
        tr = GRPOTrainer(task, tok, cfg, policy=copy.deepcopy(ref), reference=ref)
        rounds = History(); rounds.log(0, sample_exam(tr.model, seed))
        while tr.step < cfg.num_updates:
            tr.train(num_updates=a.round)
            rounds.log(tr.step, sample_exam(tr.model, seed))
        h = tr.history
        out = {"seed": seed, "variant": name, "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
               "greedy": accuracy(tr.model, task, tok, task.eval_set(200, seed=1234))}
        for k in ["exam/len_right", "exam/len_wrong", "exam/pass@1", "exam/pass@8", "exam/worked_frac"]:
            out[k] = [round(float(v), 3) for v in rounds.series(k)[1]]
        for k in ["stats/entropy", "stats/zero_std_frac", "stats/clip_frac", "stats/clip_frac_high", "stats/clip_frac_low",
                  "stats/kl_ref", "stats/approx_kl", "reward/mean", "completion/length", "stats/grad_norm"]:
            s = h.series(k)[1]
            out[k] = [round(float(x), 4) for x in (s[:5].mean(), s[len(s) // 2 - 2:len(s) // 2 + 3].mean(), s[-5:].mean(), s.max())]
        print(json.dumps(out), flush=True)
