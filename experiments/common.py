"""Shared helpers for the R1-Zero experiments (not part of the package)."""
import copy, time, json, sys, os
import numpy as np, torch
from ppo_grpo_lab.llm import CharTokenizer, GPTConfig, SFTConfig, GRPOConfig, train_sft, train_grpo
from ppo_grpo_lab.llm.scratchpad import ScratchpadAddition, ScratchpadCountdown
from ppo_grpo_lab.llm.evaluation import answers, answer_stats

torch.set_num_threads(1)
tok = CharTokenizer()

def make_task(name, worked_frac, fw=0.0):
    if name.startswith("add"):
        return ScratchpadAddition(int(name[3:] or 3), worked_frac=worked_frac, format_weight=fw)
    if name == "cdd":
        from ppo_grpo_lab.llm import CountdownTask
        return CountdownTask(3, format_weight=fw)
    return ScratchpadCountdown(3, worked_frac=worked_frac, format_weight=fw)

def model_cfg(task, n_layer=int(os.environ.get("NL", 2)), n_embd=int(os.environ.get("NE", 64))):
    P = len(task.eval_set(1)[0].prompt) + 1
    return GPTConfig(vocab_size=tok.vocab_size, block_size=P + task.max_answer_len, n_layer=n_layer, n_head=4, n_embd=n_embd)

class Clock:
    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time(); return self
    def __exit__(self, *a):
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c

def evaluate(model, task, ev, n=8, seed=0):
    g = answers(model, task, tok, ev, n=1, temperature=0.0)
    s = answers(model, task, tok, ev, n=n, temperature=1.0, seed=seed)
    out = {"greedy/" + k.split("/")[1]: v for k, v in answer_stats(g, ks=(1,)).items()}
    out.update(answer_stats(s, ks=(1, n), prefix="sample/"))
    out["_greedy_correct"] = g["correct"][:, 0]
    out["_greedy_worked"] = g["worked"][:, 0]
    return out

def show(d):
    return {k: round(v, 3) for k, v in d.items() if not k.startswith("_")}

import os
from ppo_grpo_lab.llm import TinyGPT
def sft_cached(task, tname, frac, steps, seed, err, lr=3e-3):
    path = f"cache/sft_L{os.environ.get('NL',2)}E{os.environ.get('NE',64)}_{tname}_{frac}_{steps}_{seed}_{err}_{lr}.pt"
    mc = model_cfg(task)
    if os.path.exists(path):
        m = TinyGPT(mc); m.load_state_dict(torch.load(path)); m.eval(); return m, None
    with Clock() as c:
        m, _ = train_sft(task, tok, mc, SFTConfig(steps=steps, batch_size=128, lr=lr, error_rate=err, seed=seed, progress=False))
    os.makedirs("cache", exist_ok=True); torch.save(m.state_dict(), path)
    return m, c
