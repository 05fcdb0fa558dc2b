import sys, copy
from common import *
seed = int(sys.argv[1]); steps = int(sys.argv[2])
task = make_task("cdd", 0.0); ev = task.eval_set(200, seed=1234)
ref, c = sft_cached(task, "cdd", 0.0, 300, seed, float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
pol = copy.deepcopy(ref)
with Clock() as c2:
    h = train_grpo(pol, ref, task, tok, GRPOConfig(steps=steps, batch_size=128, group_size=8, mu=1, beta=0.0, lr=float(sys.argv[3]) if len(sys.argv) > 3 else 3e-4, eval_every=30, seed=seed, progress=False), ev)
print(seed, "sft", c and (round(c.wall), round(c.cpu)), "grpo", round(c2.wall), round(c2.cpu), list(zip(*h.series("eval/accuracy"))))
