"""The command line with its defaults learns: `grpo` on every task, two seeds, held-out accuracy rises.

Every setting is the default (``SFTConfig()``, ``GRPOConfig()``, full budgets, not quick mode):
only ``seed`` and ``eval_every=0`` (evaluate before and after, not in between) are set. The SFT
warm-up takes the task's ``demo_error_rate`` (addition 0.7, countdown 0.0). Measured on this
machine's 2 shared cores, one thread: about 48 s of CPU time per addition run and 72 s per
countdown run (SFT 1200 updates of 128, GRPO 100 updates at learning rate 1e-4), about 4 minutes
for the file. The summary line reports greedy held-out accuracy before and after GRPO; the test
reads both from ``metrics.csv``, asserts a gain of at least 5 points (the defaults gave 10 to 65 on
the seeds measured), and that the collapse watchdog stayed quiet.
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
MIN_GAIN = 0.05  # held-out greedy accuracy, 200 problems: a gain of 10 or more answers


@pytest.mark.slow
@pytest.mark.parametrize("task", ["addition", "countdown"])
@pytest.mark.parametrize("seed", [0, 1])
def test_cli_defaults_raise_heldout_accuracy(tmp_path, task, seed):
    out = tmp_path / "run"
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    wall, cpu = time.perf_counter(), os.times()
    r = subprocess.run([sys.executable, "-m", "ppo_grpo_lab", "grpo", "--task", task,
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


def test_sft_error_rate_default_is_the_tasks():
    """``SFTConfig().error_rate`` is None: the trainer takes the task's ``demo_error_rate``; a value given wins."""
    from ppo_grpo_lab.llm import AdditionTask, CharTokenizer, CountdownTask, SFTConfig, SFTTrainer

    tok = CharTokenizer()
    assert SFTConfig().error_rate is None
    assert SFTTrainer(AdditionTask(), tok, SFTConfig(progress=False)).error_rate == 0.7
    assert SFTTrainer(CountdownTask(), tok, SFTConfig(progress=False)).error_rate == 0.0
    assert SFTTrainer(AdditionTask(), tok, SFTConfig(error_rate=0.25, progress=False)).error_rate == 0.25
