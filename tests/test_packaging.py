"""Packaging: environment.yml and pyproject.toml list the same requirements; torch pinned only in constraints."""
import re
from pathlib import Path

import pytest
import tomllib
import torch

from ppo_grpo_lab import History, budget, quick_mode, resolve_device

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def pyproject_requirements(extras=("test", "book")) -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = set(map(_norm, data["project"]["dependencies"]))
    for e in extras:
        reqs |= set(map(_norm, data["project"]["optional-dependencies"][e]))
    return reqs


def environment_requirements() -> set[str]:
    pip_lines, in_pip = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.strip() == "- pip:":
            in_pip = True
            continue
        if in_pip:
            m = re.match(r"^\s+-\s+(.+)$", line)
            if not m:
                break
            pip_lines.append(m.group(1))
    return {_norm(r) for r in pip_lines if not r.startswith("-e")}


def test_environment_yml_matches_pyproject():
    py, env = pyproject_requirements(), environment_requirements()
    assert env == py, f"only in environment.yml: {sorted(env - py)}; only in pyproject.toml: {sorted(py - env)}"


def test_package_requirements_stay_loose_and_torch_is_pinned_in_constraints():
    for req in pyproject_requirements():
        assert "==" not in req, f"{req}: pin versions in constraints.txt, not in pyproject.toml"
    pins = (ROOT / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins


def test_quick_mode_and_budget(monkeypatch):
    monkeypatch.setenv("PPO_GRPO_LAB_QUICK", "1")
    assert quick_mode() and budget(100, 5) == 5
    monkeypatch.setenv("PPO_GRPO_LAB_QUICK", "0")
    assert not quick_mode() and budget(100, 5) == 100


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu-ish")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            resolve_device("cuda")


def test_history_roundtrip_and_plot(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    h = History()
    h.log(10, **{"loss/policy": torch.tensor(0.5), "stats/clip_frac": 0.1})
    h.log(20, {"charts/episode_return": 12})
    h.log(30, **{"loss/policy": 0.25})
    steps, vals = h.series("loss/policy")
    assert steps.tolist() == [10, 30] and vals.tolist() == [0.5, 0.25]
    assert h.last("charts/episode_return") == 12.0
    assert h.keys() == ["loss/policy", "stats/clip_frac", "charts/episode_return"]
    h.to_csv(tmp_path / "m.csv")
    h2 = History.from_csv(tmp_path / "m.csv")
    assert h2.records == h.records
    axes = h.plot(["loss/policy", "charts/episode_return"])
    assert len(axes) == 2
    with pytest.raises(KeyError, match="available"):
        h.series("nope")
    with pytest.raises(ValueError, match="expected a number"):
        h.log(1, x="abc")
