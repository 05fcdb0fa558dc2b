"""Why does the SFT start vary by seed? Greedy accuracy on carry / no-carry held-out problems over SFT steps.
usage: python experiments/diag_sft.py SEEDS SFT_JSON"""
import json, sys, time
from ppo_grpo_lab.llm import AdditionTask, CharTokenizer, SFTConfig, SFTTrainer

task, tok = AdditionTask(), CharTokenizer(); ev = task.eval_set()
carry = [p for p in ev if task.has_carry(p)]; plain = [p for p in ev if not task.has_carry(p)]
kw = json.loads(sys.argv[2])
for seed in [int(s) for s in sys.argv[1].split(",")]:
    t0 = time.process_time()
    tr = SFTTrainer(task, tok, SFTConfig(**kw, seed=seed, progress=False), eval_problems=ev)
    K = tr.config.num_updates; row = []
    for k in range(4):
        tr.train(num_updates=K // 4)
        row.append(f"@{tr.step}: carry {tr.evaluate(carry):.2f} (sampled {tr.evaluate(carry, 1.0):.2f}) "
                   f"no-carry {tr.evaluate(plain):.2f} loss {tr.history.last('loss/sft'):.3f}")
    print(f"seed {seed} {kw} ({len(carry)} carry / {len(plain)} no-carry; {time.process_time()-t0:.0f}s cpu)\n  " + "\n  ".join(row), flush=True)
