"""Is a worked answer easier for TinyGPT than a direct one? SFT on all-direct vs all-worked demos."""
import sys
from common import *
taskname, steps, frac = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
task = make_task(taskname, frac)
ev = task.eval_set(200, seed=1234)
with Clock() as c:
    m, h = train_sft(task, tok, model_cfg(task), SFTConfig(steps=steps, batch_size=128, lr=3e-3, error_rate=0.0, seed=0, progress=False))
r = evaluate(m, task, ev)
print(taskname, steps, frac, f"wall {c.wall:.0f}s cpu {c.cpu:.0f}s", show(r), "loss", round(h.last("loss/sft"), 3), flush=True)
