import re
from common import *
from ppo_grpo_lab.llm.tasks import eval_expression
task = make_task("cd", 1.0)
ev = task.eval_set(200, seed=1234)
m, h = train_sft(task, tok, model_cfg(task), SFTConfig(steps=400, batch_size=128, lr=3e-3, error_rate=0.0, seed=0, progress=False))
g = answers(m, task, tok, ev, n=1)
natt = ok_val = stop_ok = 0; nstop=0
for p, [t], c in zip(ev, g["text"], g["correct"][:,0]):
    nums, target = task.parse(p)
    work = t.split(">")[0].split(",")
    for a in work:
        mm = re.fullmatch(r"([1-9](?:[+\-*][1-9]){2})=(-?\d+)", a)
        natt += 1
        if mm and eval_expression(mm.group(1)) == int(mm.group(2)): ok_val += 1
    last = work[-1]
    mm = re.fullmatch(r"([1-9](?:[+\-*][1-9]){2})=(-?\d+)", last)
    if mm and ">" in t:
        nstop += 1
        stop_ok += int(mm.group(2)) == target
print("attempt values right", ok_val/natt, "attempts/answer", natt/len(ev), "last attempt claims target", stop_ok/max(1,nstop))
for p, [t] in list(zip(ev, g["text"]))[:15]: print(p.prompt, t)
