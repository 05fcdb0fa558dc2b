"""Markdown tables from experiments/process.py's JSON lines (one or more log files).

    python experiments/process_summary.py experiments/logs/process_report.log
"""
import json
import sys

import numpy as np

runs, starts = {}, {}
for path in sys.argv[1:]:
    for line in open(path):
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        if "curve" not in d:
            starts[d["seed"]] = d["start"]
            continue
        name = d["variant"] + ("_cf" if d.get("tag") == "cf" and "_cf" not in d["variant"] else "")
        runs[(d["seed"], name)] = d
seeds = sorted({s for s, _ in runs})
names = [n for n in ["outcome", "process", "prm", "prm_cf", "prm_iter", "prm_iter_cf", "ppo_steps", "ppo_outcome"]
         if any((s, n) in runs for s in seeds)]


def at(curve, x, axis="cpu", key="greedy"):
    """Linear interpolation of a curve's ``key`` at a CPU time or a number of answers sampled (NaN past its end);
    before the first point (the PRM's warm-up) the starting accuracy."""
    xs, ys = [c[axis] for c in curve], [c[key] for c in curve]
    return float(np.interp(x, xs, ys)) if x <= xs[-1] else float("nan")


print("seeds:", seeds, "start greedy / sampled:",
      {s: (starts[s]["greedy"], round(starts[s]["sampled"], 3)) for s in seeds if s in starts})
print()
print("| variant | greedy after 60 updates (per seed) | mean | sampled acc (mean) | answers sampled | CPU s (mean) "
      "| wall s (mean) | greedy at 5 s CPU | greedy at 5120 answers | greedy gain per CPU s | KL to ref at end |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for n in names:
    rs = [runs[(s, n)] for s in seeds if (s, n) in runs]
    g = [r["curve"][-1]["greedy"] for r in rs]
    smp = [r["curve"][-1]["sampled"] for r in rs]
    at5 = [at(r["curve"], 5.0) for r in rs]
    at_n = [at(r["curve"], 5120, "samples") for r in rs]
    gain = [(r["curve"][-1]["greedy"] - r["curve"][0]["greedy"]) / r["cpu"] for r in rs]
    print(f"| {n} | {' / '.join(f'{x:.3f}' for x in g)} | {np.mean(g):.3f} | {np.mean(smp):.3f} | "
          f"{rs[0]['curve'][-1]['samples']} | {np.mean([r['cpu'] for r in rs]):.1f} | "
          f"{np.mean([r['wall'] for r in rs]):.0f} | {np.mean(at5):.3f} | {np.mean(at_n):.3f} | {np.mean(gain):.3f} | "
          f"{np.mean([r['kl_last'] for r in rs]):.3f} |")
print()
print("Curves (mean over seeds): update: answers sampled, CPU s, greedy, sampled")
for n in names:
    rs = [runs[(s, n)] for s in seeds if (s, n) in runs]
    pts = []
    for i, c in enumerate(rs[0]["curve"]):
        g = np.mean([r["curve"][i]["greedy"] for r in rs])
        sm = np.mean([r["curve"][i]["sampled"] for r in rs])
        cpu = np.mean([r["curve"][i]["cpu"] for r in rs])
        pts.append(f"{c['update']}: {c['samples']}, {cpu:.1f}, {g:.3f}, {sm:.3f}")
    print(f"- {n}: " + "; ".join(pts))
print()
print("PRM step accuracy (held-out questions): on the SFT policy's answers, then on the trained policy's (last point)")
for n in names:
    if not n.startswith("prm"):
        continue
    for s in seeds:
        if (s, n) not in runs:
            continue
        r = runs[(s, n)]
        last = r["curve"][-1].get("prm_on_policy", {})
        keys = ("step_accuracy", "majority", "wrong_caught")
        print(f"- {n} seed {s}: SFT answers {[round(r['prm'][k], 3) for k in keys]}; "
              f"final policy {[last.get(k) for k in keys]}  (step acc, majority, wrong caught)")
