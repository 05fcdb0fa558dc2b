"""Write the Colab edition of the chapter notebooks: MyST rewritten as Markdown that Colab shows well.

Colab (and plain Jupyter) render Markdown cells without MyST, so the book's ``{exercise}`` and
``{solution}`` boxes, labeled equations ``$$ ... $$ (label)`` and ``{eq}`` references would
show as raw text, every solution in plain sight. The Colab edition keeps every code cell and
rewrites the Markdown cells:

- ``{exercise} Title`` becomes a heading "Exercise: Title" followed by its text;
- ``{solution}`` becomes a folded ``<details>`` block ("Solution", click to open);
- other directives (``{note}``, ``{admonition} Title``, ...) become a quoted paragraph with a
  bold title; ``{code-block} lang`` a fenced code block; ``(label)=`` targets disappear;
- a labeled equation gets ``\\tag{n}``, numbered in order of appearance as the site numbers it,
  and ``{eq}`label``` becomes ``(n)``, or "equation (n) of chapter K" for another chapter's;
- other roles become plain text (``{doc}`` a link to the published site, ``{math}`` inline math);
- the site's MathJax macros (``\\E``) are expanded, since Colab does not know them;
- the first cell installs the package from ``--ref`` (default: ``repository.branch``).

The book's own notebooks (book/*.ipynb) are not changed. ``--student`` strips solutions
first (tools/student_notebooks.py), for a Colab edition of the student edition.

Usage: python tools/colab_edition.py OUTDIR [--ref REF] [--url URL] [--student] [NOTEBOOK ...]
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import book_settings

ROOT = Path(__file__).resolve().parents[1]
OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
OPTION = re.compile(r"^[ \t]*:[\w-]+:.*$")
EQ_LABEL = re.compile(r"\$\$(?P<body>(?:(?!\$\$).)+?)\$\$[ \t]*\((?P<label>[\w:.-]+)\)", re.S)
ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]*)`")
TARGET = re.compile(r"^\([\w:.-]+\)=[ \t]*\n?", re.M)
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error", "seealso"}


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _close(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the directive opened at ``start`` (the last line if never closed)."""
    char, width = fence[0], len(fence)
    for j in range(start + 1, len(lines)):
        text = lines[j].strip()
        if text and set(text) == {char} and len(text) >= width:
            return j
    return len(lines)


def _directive(name: str, arg: str, body: str) -> str:
    body = body.strip("\n")
    if name in ("exercise", "exercise-start"):
        return f"#### Exercise{': ' + arg if arg else ''}\n\n{body}".rstrip()
    if name in ("solution", "solution-start"):  # arg is the exercise's label: not shown
        if name == "solution-start":
            return "#### Solution"
        return f"<details>\n<summary><b>Solution</b> (click to open)</summary>\n\n{body}\n\n</details>"
    if name in ("exercise-end", "solution-end"):
        return ""
    if name in ("code-block", "code", "code-cell", "sourcecode"):
        return f"```{arg}\n{body}\n```"
    if name in ("math",):
        return f"$$\n{body}\n$$"
    title = arg if name == "admonition" else (name.capitalize() + (f": {arg}" if arg else ""))
    if name not in ADMONITIONS and name != "admonition":
        title = arg or name.replace("-", " ").capitalize()  # an unknown directive: keep its content
    quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
    return f"> **{title}**\n>\n{quoted}" if body else f"> **{title}**"


def convert_directives(text: str) -> str:
    """Every MyST directive in a Markdown text rewritten as plain Markdown (nested ones too)."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        m = OPEN.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        end = _close(lines, i, m["fence"])
        body = lines[i + 1:end]
        if body and body[0].strip() == "---":  # YAML options block
            close = next((k for k in range(1, len(body)) if body[k].strip() == "---"), 0)
            body = body[close + 1:]
        while body and OPTION.match(body[0]):
            body = body[1:]
        inner = convert_directives("\n".join(body))
        block = _directive(m["name"], m["arg"].strip(), inner)
        out.extend(m["indent"] + line if line else line for line in block.split("\n"))
        i = end + 1
    return "\n".join(out)


def equation_numbers(notebooks: list[tuple[str, dict]]) -> dict[str, tuple[str, int]]:
    """Equation numbers, ``{label: (notebook stem, n)}``: labeled equations counted per notebook, in order."""
    numbers = {}
    for stem, nb in notebooks:
        n = 0
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "markdown":
                for m in EQ_LABEL.finditer(_source(cell)):
                    n += 1
                    numbers[m["label"]] = (stem, n)
    return numbers


def _chapter(stem: str) -> str:
    head = stem.split("_", 1)[0]
    return str(int(head)) if head.isdigit() else stem


def convert_markdown(text: str, stem: str, numbers: dict, macros: dict[str, str], site: str) -> str:
    text = convert_directives(text)
    text = TARGET.sub("", text)

    def tag(m):
        n = numbers.get(m["label"], (stem, "?"))[1]
        return f"$${m['body'].rstrip()} \\tag{{{n}}}\n$$" if "\n" in m["body"] else f"$${m['body']} \\tag{{{n}}}$$"

    text = EQ_LABEL.sub(tag, text)

    def role(m):
        name, content = m["role"], m["text"]
        shown, target = content, content
        explicit = re.fullmatch(r"(?P<shown>.*?)\s*<(?P<target>[^>]+)>", content, re.S)
        if explicit:
            shown, target = explicit["shown"], explicit["target"]
        if name == "eq":
            where, n = numbers.get(target, (None, None))
            if n is None:
                return f"({target})"
            return f"({n})" if where == stem else f"equation ({n}) of chapter {_chapter(where)}"
        if name == "math":
            return f"${content}$"
        if name == "doc":
            page = target.removeprefix("/").removeprefix("book/")
            return f"[{shown if explicit else page}]({site}book/{page}.html)"
        if name.startswith("py:") or name in ("func", "class", "meth", "mod", "obj", "code", "literal"):
            return f"`{shown.lstrip('~')}`"
        return shown
    text = ROLE.sub(role, text)
    for macro, expansion in macros.items():
        text = re.sub(re.escape("\\" + macro) + r"(?![A-Za-z])", lambda _m: expansion, text)
    return text


def colab_notebook(nb: dict, stem: str, numbers: dict, cfg: dict, *, ref: str | None = None,
                   url: str | None = None) -> dict:
    """The Colab edition of one notebook (a dict in nbformat 4 JSON form); the input is not changed."""
    nb = copy.deepcopy(nb)
    tex = ((cfg.get("sphinx") or {}).get("config") or {}).get("mathjax3_config", {}).get("tex", {})
    macros = {k: v if isinstance(v, str) else v[0] for k, v in (tex.get("macros") or {}).items()}
    site = book_settings.pages_url(cfg)
    cells = nb.get("cells", [])
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            cell["source"] = convert_markdown(_source(cell), stem, numbers, macros, site)
        elif cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    install = book_settings.colab_cell(cfg, url=url, at=ref)
    if cells and "colab-install" in cells[0].get("metadata", {}).get("tags", []):
        install["id"] = cells[0].get("id", "0")
        cells[0] = install
    else:
        cells.insert(0, install)
    return nb


def write_colab_edition(notebooks: list[Path], outdir: Path, *, ref: str | None = None, url: str | None = None,
                        student: bool = False, cfg: dict | None = None) -> list[Path]:
    cfg = cfg or book_settings.config()
    loaded = [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in notebooks]
    book = [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in sorted((ROOT / "book").glob("*.ipynb"))]
    numbers = {**equation_numbers(book), **equation_numbers(loaded)}  # other chapters' numbers too
    if student:
        import student_notebooks

        loaded = [(stem, student_notebooks.strip_notebook(nb, stem)) for stem, nb in loaded]
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, nb in loaded:
        out = outdir / f"{stem}.ipynb"
        nb = colab_notebook(nb, stem, numbers, cfg, ref=ref, url=url)
        out.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python tools/colab_edition.py", description=__doc__.split("\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("notebooks", nargs="*", type=Path, help="default: every book/*.ipynb")
    p.add_argument("--ref", help="the ref the install cell installs from (default: repository.branch)")
    p.add_argument("--url", help="the repository URL to install from (default: repository.url; e.g. file:///...)")
    p.add_argument("--student", action="store_true", help="strip the solutions first (student edition)")
    args = p.parse_intermixed_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    for path in write_colab_edition(notebooks, args.outdir, ref=args.ref, url=args.url, student=args.student):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
