"""Grading a class: JSON, points, seeds, time limits, notebooks, batches, private cases, instructor references.

The command line runs in this process (``main([...])``); each exercise still runs in a
child of the grader's worker process, as it does for an instructor.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from ppo_grpo_lab.exercises import NAMES
from ppo_grpo_lab.exercises import references as R
from ppo_grpo_lab.grade import EXERCISES, STATUSES, check, grade, sources
from ppo_grpo_lab.grade import references as refs
from ppo_grpo_lab.grade.__main__ import _parser, main
from ppo_grpo_lab.grade.sources import extract_notebook

KL_OK = "import torch\ndef kl_k3(log_probs, ref_log_probs):\n    r = ref_log_probs - log_probs\n    return torch.exp(r) - 1 - r\n"
BASELINE_WRONG = "def baseline_advantage(rewards, values):\n    return values - rewards\n"
GAE_WRONG = ("import torch\ndef gae(rewards, values, next_values, terminated, truncated, gamma, lam):\n"
             "    return rewards + gamma * next_values - values   # one-step TD, no trace\n")


def _run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().out


def _json(capsys, *args) -> tuple[int, dict]:
    code, out = _run(capsys, *args, "--json")
    return code, json.loads(out)


def _file(tmp_path, text, name="mine.py") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def _notebook(path: Path, cells: list[str]) -> Path:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": c} for c in cells]}
    path.write_text(json.dumps(nb))
    return path


def test_json_shape_points_and_statuses(tmp_path, capsys):
    f = _file(tmp_path, KL_OK + BASELINE_WRONG)
    code, data = _json(capsys, "--file", f, "--seed", 4, "kl_k3", "baseline_advantage", "gae")
    assert code == 1
    assert set(data) == {"submission", "seed", "points", "max_points", "passed", "graded", "exercises"}
    assert data["seed"] == 4 and data["submission"] == "mine" and data["graded"] == 3 and data["passed"] == 1
    by = {e["name"]: e for e in data["exercises"]}
    for e in data["exercises"]:
        assert set(e) == {"name", "status", "points", "max_points", "cases_run", "seed", "message"}
        assert e["status"] in STATUSES and e["seed"] == 4 and e["max_points"] == EXERCISES[e["name"]].points
    assert by["kl_k3"]["status"] == "passed" and by["kl_k3"]["points"] == by["kl_k3"]["max_points"] == 1
    assert by["baseline_advantage"]["status"] == "failed" and by["baseline_advantage"]["points"] == 0
    assert "visible example" in by["baseline_advantage"]["message"]
    assert by["gae"]["status"] == "failed" and "no function named gae" in by["gae"]["message"]
    assert data["points"] == 1 and data["max_points"] == 1 + 1 + EXERCISES["gae"].points
    code, data = _json(capsys, "--file", f, "--seed", 4, "--points", "kl_k3=5", "kl_k3")
    assert code == 0 and data["points"] == data["max_points"] == 5
    with pytest.raises(SystemExit) as info:
        main(["--points", "nope=1"])
    assert info.value.code == 2


def test_same_seed_same_cases_same_result(tmp_path, capsys):
    f = _file(tmp_path, GAE_WRONG)
    _, a = _json(capsys, "--file", f, "--seed", 11)
    _, b = _json(capsys, "--file", f, "--seed", 11)
    _, c = _json(capsys, "--file", f, "--seed", 12)
    assert a == b
    assert a["exercises"][0]["status"] == "failed" and "seed=11" in a["exercises"][0]["message"]
    assert c["exercises"][0]["message"] != a["exercises"][0]["message"]  # another seed, other cases
    _, d = _json(capsys, "--file", f)  # no seed: one is drawn, reported, and replays the run
    _, e = _json(capsys, "--file", f, "--seed", d["seed"])
    assert d == e


def test_endless_loop_times_out_and_the_rest_is_graded(tmp_path, capsys):
    f = _file(tmp_path, KL_OK.replace("    r = ref", "    while True:\n        pass\n    r = ref")
              + "def baseline_advantage(rewards, values):\n    print('noise')\n    return rewards - values\n"
              + "def td_residuals(rewards, values, next_values, terminated, gamma):\n    raise SystemExit(3)\n")
    start = time.monotonic()
    code, data = _json(capsys, "--file", f, "--seed", 0, "--timeout", 1)
    elapsed = time.monotonic() - start
    by = {e["name"]: e for e in data["exercises"]}
    assert code == 1 and by["kl_k3"]["status"] == "timeout" and "1 s" in by["kl_k3"]["message"]
    assert by["baseline_advantage"]["status"] == "passed"  # its print did not break the JSON
    assert by["td_residuals"]["status"] == "error" and "exit(3)" in by["td_residuals"]["message"]
    assert elapsed < 60, elapsed
    g = _file(tmp_path, "while True:\n    pass\n", "hangs_on_import.py")
    code, data = _json(capsys, "--file", g, "--timeout", 1, "kl_k3")
    assert code == 1 and data["exercises"][0]["status"] == "timeout"


def _student_notebook(path: Path) -> Path:
    return _notebook(path, [
        "import sys\nif 'google.colab' in sys.modules:\n    %pip install -q ppo-grpo-lab\n",
        "import torch\nfrom ppo_grpo_lab.grade import check\nfrom ppo_grpo_lab.exercises.gae import gae as my_gae\n",
        KL_OK + "\ncheck('kl_k3', kl_k3)\n",
        BASELINE_WRONG + "\nresult = check('baseline_advantage', baseline_advantage)\n",
        "for i in range(10**12):\n    pass   # an experiment: left out, or it would time out\n",
        "import functools; print('run')\n@functools.lru_cache(maxsize=None)\ndef helper(x):\n    return x\n",
        "def broken(:\n",
    ])


def test_extract_notebook_keeps_definitions_only(tmp_path):
    code = extract_notebook(_student_notebook(tmp_path / "nb.ipynb"))
    assert "def kl_k3" in code and "def baseline_advantage" in code and "import torch" in code
    assert "check(" not in code.replace("import check", "")  # the student's own check calls are left out
    assert "range(10**12)" not in code and "%pip" not in code and "cell 6 skipped: SyntaxError" in code
    assert "@functools.lru_cache(maxsize=None)\ndef helper" in code and "print(" not in code
    compile(code, "extracted", "exec")


def test_notebook_mode_grades_correct_and_wrong_solutions(tmp_path, capsys):
    nb = _student_notebook(tmp_path / "07_student.ipynb")
    code, data = _json(capsys, "--notebook", nb, "--seed", 2, "--timeout", 10, "kl_k3", "baseline_advantage", "gae")
    by = {e["name"]: e["status"] for e in data["exercises"]}
    assert code == 1 and by == {"kl_k3": "passed", "baseline_advantage": "failed", "gae": "not implemented"}


def test_batch_writes_one_csv_row_per_student(tmp_path, capsys):
    cls = tmp_path / "class"
    (cls / "carol").mkdir(parents=True)
    _student_notebook(cls / "alice.ipynb")
    _file(cls, "from ppo_grpo_lab.exercises.references import kl_k3\n" + BASELINE_WRONG.replace("values - rewards",
                                                                                             "rewards - values"), "bob.py")
    _file(cls / "carol", KL_OK, "kl_k3.py")
    _file(cls / "carol", "def baseline_advantage(rewards, values):\n    return rewards - values\n",
          "baseline_advantage.py")
    (cls / "notes.txt").write_text("not a submission")
    (cls / "dave").mkdir()  # an empty folder: nothing to grade, not the package's stubs
    out = tmp_path / "grades.csv"
    code, _ = _run(capsys, "--batch", cls, "--seed", 3, "--points", "kl_k3=4", "--out", out, "kl_k3",
                   "baseline_advantage")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["student"] for r in rows] == ["alice", "bob", "carol", "dave"]
    assert list(rows[0]) == ["student", "kl_k3", "baseline_advantage", "total", "max_total", "seed"]
    got = {r["student"]: (r["kl_k3"], r["baseline_advantage"], r["total"], r["max_total"]) for r in rows}
    # bob's own baseline_advantage is right, but his file imports the references: nothing of it counts
    assert got == {"alice": ("4", "0", "4", "5"), "bob": ("0", "0", "0", "5"), "carol": ("4", "1", "5", "5"),
                   "dave": ("0", "0", "0", "5")}
    assert all(r["seed"] == "3" for r in rows)
    code, data = _json(capsys, "--batch", cls, "--seed", 3, "kl_k3")
    assert code == 0 and [d["submission"] for d in data] == ["alice", "bob", "carol", "dave"]
    assert data[3]["exercises"][0]["message"] == "kl_k3: no function named kl_k3 found"


EXTRA = '''
import torch
CASES = {"baseline_advantage": [{"args": (torch.ones(50, dtype=torch.float64), torch.full((50,), 2.0, dtype=torch.float64)),
                                 "note": "N=50"}]}
def cases(gen):
    return {"kl_k3": [(-torch.rand(3, generator=gen, dtype=torch.float64), -torch.rand(3, generator=gen, dtype=torch.float64))]}
'''


def test_extra_cases_catch_what_hidden_cases_miss(tmp_path, capsys):
    extra = tmp_path / "private"
    extra.mkdir()
    _file(extra, EXTRA, "cases_2026.py")
    f = _file(tmp_path, "def baseline_advantage(rewards, values):\n"
                        "    return rewards - values if rewards.numel() < 40 else rewards + values\n")
    code, data = _json(capsys, "--file", f, "--seed", 1)
    assert code == 0, data  # the hidden cases stop at N=16: this answer slips through them
    code, data = _json(capsys, "--file", f, "--seed", 1, "--extra-cases", extra)
    assert code == 1 and "private case 0 (cases_2026.py)" in data["exercises"][0]["message"]
    code, data = _json(capsys, "--self-test", "--seed", 1, "--extra-cases", extra, "--timeout", 0,
                       "kl_k3", "baseline_advantage")
    assert code == 0 and all("1 private case" in e["message"] for e in data["exercises"]), data
    _file(extra, "CASES = {'not_an_exercise': []}\n", "typo.py")
    code, data = _json(capsys, "--file", f, "--seed", 1, "--extra-cases", extra)
    assert data["exercises"][0]["status"] == "error" and "unknown exercise" in data["exercises"][0]["message"]


def test_reexports_of_the_answers_are_failed_with_a_clear_message(tmp_path, capsys):
    for name in ("kl_k3", "gae", "aggregate_grpo"):
        result = grade(name, R.REFERENCES[name], seed=0)
        assert result.status == "failed" and "re-exported" in result.message, result.message
        assert grade(name, R.REFERENCES[name], seed=0, allow_reference=True).passed
    import ppo_grpo_lab
    result = grade("kl_k3", ppo_grpo_lab.kl_k3, seed=0)  # the package's own function passed off as a solution
    assert result.status == "failed" and "ppo_grpo_lab.kl.kl_k3" in result.message
    wrapper = _file(tmp_path, "import ppo_grpo_lab.exercises.references as answers\n"
                              "def kl_k3(log_probs, ref_log_probs):\n    return answers.kl_k3(log_probs, ref_log_probs)\n")
    code, data = _json(capsys, "--file", wrapper, "--seed", 0)
    assert code == 1 and "imports ppo_grpo_lab.exercises.references" in data["exercises"][0]["message"]
    star = _file(tmp_path, "from ppo_grpo_lab.exercises.references import *\n", "star.py")
    code, data = _json(capsys, "--file", star, "--seed", 0)
    assert data["passed"] == 0 and data["graded"] == len(NAMES)
    assert all("re-exported" in e["message"] for e in data["exercises"])


def test_instructor_references_and_a_stubs_only_edition(tmp_path, capsys, monkeypatch):
    mine = _file(tmp_path, "def baseline_advantage(rewards, values):\n    return values - rewards\n", "answers.py")
    student = _file(tmp_path, BASELINE_WRONG, "student.py")  # right by the instructor's (odd) convention
    code, data = _json(capsys, "--file", student, "--seed", 0, "--references", mine)
    assert code == 0, data
    monkeypatch.setattr(refs, "_packaged", lambda: None)  # a student edition: stubs only, no references
    refs.use_references(None)
    monkeypatch.delenv(refs.ENV, raising=False)
    result = grade("kl_k3", lambda a, b: a, seed=0)
    assert result.status == "error" and "student edition" in result.message
    try:
        refs.use_references(str(mine))
        assert grade("baseline_advantage", lambda r, v: v - r, seed=0).passed
        assert grade("kl_k3", lambda a, b: a, seed=0).status == "error"  # not in the instructor's file
    finally:
        refs.use_references(None)


def test_edited_stub_file_is_graded_fresh_without_restart(tmp_path, monkeypatch, capsys):
    import importlib
    stub = importlib.import_module("ppo_grpo_lab.exercises.kl_k3").kl_k3  # imported once, as a chapter cell does
    copy = tmp_path / "kl_k3.py"
    shutil.copy(sources.stub_path("kl_k3"), copy)
    monkeypatch.setattr(sources, "stub_path", lambda name: tmp_path / f"{name}.py")
    assert check("kl_k3", stub).status == "not implemented"
    text = copy.read_text()
    body = "    r = ref_log_probs - log_probs\n    import torch\n    return torch.exp(r) - 1 - r\n"
    copy.write_text(re.sub(r"    raise NotImplementedError\(.*\)\n", body, text))
    assert check("kl_k3", stub, seed=0).passed  # same stale function object: the file is read again
    assert check("kl_k3").passed  # no function: the stub file as saved now


def test_check_accepts_a_function_defined_in_the_cell(capsys):
    cell = KL_OK + "result = check(kl_k3, seed=5)\nresult2 = check('kl_k3', kl_k3, seed=5)\n"
    env = {"check": check}
    exec(compile(cell, "<cell>", "exec"), env)
    assert env["result"].passed and env["result2"].passed and "passed" in capsys.readouterr().out


DOC_PAGES = [Path(__file__).resolve().parents[1] / "book" / p for p in ("how_to_run.md", "instructors.md")]


def test_grading_commands_in_the_docs_parse():
    parser = _parser()
    found = 0
    for page in DOC_PAGES:
        for line in page.read_text().splitlines():
            m = re.match(r"\s*python -m ppo_grpo_lab\.grade(?P<args>[^#>|]*)", line)
            if m:
                args = m.group("args").split()
                parser.parse_args(args)  # exits 2 on an option the command does not have
                unknown = [a for a in args if not a.startswith("-") and a.isidentifier() and a not in EXERCISES
                           and not any(c in a for c in "./")]
                assert not unknown, f"{page.name}: {line.strip()}"
                found += 1
    assert found >= 8, found
    text = DOC_PAGES[1].read_text()
    total = sum(ex.points for ex in EXERCISES.values())
    assert f"{total:g} in all" in text  # the default points, as the page states them
    for name, ex in EXERCISES.items():
        assert f"`{name}`" in text.split("Change\nany of them")[0], name
    assert parser.get_default("timeout") == 20 and "(20 by default" in text
