"""The student edition carries no solution: not in its notebooks, its HTML, its `_sources` or its Colab links.

Solution text is what tools/student_notebooks.py takes out of a book notebook: the code between
``### BEGIN SOLUTION`` and ``### END SOLUTION``, the contents of MyST ``{solution}`` blocks and
cells tagged ``solution``. A piece of it counts as leaked when it appears in the student edition
and nowhere else in the book notebook (a line such as ``return adv`` may occur in an experiment too):
code lines of 12 or more characters (spaces removed), runs of 6 plain words of prose, and each
solution as a whole.
"""
from __future__ import annotations

import ast
import html
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


def _tools_module():
    spec = importlib.util.spec_from_file_location("student_notebooks", ROOT / "tools" / "student_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SN = _tools_module()
WORDS = re.compile(r"[A-Za-z][A-Za-z'-]*[,;.:]?")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _nb_text(nb: dict) -> str:
    return "\n".join(_src(c) for c in nb["cells"])


def _word_runs(text: str, n: int = 6) -> set[str]:
    out = set()
    for line in text.split("\n"):
        tokens = line.split()
        run = []
        for tok in tokens + [""]:
            if WORDS.fullmatch(tok):
                run.append(tok)
                continue
            out |= {" ".join(run[i:i + n]) for i in range(len(run) - n + 1)}
            run = []
    return out


def leak_markers(nb: dict) -> set[str]:
    """Squashed pieces of the notebook's solution texts that occur nowhere else in it."""
    sols = SN.solution_texts(nb)
    rest = _nb_text(nb)
    for sol in sorted(sols, key=len, reverse=True):
        rest = rest.replace(sol, "")
    rest_sq = _squash(rest)
    out = {_squash(s) for s in sols}
    for sol in sols:
        out |= {_squash(ln) for ln in sol.split("\n") if len(_squash(ln)) >= 12}
        out |= {_squash(r) for r in _word_runs(sol)}
    return {m for m in out if m and m not in rest_sq}


def leaked(markers: set[str], text: str) -> list[str]:
    squashed = _squash(text)
    return sorted(m for m in markers if m in squashed)


def _html_text(page: str) -> str:
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# -- the stripping itself ------------------------------------------------------------------------

def test_strip_code_replaces_each_region_at_its_indentation():
    src = ("def f(x):\n    \"\"\"doc\"\"\"\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n\n"
           "def g(x):\n        ### BEGIN SOLUTION\n        return 2\n        ### END SOLUTION\ncheck('f', f)")
    out = SN.strip_code(src)
    assert out.split("\n")[2] == "    " + SN.STUB_LINE and "x + 1" not in out and "return 2" not in out
    assert "        " + SN.STUB_LINE in out and out.endswith("check('f', f)")
    assert SN.strip_code(out) == out
    for bad in ("### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"):
        with pytest.raises(ValueError, match="line"):
            SN.strip_code(bad, "nb cell 3")


def test_strip_markdown_removes_solution_blocks_of_every_fence():
    md = ("Text before.\n\n```{exercise} Q\n:label: ex-1\nAsk.\n```\n\n````{solution} ex-1\n:class: dropdown\n"
          "```python\nsecret_one = 1\n```\nmore secret prose\n````\n\n:::{solution} ex-2\nsecret_two\n:::\n\nText after.")
    out = SN.strip_markdown(md)
    assert "secret" not in out and "{solution}" not in out
    assert "Text before." in out and "```{exercise} Q" in out and "Ask." in out and out.endswith("Text after.")
    assert SN.strip_markdown(out) == out
    assert {t.strip() for t in SN.solution_texts({"cells": [{"cell_type": "markdown", "source": md}]})} == {
        ":class: dropdown\n```python\nsecret_one = 1\n```\nmore secret prose", "secret_two"}


def test_strip_notebook_tags_gated_solutions_and_outputs():
    def cell(kind, src, tags=()):
        c = {"cell_type": kind, "metadata": {"tags": list(tags)} if tags else {}, "source": src}
        if kind == "code":
            c.update(outputs=[{"output_type": "stream", "name": "stdout", "text": "passed"}], execution_count=3)
        return c
    nb = {"cells": [
        cell("markdown", "### Exercise 1.1 (graded): x"),
        cell("code", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\ncheck('f', f)",
             ["exercise", "hide-input"]),
        cell("markdown", "Compare your solution:", ["solution"]),
        cell("code", "show(package_version)", ["solution"]),
        cell("markdown", "Intro.\n\n```{solution-start} ex-2\n:class: dropdown\n```\nGated secret prose."),
        cell("code", "gated_secret = 1"),
        cell("markdown", "```{solution-end}\n```\n\nAfter the gate."),
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = SN.strip_notebook(nb)
    text = json.dumps(out)
    assert "return 1" not in text and "package_version" not in text and "secret" not in text
    assert "Compare your solution" not in text and "Intro." in text and "After the gate." in text
    assert out["cells"][1]["metadata"]["tags"] == ["exercise"] and out["cells"][1]["outputs"] == []
    assert out["cells"][1]["execution_count"] is None
    assert SN.strip_notebook(out) == out
    assert nb["cells"][1]["metadata"]["tags"] == ["exercise", "hide-input"]  # the input is not changed


@pytest.fixture(scope="module")
def stripped(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "student_notebooks.py"), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def test_cli_refuses_to_overwrite_the_book():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "student_notebooks.py"), str(BOOK)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "OUTDIR" in proc.stderr


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_stripped_chapter_has_no_solution_text(stripped, path):
    book = json.loads(path.read_text(encoding="utf-8"))
    student = json.loads((stripped / path.name).read_text(encoding="utf-8"))
    markers = leak_markers(book)
    assert markers, f"{path.name}: no solution text found (every chapter has solved exercises)"
    assert not leaked(markers, json.dumps(student, ensure_ascii=False) + _nb_text(student)), path.name
    text = _nb_text(student)
    assert SN.BEGIN not in text and SN.END not in text and "{solution" not in text
    assert not [c for c in student["cells"] if "solution" in c.get("metadata", {}).get("tags", [])]
    exercises = [c for c in student["cells"] if "exercise" in c.get("metadata", {}).get("tags", [])]
    assert len(exercises) == sum("exercise" in c.get("metadata", {}).get("tags", []) for c in book["cells"])
    for c in exercises:
        assert "hide-input" not in c["metadata"]["tags"] and SN.STUB_LINE in _src(c)
    assert SN.strip_notebook(student) == student  # idempotent


def test_the_leak_check_can_fail():
    path = CHAPTERS[0]
    book = json.loads(path.read_text(encoding="utf-8"))
    assert leaked(leak_markers(book), json.dumps(book, ensure_ascii=False) + _nb_text(book))


# -- the built student site ------------------------------------------------------------------------

@pytest.mark.slow
def test_built_student_site_has_no_solution_text(tmp_path):
    exe = Path(sys.executable).with_name("jupyter-book")
    if not exe.exists():
        pytest.skip("jupyter-book is not installed (the book extra)")
    out = tmp_path / "student"
    env = {**os.environ, "PPO_GRPO_LAB_NO_SETUP": "1", "PPO_GRPO_LAB_PYTHON": sys.executable,
           "JUPYTER_BOOK": str(exe), "PPO_GRPO_LAB_STUDENT_OUT": str(out), "PPO_GRPO_LAB_STUDENT_BRANCH": "student-x"}
    pages = ",".join(f"book/{p.stem}" for p in CHAPTERS)
    proc = subprocess.run(["bash", str(ROOT / "tools" / "build_student_edition.sh"), "--no-execute", "--pages", pages],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    site = out / "_build" / "html"
    for path in CHAPTERS:
        markers = leak_markers(json.loads(path.read_text(encoding="utf-8")))
        page = (site / "book" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert not leaked(markers, _html_text(page)), f"{path.stem}.html shows solution text"
        assert "/blob/student-x/book/" in page and "/blob/main/" not in page, "Colab must open the stripped notebooks"
        for copy in (site / "_sources" / "book" / path.name, out / "src" / "book" / path.name):
            nb = json.loads(copy.read_text(encoding="utf-8"))
            assert not leaked(markers, json.dumps(nb, ensure_ascii=False) + _nb_text(nb)), f"{copy} has solution text"
        if any("exercise" in c.get("metadata", {}).get("tags", []) for c in json.loads(path.read_text())["cells"]):
            assert "NotImplementedError" in _html_text(page)
    for extra in (out / "_build").rglob("*.ipynb"):  # executed copies, if any
        nb = json.loads(extra.read_text(encoding="utf-8"))
        book = BOOK / extra.name
        if book.exists():
            assert not leaked(leak_markers(json.loads(book.read_text())), json.dumps(nb, ensure_ascii=False)), extra
    assert not (ROOT / "book" / "_build").exists()
    assert not (site / "_modules").exists(), "the student edition must not publish the package's source (viewcode)"


# -- the student's notebook goes back to the grader --------------------------------------------------

def test_grader_grades_the_student_notebook_filled_in(stripped, tmp_path, capsys):
    from ppo_grpo_lab.grade.__main__ import main

    def grade(path: Path) -> str:
        main(["--notebook", str(path), "--seed", "3", "--timeout", "60", "--json", "kl_k3"])
        return json.loads(capsys.readouterr().out)["exercises"][0]["status"]

    student = json.loads((stripped / "04_reference_kl.ipynb").read_text(encoding="utf-8"))
    assert grade(stripped / "04_reference_kl.ipynb") == "not implemented"
    answer = "log_rho = ref_log_probs - log_probs\n    return torch.exp(log_rho) - 1 - log_rho"
    for cell in student["cells"]:
        if "exercise" in cell["metadata"].get("tags", []):
            cell["source"] = _src(cell).replace(SN.STUB_LINE, answer)
    (tmp_path / "alice.ipynb").write_text(json.dumps(student), encoding="utf-8")
    assert grade(tmp_path / "alice.ipynb") == "passed"
    assert grade(BOOK / "04_reference_kl.ipynb") == "passed"  # the book's worked solution


def _bound(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return out


def _loaded(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _parse(src: str) -> ast.AST:
    return ast.parse(re.sub(r"(?m)^(\s*)[%!].*$", r"\1pass", src))


def runs_without_solutions(nb: dict) -> list[str]:
    """What breaks when the student edition runs: a name bound only in a removed ``solution`` cell and
    used later, or an exercise function (now a stub that raises) called by a later cell."""
    problems, lost, stubs = [], set(), set()
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        tree = _parse(_src(cell))
        tags = cell.get("metadata", {}).get("tags", [])
        if "solution" in tags:
            lost |= _bound(tree)
            continue
        bound = _bound(tree)  # a cell that binds a name and uses it is taken to bind it first
        lost -= bound
        used = _loaded(tree)
        if used & lost:
            problems.append(f"cell {i} uses {sorted(used & lost)}, bound only in a removed 'solution' cell")
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        if "exercise" not in tags and calls & (stubs - bound):
            problems.append(f"cell {i} calls {sorted(calls & (stubs - bound))}, a stub in the student edition")
        stubs -= bound
        if "exercise" in tags:
            stubs |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_edition_runs_without_the_solutions(path):
    problems = runs_without_solutions(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, f"{path.name}: the student edition would fail: {problems}"


def test_the_run_check_can_fail():
    def code(src, tags=()):
        return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": src}
    nb = {"cells": [code("def gae(r):\n    ### BEGIN SOLUTION\n    return r\n    ### END SOLUTION", ["exercise"]),
                    code("from pkg import _gae as kernel", ["solution"]),
                    code("print(kernel(1), gae(2))")]}
    assert len(runs_without_solutions(nb)) == 2
    nb["cells"][2] = code("from pkg import gae, _gae as kernel\nprint(kernel(1), gae(2))")
    assert not runs_without_solutions(nb)
