"""TensorBoard and W&B logging (ppo_grpo_lab.loggers, the CLI's --tensorboard/--wandb): the same metric names
as the History and the CSV."""
import csv
import importlib.machinery
import subprocess
import sys
import types

import pytest

from ppo_grpo_lab import History
from ppo_grpo_lab.loggers import LoggedHistory, TensorBoardLogger, attach, write_history

TINY_PPO = ["--set", "num_envs=2", "--set", "num_steps=32", "--set", "update_epochs=1", "--set", "num_minibatches=2",
            "--set", "hidden_sizes=[16]", "--set", "total_timesteps=256", "--no-progress"]
TINY_GRPO = ["--task", "addition", "--set", "num_updates=2", "--set", "batch_size=16", "--set", "group_size=4",
             "--set", "eval_every=0", "--sft-steps", "5", "--no-progress"]


def run_main(capsys, *args):
    from ppo_grpo_lab.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


def scalars(log_dir):
    """{tag: [(step, value), ...]} read back from the event files with TensorBoard's EventAccumulator."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_attach_forwards_new_records_and_keeps_the_old_ones():
    class Spy:
        def __init__(self):
            self.seen = []

        def log(self, step, metrics):
            self.seen.append((step, dict(metrics)))

    trainer = types.SimpleNamespace(rank=0, history=LoggedHistory())
    trainer.history.log(0, {"eval/accuracy": 0.5})
    spy, replayed = attach(trainer, Spy()), attach(trainer, Spy(), replay=True)
    trainer.history.log(3, {"loss/policy": 1.5})
    assert spy.seen == [(3, {"loss/policy": 1.5})]
    assert replayed.seen == [(0, {"eval/accuracy": 0.5}), (3, {"loss/policy": 1.5})]
    assert len(trainer.history) == 2 and trainer.history.last("loss/policy") == 1.5
    done = History()
    done.log(5, {"reward/mean": 0.25})
    write_history(done, spy)
    assert spy.seen[-1] == (5, {"reward/mean": 0.25})
    other = types.SimpleNamespace(rank=1, history=LoggedHistory())
    attach(other, Spy())
    assert other.history.loggers == []  # only rank 0 forwards


def test_missing_tensorboard_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.raises(ImportError, match="pip install tensorboard"):
        TensorBoardLogger(str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    r = run_main(capsys, "ppo", "--env", "CartPole-v1", *TINY_PPO, "--tensorboard", str(tmp_path / "tb"),
                 "--out", str(tmp_path / "run"))
    assert r.returncode == 1 and "--tensorboard: needs the 'tensorboard' package" in r.stderr
    assert not (tmp_path / "run" / "checkpoint.pt").exists()  # refused before training


def test_ppo_cli_writes_tensorboard_events_with_the_csv_names(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    tb, out = tmp_path / "tb", tmp_path / "run"
    r = run_main(capsys, "ppo", "--env", "CartPole-v1", *TINY_PPO, "--tensorboard", str(tb), "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    got = scalars(tb)
    for tag in ("loss/policy", "loss/value", "stats/approx_kl", "stats/clip_frac", "charts/episode_return",
                "charts/SPS"):
        assert tag in got, (tag, sorted(got))
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert set(got) == {k for k in rows[0] if k != "step"}  # the CSV's columns, no more, no less
    want = [(int(row["step"]), float(row["loss/policy"])) for row in rows if row["loss/policy"]]
    assert [(s, pytest.approx(v, rel=1e-6)) for s, v in got["loss/policy"]] == want


def test_grpo_cli_writes_tensorboard_events(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    tb, out = tmp_path / "tb", tmp_path / "run"
    r = run_main(capsys, "grpo", *TINY_GRPO, "--tensorboard", str(tb), "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    got = scalars(tb)
    for tag in ("reward/mean", "reward/gold", "stats/kl_ref", "stats/zero_std_frac", "loss/policy", "eval/accuracy",
                "sft/final_loss"):
        assert tag in got, (tag, sorted(got))
    assert [s for s, _ in got["reward/mean"]] == [1, 2]
    assert [s for s, _ in got["eval/accuracy"]] == [0, 2]  # the step-0 evaluation is replayed


def test_wandb_flag_with_a_mock(monkeypatch, tmp_path, capsys):
    calls = {"init": [], "log": [], "finish": 0}

    class Run:
        def log(self, metrics, step):
            calls["log"].append((step, metrics))

        def finish(self):
            calls["finish"] += 1

    fake = types.ModuleType("wandb")
    fake.__spec__ = importlib.machinery.ModuleSpec("wandb", None)
    fake.init = lambda project, config=None, **kw: calls["init"].append((project, config)) or Run()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    r = run_main(capsys, "ppo", "--env", "CartPole-v1", *TINY_PPO, "--wandb", "my-project", "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert calls["init"][0][0] == "my-project" and calls["init"][0][1]["env"] == "CartPole-v1"
    assert calls["finish"] == 1
    assert any("loss/policy" in m for _, m in calls["log"])
    steps = [s for s, _ in calls["log"]]
    assert steps == sorted(steps)  # W&B drops steps that go backwards
