"""Where a submission's functions come from: a stub file, a ``.py`` file, notebooks, a student's folder.

Every load is fresh (a new module object, never cached in ``sys.modules``), so a stub edited
in a running kernel is graded as it is now, without restarting. Notebooks are reduced to
their definitions (see :func:`extract_notebook`) before anything runs.
"""
from __future__ import annotations

import ast
import importlib.util
import itertools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

from ..exercises import NAMES

__all__ = ["stub_path", "load_fresh", "fresh_stub", "extract_notebook", "Submission", "submission_from",
           "imports_references", "defined_names"]

_counter = itertools.count()
REFERENCE_MODULES = ("ppo_grpo_lab.exercises.references",)
GRADER_CALLS = {"check", "grade"}


def stub_path(name: str) -> Path:
    """The package's stub file for exercise ``name`` (in site-packages when installed from a wheel)."""
    return Path(__file__).resolve().parents[1] / "exercises" / f"{name}.py"


def load_fresh(path: Path, package: str | None = None) -> ModuleType:
    """Execute the file at ``path`` as a new module (not registered in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(f"_graded_{Path(path).stem}_{next(_counter)}", path)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package or ""  # lets a stub keep relative imports (from ..gae import ...)
    spec.loader.exec_module(module)
    return module


def fresh_stub(name: str) -> Callable:
    """The function ``name`` as the stub file defines it right now (edits are seen without a restart)."""
    return getattr(load_fresh(stub_path(name), "ppo_grpo_lab.exercises"), name)


def _is_stub(fn, name: str) -> bool:
    return getattr(fn, "__module__", None) == f"ppo_grpo_lab.exercises.{name}"


def _pick(module: ModuleType, name: str) -> Callable | None:
    """``name`` from the module, else ``my_<name>`` (the chapters' alias) when ``name`` is absent or the stub."""
    fn = getattr(module, name, None)
    alt = getattr(module, f"my_{name}", None)
    if callable(alt) and (not callable(fn) or _is_stub(fn, name)) and not _is_stub(alt, name):
        return alt
    return fn if callable(fn) else alt if callable(alt) else None  # the stub itself grades "not implemented"


def _strip_magics(src: str) -> str:
    lines = []
    for line in src.splitlines():
        body = line.lstrip()
        if body.startswith(("%", "!")):
            line = line[: len(line) - len(body)] + "pass  # IPython magic left out"
        lines.append(line)
    return "\n".join(lines)


def _calls_grader(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in GRADER_CALLS
               for n in ast.walk(node))


def _defines_exercise(tree: ast.Module) -> bool:
    wanted = set(NAMES) | {f"my_{n}" for n in NAMES}
    return any(isinstance(n, ast.FunctionDef) and n.name in wanted for n in tree.body)


def _segment(src: str, node: ast.stmt) -> str:
    """The source of a top-level statement, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    if decorators:
        start = min(d.lineno for d in decorators)
        return "\n".join(src.splitlines()[start - 1: node.end_lineno])
    return ast.get_source_segment(src, node) or ast.unparse(node)


def extract_notebook(path: Path) -> str:
    """The Python code graded from a notebook, as one script.

    Kept, in cell order: imports and function/class definitions from every code cell, plus
    plain assignments in the cells that define an exercise function (``def gae(...)`` or
    ``def my_gae(...)``). Left out: everything that runs code at the top level (calls such as
    ``check(...)``, loops, training, plots) and IPython magics, so a notebook full of
    experiments reduces to its definitions. A cell that is not valid Python is skipped.
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out = [f"# extracted from {Path(path).name} by ppo_grpo_lab.grade"]
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = _strip_magics("".join(cell.get("source", [])))
        try:
            tree = ast.parse(src)
        except SyntaxError as exc:
            out.append(f"# cell {i} skipped: SyntaxError: {exc.msg} (line {exc.lineno})")
            continue
        solution = _defines_exercise(tree)
        kept = [n for n in tree.body
                if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                or (solution and isinstance(n, (ast.Assign, ast.AnnAssign)) and not _calls_grader(n))]
        if kept:
            out.append(f"# --- cell {i}")
            out.extend(_segment(src, n) for n in kept)
    return "\n".join(out) + "\n"


def defined_names(path: Path) -> set[str]:
    """Top-level names a file defines or imports (``from m import *`` counts as every exercise name)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return set()
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                out |= set(NAMES) if a.name == "*" else {a.asname or a.name.split(".")[0]}
        elif isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return out


def imports_references(path: Path) -> str | None:
    """The reference module a source file imports (``import``/``from ... import``), else None."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return None
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        hit = next((m for m in mods if m in REFERENCE_MODULES), None)
        if hit:
            return hit
    return None


@dataclass
class Submission:
    """One student's code: ``files`` are Python files searched in order (a file ``<name>.py`` wins).

    ``files=None`` means the package's own stub files (the command-line default); ``[]`` an empty submission.
    """

    label: str
    files: list[Path] | None

    def function(self, name: str) -> Callable | None:
        """Load the function for exercise ``name`` fresh; None when no file defines it."""
        if self.files is None:
            return fresh_stub(name)
        own = [f for f in self.files if f.stem == name]
        found, errors = None, []
        for f in own or self.files:
            try:
                module = load_fresh(f)
            except Exception as exc:  # one broken notebook must not hide the others' functions
                errors.append(f"{f.name}: {type(exc).__name__}: {exc}")
                continue
            fn = _pick(module, name)
            found = fn if fn is not None else found
        if found is None and errors:
            raise ImportError("loading your code failed: " + "; ".join(errors))
        return found

    def reference_import(self) -> str | None:
        """The reference module this submission imports, if any (a submission must not)."""
        return next((hit for f in self.files or [] if (hit := imports_references(f))), None)


def submission_from(path: str | Path, workdir: Path) -> Submission:
    """A submission from a ``.py`` file, a ``.ipynb`` notebook, or a folder of either (the student's folder).

    Notebooks are extracted into ``workdir`` (see :func:`extract_notebook`); a folder's
    ``.ipynb`` and ``.py`` files are used in sorted order, so chapter notebooks 01..11 can sit side by side.
    """
    path = Path(path)
    if path.is_dir():
        items = sorted(p for p in path.iterdir() if p.suffix in (".py", ".ipynb") and not p.name.startswith("."))
    elif path.suffix in (".py", ".ipynb") and path.is_file():
        items = [path]
    else:
        raise ValueError(f"submission: expected a .py file, a .ipynb notebook or a folder, got {str(path)!r}")
    files = []
    own_dir = Path(tempfile.mkdtemp(prefix=f"{path.stem}_", dir=workdir))  # two students' nb.ipynb never collide
    for p in items:
        if p.suffix == ".ipynb":
            target = own_dir / f"{p.stem}.py"
            target.write_text(extract_notebook(p), encoding="utf-8")
            p = target
        files.append(p)
    return Submission(label=path.stem if path.is_file() else path.name, files=files)
