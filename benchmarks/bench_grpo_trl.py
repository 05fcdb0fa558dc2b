"""GRPO step time: ours (``train_grpo``) vs TRL's ``GRPOTrainer``, same model, batch and settings, one thread.

A TinyGPT is first taught by SFT (chapter 11's model and demos, fewer steps by default), then converted
with :func:`ppo_grpo_lab.llm.hf.to_hf`; the script checks that both models give the same logits. Each
library then runs GRPO steps on the 2-digit addition task with the chapter's settings: 128 answers per
step (16 questions × G = 8), μ = 1, β = 0.04 with k3 against the frozen SFT model, ε = 0.2, the ``grpo``
aggregation, group-scaled advantages, temperature 1, lr 1e-4, gradient-norm clip 1.0. TRL's own defaults
are switched off where they differ from ours (bf16 autocast, gradient checkpointing, the bias-corrected
KL, the ``dapo`` aggregation); a step of either library covers sampling, scoring, the log-prob passes,
the backward pass and the optimizer step.

We print milliseconds per step (wall, and process CPU time beside it), the ratio ours/TRL, the mean
reward of the first and last steps of each run (the two should learn alike), and the machine load.
Ours runs twice, as the chapters run it (``share_prefixes=False``, the default) and with the speed switch
``GRPOConfig(share_prefixes=True)`` (each distinct prompt and (prompt, answer so far) run once; equal up to
float rounding). Both libraries are timed the same way: the mean over steps 2..n+1 of the time between the
ends of consecutive steps, so setup (model copies, trainer, optimizer) and the first step are left out of
both (ours: ``GRPOTrainer.train(num_updates=1)`` called n+1 times, after a 2-step warm-up run; TRL: its
``on_step_end`` callbacks). Before 2026-12-02 22:00 UTC ours was charged its setup and first step
(about 1 ms per step over 10 steps) and TRL was not.

    .venv/bin/python benchmarks/bench_grpo_trl.py [--steps 10] [--sft-steps 300] [--seeds 11 12 13] [--no-trl] [--md grpo_trl.md]

Seeds: the SFT model is trained with seed 0; each GRPO seed (sampling, question stream) runs every
library row. The defaults 11, 12, 13 were never used to pick any setting of ours.

Needs the bench extra: ``pip install -e '.[bench]' -c constraints.txt``.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded

import argparse
import copy
import dataclasses
import tempfile
import time

import numpy as np
import torch

from ppo_grpo_lab.llm import (
    AdditionTask,
    CharTokenizer,
    GPTConfig,
    GRPOConfig,
    GRPOTrainer,
    SFTConfig,
    train_grpo,
    train_sft,
)
from ppo_grpo_lab.llm.hf import to_hf, tokenizer_to_hf

B, G, MU, BETA, EPS, LR, TEMP = 128, 8, 1, 0.04, 0.2, 1e-4, 1.0
RENAMED = {"learning_rate": "lr", "num_updates": "steps", "update_epochs": "mu"}  # new name -> old name


def _config(cls, **kw):
    """Build a config with the current field names (works before and after the vocabulary rename)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k if k in names or RENAMED.get(k) not in names else RENAMED[k]: v for k, v in kw.items()})


def _clock():
    return time.perf_counter(), time.process_time()


def sft_model(sft_steps: int):
    tok, task = CharTokenizer(), AdditionTask(digits=2)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=12, n_layer=2, n_head=4, n_embd=64)
    sft = _config(SFTConfig, num_updates=sft_steps, batch_size=128, learning_rate=3e-3, error_rate=0.7, seed=0,
                  progress=False)
    model, _ = train_sft(task, tok, cfg, sft)
    return tok, task, model.eval()


def run_ours(model, task, tok, steps: int, seed: int = 0, share: bool = False) -> dict:
    cfg = dict(batch_size=B, group_size=G, update_epochs=MU, beta=BETA, clip_eps=EPS, aggregation="grpo",
               learning_rate=LR, temperature=TEMP, max_grad_norm=1.0, eval_every=0, seed=seed, device="cpu",
               progress=False)
    if share:
        cfg["share_prefixes"] = True
    train_grpo(copy.deepcopy(model), copy.deepcopy(model), task, tok, _config(GRPOConfig, num_updates=2, **cfg))
    trainer = GRPOTrainer(task, tok, _config(GRPOConfig, num_updates=steps + 1, **cfg), policy=copy.deepcopy(model),
                          reference=copy.deepcopy(model))
    marks = []  # (wall, CPU) at the end of each step, as TRL's on_step_end
    for _ in range(steps + 1):
        trainer.train(num_updates=1)
        marks.append(_clock())
    (w, c) = zip(*marks)
    rewards = list(trainer.history.series("reward/mean")[1])[1:]  # steps 2..n+1, as TRL's
    return {"wall_ms": 1e3 * (w[-1] - w[0]) / steps, "cpu_ms": 1e3 * (c[-1] - c[0]) / steps, "rewards": rewards}


def run_trl(model, task, tok, steps: int, seed: int = 0) -> dict:
    import datasets
    import transformers
    import trl

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    class Timer(transformers.TrainerCallback):
        def __init__(self):
            self.marks = []  # (wall, CPU) at the end of each step

        def on_step_end(self, args, state, control, **kw):
            self.marks.append(_clock())

    by_prompt = {}
    problems = task.sample((steps + 1) * (B // G), np.random.default_rng(seed), "train")
    for p in problems:
        by_prompt[p.prompt] = p

    def reward(prompts, completions, completion_ids, **kw):
        return [task.reward(by_prompt[q], c, tok.eos_id in ids) for q, c, ids in zip(prompts, completions, completion_ids)]

    with tempfile.TemporaryDirectory() as tmp:
        to_hf(model).save_pretrained(tmp)  # β > 0: TRL loads π_ref from the same path
        args = trl.GRPOConfig(output_dir=tmp, per_device_train_batch_size=B, num_generations=G,
                              max_completion_length=task.max_answer_len, num_iterations=MU, beta=BETA, epsilon=EPS,
                              loss_type="grpo", scale_rewards="group", temperature=TEMP, learning_rate=LR,
                              lr_scheduler_type="constant", max_grad_norm=1.0, max_steps=steps + 1, bf16=False,
                              gradient_checkpointing=False, use_bias_correction_kl=False, use_cpu=True,
                              report_to=[], save_strategy="no", logging_steps=1, disable_tqdm=True, seed=seed)
        timer = Timer()
        trainer = trl.GRPOTrainer(model=tmp, reward_funcs=reward, args=args, processing_class=tokenizer_to_hf(tok),
                                  train_dataset=datasets.Dataset.from_dict({"prompt": [p.prompt for p in problems]}),
                                  callbacks=[timer])
        trainer.remove_callback(transformers.PrinterCallback)  # no log dict printed per step
        torch.set_num_threads(1)
        trainer.train()
    (w, c) = zip(*timer.marks)
    rewards = [rec["reward"] for rec in trainer.state.log_history if "reward" in rec]
    return {"wall_ms": 1e3 * (w[-1] - w[0]) / steps, "cpu_ms": 1e3 * (c[-1] - c[0]) / steps, "rewards": rewards[1:],
            "threads": torch.get_num_threads()}


def _trl_available() -> bool:
    try:
        import trl  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10, help="timed GRPO steps per library")
    ap.add_argument("--sft-steps", type=int, default=300, help="SFT steps for the starting model (chapter: 800)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13], help="GRPO seeds (unseen: 11 12 13)")
    ap.add_argument("--no-trl", action="store_true", help="only ours (also when TRL is not installed)")
    ap.add_argument("--md", help="also write the per-seed table as Markdown here (benchmarks/update_readme.py)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    load0 = os.getloadavg()
    tok, task, model = sft_model(a.sft_steps)
    ids = torch.randint(0, tok.vocab_size, (8, 12))
    logits = to_hf(model)(ids, attention_mask=torch.ones_like(ids)).logits
    torch.testing.assert_close(logits, model(ids)[0], atol=1e-5, rtol=1e-5)  # the same model in both libraries
    with_trl = not a.no_trl and _trl_available()
    rows = []  # (seed, {name: result})
    for seed in a.seeds:
        res = {"ours-off": run_ours(model, task, tok, a.steps, seed),
               "ours-on": run_ours(model, task, tok, a.steps, seed, share=True)}
        if with_trl:
            res["TRL"] = run_trl(model, task, tok, a.steps, seed)
        rows.append((seed, res))
    load1 = os.getloadavg()
    print(f"GRPO, {B} answers/step (G={G}), μ={MU}, β={BETA}, {a.steps} steps, 1 torch thread "
          f"(TRL: {rows[0][1]['TRL']['threads'] if with_trl else 'not run'}), {os.cpu_count()} CPUs, seeds {a.seeds}")
    print(f"machine load (1/5/15 min) before {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
          f"after {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}")
    print(f"{'seed':>4s} {'':9s}{'wall ms/step':>14s}{'CPU ms/step':>14s}   mean reward: first step, mean of all, last")
    for seed, res in rows:
        for name, r in res.items():
            rw = r["rewards"]
            trend = f"{rw[0]:.2f}, {np.mean(rw):.2f}, {rw[-1]:.2f}" if rw else "n/a"
            print(f"{seed:4d} {name:9s}{r['wall_ms']:14.1f}{r['cpu_ms']:14.1f}   {trend}")
    names = list(rows[0][1])
    for key in ("cpu_ms", "wall_ms"):
        med = {n: np.median([res[n][key] for _, res in rows]) for n in names}
        print(f"median {key[:-3]} ms/step: " + ", ".join(f"{n} {v:.1f}" for n, v in med.items()))
    if with_trl:
        for n in ("ours-off", "ours-on"):
            cpu = [res[n]["cpu_ms"] / res["TRL"]["cpu_ms"] for _, res in rows]
            wall = [res[n]["wall_ms"] / res["TRL"]["wall_ms"] for _, res in rows]
            print(f"{n}/TRL per seed: CPU {', '.join(f'{x:.2f}' for x in cpu)} (median {np.median(cpu):.2f}); "
                  f"wall {', '.join(f'{x:.2f}' for x in wall)} (median {np.median(wall):.2f})")
    on_off = [res["ours-on"]["cpu_ms"] / res["ours-off"]["cpu_ms"] for _, res in rows]
    print(f"ours-on/ours-off CPU per seed: {', '.join(f'{x:.2f}' for x in on_off)} (median {np.median(on_off):.2f})")
    if a.md:
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(markdown(rows) + "\n")


def markdown(rows) -> str:
    """Per-seed CPU and wall ms/step of each row (ours-off, ours-on, TRL when run), ratios to TRL, medians."""
    names = list(rows[0][1])
    ratio = [n for n in names if n != "TRL"] if "TRL" in names else []
    head = (["seed"] + [f"{n} CPU ms" for n in names] + [f"{n}/TRL CPU" for n in ratio] + [f"{n} wall ms" for n in names]
            + ["mean reward " + " / ".join(names)])
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]

    def cells(res_of, label, reward=True):
        out = [label] + [f"{res_of(n, 'cpu_ms'):.1f}" for n in names]
        out += [f"{res_of(n, 'cpu_ms') / res_of('TRL', 'cpu_ms'):.2f}" for n in ratio]
        out += [f"{res_of(n, 'wall_ms'):.1f}" for n in names]
        return out + [" / ".join(f"{np.mean(res_of(n, 'rewards')):.2f}" for n in names) if reward else ""]

    for seed, res in rows:
        lines.append("| " + " | ".join(cells(lambda n, k: res[n][k], str(seed))) + " |")
    med = cells(lambda n, k: np.median([res[n][k] for _, res in rows]), "**median**", reward=False)
    if ratio:  # the median of the per-seed ratios, not the ratio of the medians
        for i, n in enumerate(ratio):
            med[1 + len(names) + i] = f"{np.median([res[n]['cpu_ms'] / res['TRL']['cpu_ms'] for _, res in rows]):.2f}"
    lines.append("| " + " | ".join(med) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
