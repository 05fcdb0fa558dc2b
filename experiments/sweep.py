"""Sweep SFT/GRPO defaults: SFT once per (task, seed, sft settings), then GRPO variants from a copy.
usage: python experiments/sweep.py TASK SEEDS SFT_JSON GRPO_JSON [GRPO_JSON ...]"""
import copy, json, os, sys, time
import torch
from ppo_grpo_lab.llm import AdditionTask, CountdownTask, CharTokenizer, GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

task_name, seeds, sft_kw = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], json.loads(sys.argv[3])
variants = [json.loads(a) for a in sys.argv[4:]]
task = AdditionTask() if task_name == "addition" else CountdownTask()
tok = CharTokenizer(); ev = task.eval_set()
for seed in seeds:
    t0, c0 = time.perf_counter(), time.process_time()
    sft = SFTTrainer(task, tok, SFTConfig(**sft_kw, seed=seed, progress=False), eval_problems=ev)
    sft.train()
    a0 = sft.evaluate()
    samp = sft.evaluate(temperature=1.0)
    print(f"{task_name} seed {seed} SFT {sft_kw}: greedy {a0:.3f} sampled {samp:.3f} "
          f"({time.perf_counter()-t0:.0f}s wall {time.process_time()-c0:.0f}s cpu)", flush=True)
    for v in variants:
        t0, c0 = time.perf_counter(), time.process_time()
        tr = GRPOTrainer(task, tok, GRPOConfig(**{"eval_every": 25, **v}, seed=seed, progress=False),
                         policy=copy.deepcopy(sft.model), eval_problems=ev)
        h = tr.train()
        _, acc = h.series("eval/accuracy")
        wd = max(r.get("watchdog/collapse", 0) for r in h.records)
        print(f"  GRPO {v}: {' '.join(f'{a:.3f}' for a in acc)} gain {acc[-1]-acc[0]:+.3f} wd {wd} "
              f"kl {h.last('stats/kl_ref'):.3f} ({time.perf_counter()-t0:.0f}s wall {time.process_time()-c0:.0f}s cpu)", flush=True)
