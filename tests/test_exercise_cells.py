"""Every graded exercise is notebook-native, and every chapter keeps its ungraded exercises.

The convention (issue 13): in its chapter notebook each graded exercise is

1. a markdown cell, plain Jupyter Markdown (no MyST directives or roles, so Colab renders it)::

       ### Exercise 7.2 (graded): GAE
       <statement, equation, shapes>
       *Where to write it.* Colab: ... the stub file `ppo_grpo_lab/exercises/gae.py` and then `check("gae")` ...

2. right after it, a code cell tagged ``exercise`` and ``hide-input`` holding
   ``from ppo_grpo_lab.grade import check``, the stub's function (exact signature and
   docstring) whose body is a worked solution between ``### BEGIN SOLUTION`` and
   ``### END SOLUTION``, and ``check("<name>", <name>)``.

The book cell must pass the grader; the student edition of the cell (tools/student_notebooks.py:
the solution replaced by ``raise NotImplementedError``) must run and print "not implemented
yet" without raising. Each exercise also needs its stub, reference and grader spec, and every
chapter keeps at least one ungraded ``{exercise}`` with its ``{solution}``.
"""
from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ppo_grpo_lab.exercises import CHAPTERS, NAMES
from ppo_grpo_lab.exercises import references as R
from ppo_grpo_lab.grade import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
EXERCISE = re.compile(r"^\s*(```+|:::+)\{exercise(?:-start)?\}[^\n]*\n(?:\s*:[^\n]*\n)*?\s*:label:\s*(?P<label>\S+)", re.M)
SOLUTION = re.compile(r"^\s*(```+|:::+)\{solution(?:-start)?\}\s*(?P<label>\S+)", re.M)
MYST = re.compile(r"(```+|:::+)\s*\{[\w-]+\}|\{(eq|ref|doc|numref|math)\}`")
HEADING = re.compile(r"^### Exercise (?P<ch>\d+)\.(?P<num>\d+) \(graded\): \S", re.M)


def _tools_module():
    spec = importlib.util.spec_from_file_location("student_notebooks", ROOT / "tools" / "student_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SN = _tools_module()


def _notebook(chapter: int) -> Path:
    found = sorted(BOOK.glob(f"{chapter:02d}_*.ipynb"))
    assert len(found) == 1, f"expected exactly one book/{chapter:02d}_*.ipynb, found {[p.name for p in found]}"
    return found[0]


def _load(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _cells(path: Path, kind: str) -> list[str]:
    return [_src(c) for c in _load(path) if c["cell_type"] == kind]


def _defines(src: str, name: str) -> ast.FunctionDef | None:
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def exercise_cell(cells: list[dict], name: str) -> int | None:
    """Index of the code cell tagged ``exercise`` that defines ``name`` (None if absent)."""
    found = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
             and "exercise" in c.get("metadata", {}).get("tags", []) and _defines(_src(c), name)]
    assert len(found) <= 1, f"{name}: several exercise cells define it: cells {found}"
    return found[0] if found else None


def _stub_def(name: str) -> ast.FunctionDef:
    path = ROOT / "ppo_grpo_lab" / "exercises" / f"{name}.py"
    return _defines(path.read_text(encoding="utf-8"), name)


def _run(src: str, where: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # the chapter imports torch and numpy in its first cells; the cell itself imports `check`
        exec(compile(src, where, "exec"), {"torch": torch, "np": np, "__name__": "__main__"})
    return out.getvalue()


ALL_CHAPTERS = sorted(int(p.name[:2]) for p in BOOK.glob("[0-9][0-9]_*.ipynb"))


def test_every_chapter_is_covered():
    assert ALL_CHAPTERS == list(range(1, len(ALL_CHAPTERS) + 1)) and len(ALL_CHAPTERS) >= 16, ALL_CHAPTERS


@pytest.mark.parametrize("chapter", ALL_CHAPTERS)
def test_chapter_keeps_ungraded_exercises(chapter):
    path = _notebook(chapter)
    md = "\n".join(_cells(path, "markdown"))
    labels = [m.group("label") for m in EXERCISE.finditer(md)]
    assert labels, f"{path.name}: no {{exercise}} directive with a :label: in its markdown cells"
    for label in labels:
        assert label.startswith(f"ex-{chapter:02d}-"), f"{path.name}: exercise label {label!r} must start with ex-{chapter:02d}-"
    solved = {m.group("label") for m in SOLUTION.finditer(md)}
    missing = [lab for lab in labels if lab not in solved]
    assert not missing, f"{path.name}: exercises without a {{solution}}: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_exercise_is_notebook_native(name):
    chapter = CHAPTERS[name]
    path = _notebook(chapter)
    cells = _load(path)
    i = exercise_cell(cells, name)
    assert i is not None, (f"{path.name}: no code cell tagged 'exercise' that defines `def {name}(...)`; "
                           f"see tests/test_exercise_cells.py for the convention")
    cell, src = cells[i], _src(cells[i])
    assert "hide-input" in cell["metadata"]["tags"], f"{path.name} cell {i}: tag it ['exercise', 'hide-input']"
    assert "%" not in re.sub(r"#.*", "", src), "graded cells must be plain Python (no magics)"
    # the markdown cell right before: plain Markdown, numbered heading, where to write it
    assert i > 0 and cells[i - 1]["cell_type"] == "markdown", f"{path.name}: a markdown cell must precede cell {i}"
    md = _src(cells[i - 1])
    head = HEADING.search(md)
    assert head and int(head.group("ch")) == chapter, f"{path.name}: the cell before must start `### Exercise {chapter}.k (graded): ...`"
    assert not MYST.search(md), f"{path.name}: the exercise's markdown must be plain Markdown (no MyST): {MYST.search(md).group(0)!r}"
    assert "Where to write it" in md and f"ppo_grpo_lab/exercises/{name}.py" in md and f'check("{name}")' in md
    # the code cell: import, the stub's exact signature and docstring, markers, the check call
    tree = ast.parse(src)
    assert any(isinstance(n, ast.ImportFrom) and n.module == "ppo_grpo_lab.grade" and any(a.name == "check" for a in n.names)
               for n in tree.body), "the cell must import check: `from ppo_grpo_lab.grade import check`"
    fn, stub = _defines(src, name), _stub_def(name)
    assert ast.unparse(fn.args) == ast.unparse(stub.args), (
        f"{name}: signature ({ast.unparse(fn.args)}) differs from the stub's ({ast.unparse(stub.args)})")
    assert ast.get_docstring(fn) == ast.get_docstring(stub), f"{name}: the cell's docstring must be the stub's"
    lines = [ln.strip() for ln in src.split("\n")]
    assert lines.count(SN.BEGIN) == 1 and lines.count(SN.END) == 1, f"{name}: one {SN.BEGIN!r} ... {SN.END!r} region"
    last = tree.body[-1]
    assert isinstance(last, ast.Expr) and ast.unparse(last.value) == f"check('{name}', {name})", (
        f"{name}: the cell must end with check(\"{name}\", {name})")


@pytest.mark.parametrize("name", NAMES)
def test_book_cell_passes_and_student_cell_is_not_implemented(name):
    path = _notebook(CHAPTERS[name])
    cells = _load(path)
    i = exercise_cell(cells, name)
    if i is None:
        pytest.skip(f"{path.name} has no exercise cell for {name} yet (reported by the test above)")
    book = _src(cells[i])
    out = _run(book, f"{path.name}:cell{i}")
    assert "passed" in out, f"{name}: the worked solution must pass the grader; it printed: {out}"
    student = SN.strip_code(book)
    assert SN.BEGIN not in student and SN.STUB_LINE in student
    out = _run(student, f"{path.name}:cell{i}(student)")  # must not raise
    assert "not implemented yet" in out, out


@pytest.mark.parametrize("name", NAMES)
def test_exercise_has_stub_reference_and_spec(name):
    module = importlib.import_module(f"ppo_grpo_lab.exercises.{name}")
    stub = getattr(module, name)
    spec = EXERCISES[name]
    params = [p.strip().split("=")[0] for p in spec.signature.split("(", 1)[1].rstrip(")").split(",")]
    assert list(inspect.signature(stub).parameters) == params, f"stub {name}: signature differs from {spec.signature}"
    assert list(inspect.signature(R.REFERENCES[name]).parameters) == params, f"reference {name}: signature differs"
    assert stub.__doc__ and "Returns" in stub.__doc__
    with pytest.raises(NotImplementedError):
        stub(*spec.visible()[0].args)
    assert spec.chapter == CHAPTERS[name]
    assert f'check("{name}")' in (module.__doc__ or ""), f"stub {name}: its module docstring says how to check the file"


def test_a_wrong_cell_is_caught(tmp_path):
    """The checks above can fail: a cell without markers or with another signature is rejected."""
    good = "from ppo_grpo_lab.grade import check\n\ndef kl_k3(log_probs, ref_log_probs):\n    return 0\n\ncheck('kl_k3', kl_k3)"
    cells = [{"cell_type": "code", "metadata": {"tags": ["exercise"]}, "source": good}]
    assert exercise_cell(cells, "kl_k3") == 0 and exercise_cell(cells, "gae") is None
    assert ast.unparse(_defines(good.replace("ref_log_probs)", "ref)"), "kl_k3").args) != ast.unparse(_stub_def("kl_k3").args)
    with pytest.raises(AssertionError):
        _run(good, "wrong")  # returns 0 for every case: check raises
    assert not [ln for ln in good.split("\n") if ln.strip() == SN.BEGIN]
