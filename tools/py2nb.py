"""Write a notebook (.ipynb, no outputs) from a percent-format script.

    python tools/py2nb.py src.py book/07_td_gae.ipynb

Cells start with ``# %%`` (code) or ``# %% [markdown]`` (markdown, each line's leading
``# `` removed). Tags: ``# %% tags=["remove-input"]``. Every notebook gets the standard
Colab cell first (see COLAB_CELL) unless the script starts with ``# no-colab-cell``.
The .ipynb in book/ is the source of truth; this is only an authoring convenience.
"""
from __future__ import annotations

import json
import re
import sys

import nbformat
from book_settings import TAGS as COLAB_TAGS  # tools/ is on sys.path (this file's folder)
from book_settings import colab_cell_source

COLAB_CELL = colab_cell_source()  # derived from _config.yml's repository (tools/book_settings.py)

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def convert(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    cells = []
    if not text.startswith("# no-colab-cell"):
        cells.append(nbformat.v4.new_code_cell(COLAB_CELL, metadata={"tags": list(COLAB_TAGS)}))  # hidden on the site
    kind, tags, buf = None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(buf).strip("\n")
        if kind == "md":
            body = "\n".join(l[2:] if l.startswith("# ") else ("" if l == "#" else l) for l in body.split("\n"))
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in text.split("\n"):
        m = HEADER.match(line)
        if m:
            flush()
            kind = "md" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            buf = []
        elif kind is not None:
            buf.append(line)
    flush()
    for i, c in enumerate(cells):
        c["id"] = str(i)  # the ids nbstripout writes: stable, small diffs, --verify passes
    nb.cells = cells
    return nb


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    nb = convert(open(argv[1], encoding="utf-8").read())
    nbformat.write(nb, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
