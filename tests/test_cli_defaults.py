"""The command line with its defaults learns: `grpo` on every task, two seeds, held-out accuracy rises.

Every setting is the default (``SFTConfig()``, ``GRPOConfig()``: the same the chapter starts
from); only ``seed`` and ``eval_every=0`` (evaluate before and after, not in between) are set.
Measured on this machine's 2 shared cores: about 40 s of CPU time per addition run (SFT 600
updates ≈ 33 s, GRPO 100 updates ≈ 6 s). A shorter SFT is not a quick budget that still tests the
defaults: after 300 SFT updates seed 1 starts at 0.14 held-out accuracy and 60 GRPO updates do not
move it. The summary line reports greedy held-out accuracy before and after GRPO; the test reads
both from ``metrics.csv``, asserts a gain, and that the collapse watchdog stayed quiet.

Countdown does not yet gain reliably from the defaults (seed 0: +1 point after 100 updates,
seed 1: −2.5; issue 11, item 3): its cases are expected failures, run so that a fix shows up as XPASS.
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
