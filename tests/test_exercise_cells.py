"""Every chapter ends with exercises, and every coding exercise is wired to the grader.

Fails if a chapter notebook (book/01_*.ipynb ... book/11_*.ipynb) has no ``{exercise}``
directive (or one without its ``{solution}``), or lacks the graded cell of one of its
exercises::

    from ppo_grpo_lab.grade import check
    from ppo_grpo_lab.exercises.gae import gae as my_gae   # stub: replace with your own function
    check("gae", my_gae)

and if an exercise lacks its stub (exact signature, raises NotImplementedError), its
reference or its grader spec. The graded cells are executed: with the stub they must run
without raising (the grader prints "not implemented yet").
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import re
from pathlib import Path

import pytest

from ppo_grpo_lab.exercises import CHAPTERS, NAMES
from ppo_grpo_lab.exercises import references as R
from ppo_grpo_lab.grade import EXERCISES, check

BOOK = Path(__file__).resolve().parents[1] / "book"
EXERCISE = re.compile(r"^\s*(```+|:::+)\{exercise(?:-start)?\}[^\n]*\n(?:\s*:[^\n]*\n)*?\s*:label:\s*(?P<label>\S+)", re.M)
SOLUTION = re.compile(r"^\s*(```+|:::+)\{solution(?:-start)?\}\s*(?P<label>\S+)", re.M)


def _notebook(chapter: int) -> Path:
    found = sorted(BOOK.glob(f"{chapter:02d}_*.ipynb"))
    assert len(found) == 1, f"expected exactly one book/{chapter:02d}_*.ipynb, found {[p.name for p in found]}"
    return found[0]


def _cells(path: Path, kind: str) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def _check_cell(name: str, code_cells: list[str]) -> str | None:
    call = re.compile(rf"""\bcheck\(\s*["']{name}["']\s*,""")
    stub = re.compile(rf"from\s+ppo_grpo_lab\.exercises\.{name}\s+import\s+{name}\b")
    for src in code_cells:
        if call.search(src) and stub.search(src):
            return src
    return None


@pytest.mark.parametrize("chapter", range(1, 12))
def test_chapter_has_exercises_and_graded_cells(chapter):
    path = _notebook(chapter)
    md = "\n".join(_cells(path, "markdown"))
    labels = [m.group("label") for m in EXERCISE.finditer(md)]
    assert labels, f"{path.name}: no {{exercise}} directive with a :label: in its markdown cells"
    for label in labels:
        assert label.startswith(f"ex-{chapter:02d}-"), f"{path.name}: exercise label {label!r} must start with ex-{chapter:02d}-"
    solved = {m.group("label") for m in SOLUTION.finditer(md)}
    missing = [lab for lab in labels if lab not in solved]
    assert not missing, f"{path.name}: exercises without a {{solution}}: {missing}"
    code = _cells(path, "code")
    wanted = [n for n in NAMES if CHAPTERS[n] == chapter]
    absent = [n for n in wanted if _check_cell(n, code) is None]
    assert not absent, (
        f"{path.name}: no graded cell for {absent}; expected a code cell with "
        f"`from ppo_grpo_lab.exercises.<name> import <name> as my_<name>` and `check(\"<name>\", my_<name>)`"
    )


@pytest.mark.parametrize("name", NAMES)
def test_graded_cell_runs_with_the_stub(name):
    path = _notebook(CHAPTERS[name])
    src = _check_cell(name, _cells(path, "code"))
    if src is None:
        pytest.skip(f"{path.name} has no graded cell for {name} yet (reported by the test above)")
    assert "%" not in src.split("#")[0], "graded cells must be plain Python (no magics)"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # `check` may come from an earlier graded cell of the chapter, so it is provided here
        exec(compile(src, f"{path.name}:check({name})", "exec"), {"check": check})  # must not raise
    assert "not implemented yet" in out.getvalue() or "passed" in out.getvalue(), out.getvalue()


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
