"""Write the student edition of the chapter notebooks: the same notebooks, every solution taken out.

The book (book/*.ipynb) is the edition with solutions. A graded exercise is a code cell tagged
``exercise`` whose worked solution sits between two marker lines::

    def gae(rewards, values, ...):
        \"\"\"<shapes and the equation>\"\"\"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

The student copy of a notebook:

- replaces every region from a ``### BEGIN SOLUTION`` line to its ``### END SOLUTION`` line by
  one line, at the indentation of the BEGIN line: ``raise NotImplementedError("write your solution here")``;
- drops the ``hide-input`` tag of cells tagged ``exercise`` (the student must see the cell);
- removes cells tagged ``solution`` (e.g. "compare your solution with the package's version");
- removes every MyST ``{solution}`` block from markdown cells (the solutions of the ungraded
  exercises), and gated ``{solution-start}`` ... ``{solution-end}`` blocks with the cells between;
- clears outputs and execution counts.

Stripping is idempotent: a stripped notebook strips to itself. Unbalanced markers raise ValueError.

Usage: python tools/student_notebooks.py OUTDIR [NOTEBOOK ...]   (default: every book/*.ipynb)
"""
from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

__all__ = ["BEGIN", "END", "STUB_LINE", "strip_code", "strip_markdown", "strip_notebook", "solution_texts",
           "write_student_notebooks", "main"]

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB_LINE = 'raise NotImplementedError("write your solution here")'
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>solution(?:-start|-end)?)\}")


def _marker(line: str) -> str | None:
    text = line.strip()
    return text if text in (BEGIN, END) else None


def _solution_regions(src: str, where: str = "cell") -> list[tuple[int, int]]:
    """(begin, end) line indices of each marked region, markers included; checks they pair up."""
    regions, start = [], None
    for i, line in enumerate(src.split("\n")):
        mark = _marker(line)
        if mark == BEGIN:
            if start is not None:
                raise ValueError(f"{where}: line {i + 1}: {BEGIN!r} inside an open solution region")
            start = i
        elif mark == END:
            if start is None:
                raise ValueError(f"{where}: line {i + 1}: {END!r} without a {BEGIN!r} before it")
            regions.append((start, i))
            start = None
    if start is not None:
        raise ValueError(f"{where}: line {start + 1}: {BEGIN!r} without its {END!r}")
    return regions


def strip_code(src: str, where: str = "cell") -> str:
    """The code with every solution region replaced by one ``raise NotImplementedError`` line."""
    lines = src.split("\n")
    for begin, end in reversed(_solution_regions(src, where)):
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        lines[begin: end + 1] = [indent + STUB_LINE]
    return "\n".join(lines)


def _directive_blocks(src: str) -> list[tuple[int, int, str]]:
    """(first line, last line, name) of each top-level MyST solution directive in a markdown text.

    A fence closes on a line of the same character, at least as long, and nothing else
    (CommonMark), so a ```` ````{solution} ```` block may hold ```` ``` ```` code fences.
    An unclosed fence runs to the end of the text.
    """
    lines, out, i = src.split("\n"), [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        out.append((i, min(j, len(lines) - 1), m.group("name")))
        i = j + 1
    return out


def _drop_lines(src: str, spans: list[tuple[int, int]]) -> str:
    lines = src.split("\n")
    for first, last in sorted(spans, reverse=True):
        del lines[first: last + 1]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip("\n")


def strip_markdown(src: str) -> str:
    """The markdown text without its ``{solution}`` blocks (gated start/end handled by strip_notebook)."""
    spans = [(a, b) for a, b, name in _directive_blocks(src) if name == "solution"]
    return _drop_lines(src, spans) if spans else src


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _set_source(cell: dict, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell.get("source"), list) else text


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _strip_gated(cells: list[dict]) -> list[dict]:
    """Remove gated ``{solution-start}`` ... ``{solution-end}`` solutions, the cells between included."""
    out, inside = [], False
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            if not inside:
                out.append(cell)
            continue
        src, spans, start = _source(cell), [], (0 if inside else None)
        for first, last, name in _directive_blocks(src):
            if name == "solution-start" and start is None:
                start = first
            elif name == "solution-end" and start is not None:
                spans.append((start, last))
                start = None
        inside = start is not None
        if inside:
            spans.append((start, len(src.split("\n")) - 1))
        if spans:
            cell = copy.deepcopy(cell)
            _set_source(cell, _drop_lines(src, spans))
            if not _source(cell).strip():
                continue
        out.append(cell)
    return out


def strip_notebook(nb: dict, name: str = "notebook") -> dict:
    """A stripped copy of the notebook (a dict in nbformat 4 JSON form); the input is not changed."""
    nb = copy.deepcopy(nb)
    cells = []
    for i, cell in enumerate(nb.get("cells", [])):
        tags = _tags(cell)
        if "solution" in tags:
            continue
        if cell.get("cell_type") == "code":
            _set_source(cell, strip_code(_source(cell), f"{name} cell {i}"))
            cell["outputs"] = []
            cell["execution_count"] = None
            if "exercise" in tags and "hide-input" in tags:
                cell["metadata"]["tags"] = [t for t in tags if t != "hide-input"]
        elif cell.get("cell_type") == "markdown":
            _set_source(cell, strip_markdown(_source(cell)))
        cells.append(cell)
    nb["cells"] = _strip_gated(cells)
    return nb


def solution_texts(nb: dict, name: str = "notebook") -> list[str]:
    """Every solution text of a book notebook: marked code regions (markers excluded), ``{solution}``
    block contents, gated solutions and ``solution``-tagged cells. What a student edition must not contain.
    """
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        src = _source(cell)
        if "solution" in _tags(cell):
            out.append(src)
            continue
        if cell.get("cell_type") == "code":
            lines = src.split("\n")
            out += ["\n".join(lines[a + 1: b]) for a, b in _solution_regions(src, f"{name} cell {i}")]
        elif cell.get("cell_type") == "markdown":
            lines = src.split("\n")
            out += ["\n".join(lines[a + 1: b]) for a, b, kind in _directive_blocks(src) if kind == "solution"]
    return [t for t in out if t.strip()]


def write_student_notebooks(notebooks: list[Path], outdir: Path) -> list[Path]:
    """Strip each notebook into ``outdir/<name>.ipynb``; returns the written paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        dst = outdir / Path(path).name
        text = json.dumps(strip_notebook(nb, Path(path).name), indent=1, ensure_ascii=False) + "\n"
        dst.write_text(text, encoding="utf-8")
        written.append(dst)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    outdir = Path(args[0])
    notebooks = [Path(a) for a in args[1:]] or sorted((ROOT / "book").glob("*.ipynb"))
    if any(p.resolve().parent == outdir.resolve() for p in notebooks):
        print("student_notebooks: OUTDIR must differ from the notebooks' folder (the book keeps its solutions)",
              file=sys.stderr)
        return 2
    for path in write_student_notebooks(notebooks, outdir):
        print(f"[student] {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
