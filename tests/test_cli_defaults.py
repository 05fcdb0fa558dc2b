"""The command line with its defaults learns: `grpo` on every task, two seeds, held-out accuracy rises.

Only the budgets are cut (``--sft-steps``, ``--set num_updates=...``) so that CI runs them in
seconds; every hyper-parameter is ``SFTConfig()``'s and ``GRPOConfig()``'s default, the same the
chapter uses. The summary line reports greedy held-out accuracy before and after GRPO; the test
reads both from ``metrics.csv`` and asserts a gain, and that the collapse watchdog stayed quiet.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"addition": ["--sft-steps", "300", "--set", "num_updates=60"],
         "countdown": ["--sft-steps", "300", "--set", "num_updates=60"]}
MIN_GAIN = 0.03  # held-out greedy accuracy, 200 problems: a gain of 6 or more answers


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(QUICK))
@pytest.mark.parametrize("seed", [0, 1])
def test_cli_defaults_raise_heldout_accuracy(tmp_path, task, seed):
    out = tmp_path / "run"
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    wall, cpu = time.perf_counter(), os.times()
    r = subprocess.run([sys.executable, "-m", "ppo_grpo_lab", "grpo", "--task", task, *QUICK[task],
                        "--set", f"seed={seed}", "--set", "eval_every=0", "--no-progress", "--out", str(out)],
                       capture_output=True, text=True, timeout=900, cwd=ROOT, env=env)
    cpu_s = os.times().children_user - cpu.children_user + os.times().children_system - cpu.children_system
    print(f"{task} seed {seed}: wall {time.perf_counter() - wall:.1f} s, CPU {cpu_s:.1f} s; {r.stdout.splitlines()[:1]}")
    assert r.returncode == 0, r.stderr[-3000:]
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    acc = [float(row["eval/accuracy"]) for row in rows if row.get("eval/accuracy")]
    assert len(acc) == 2, acc  # before GRPO (update 0) and after the last update
    assert acc[1] >= acc[0] + MIN_GAIN, (task, seed, acc)
    assert max(float(row["watchdog/collapse"]) for row in rows if row.get("watchdog/collapse")) == 0.0
    assert "held-out greedy accuracy" in r.stdout and "warning" not in r.stdout
