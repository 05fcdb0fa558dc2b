"""The Colab edition (tools/colab_edition.py) shows the chapters readably in plain Jupyter Markdown:
no MyST syntax left, exercises as headings, solutions folded, equation numbers and references as
numbers, the site's macros expanded, and the code cells exactly the book's."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
BOOK_NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))
try:
    import book_settings
    import colab_edition
    import student_notebooks
finally:
    sys.path.pop(0)

MYST_LEFT = re.compile(r"^[ \t]*(`{3,}|:{3,})\{[\w:-]+\}|\{[\w:-]+\}`|^\([\w:.-]+\)=|\$\$[ \t]*\([\w:.-]+\)", re.M)
CFG = book_settings.config()


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _md(nb):
    return [_src(c) for c in nb["cells"] if c["cell_type"] == "markdown"]


def _nb(*cells):
    return {"cells": [{"cell_type": k, "metadata": {}, "source": s, **({"outputs": [], "execution_count": None}
                                                                        if k == "code" else {})} for k, s in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_a_hand_made_chapter_converts_as_expected():
    text = "\n".join([
        "(sec-x)=",
        "## Two equations",
        "$$",
        r"a = \E[b]",
        "$$ (eq-09-a)",
        "",
        "and $$c = d$$ (eq-09-c), unlabeled $$e$$ too; see {eq}`eq-09-c`, {eq}`eq-02-zero` and {eq}`eq-09-a`.",
        "Also {py:func}`~ppo_grpo_lab.gae`, {math}`x^2` and {doc}`the API <api>`.",
        "",
        "```{exercise} Prove it",
        ":label: ex-09-1",
        "Show that $a$ holds.",
        "````{code-block} python",
        "x = 1",
        "````",
        "```",
        "",
        "```{solution} ex-09-1",
        ":class: dropdown",
        "Because {eq}`eq-09-a`.",
        "```",
        "",
        ":::{note}",
        "Careful.",
        ":::",
    ])
    nb = _nb(("code", "%pip install old"), ("markdown", text), ("code", "print(1)"))
    nb["cells"][0]["metadata"]["tags"] = ["colab-install", "remove-cell"]
    before = json.dumps(nb)
    numbers = {"eq-09-a": ("09_x", 1), "eq-09-c": ("09_x", 2), "eq-02-zero": ("02_y", 3)}
    out = colab_edition.colab_notebook(nb, "09_x", numbers, CFG, ref="abc123", url="file:///repo")
    assert json.dumps(nb) == before, "the book's notebook must not change"
    md = _md(out)[0]
    assert "(sec-x)=" not in md and MYST_LEFT.search(md) is None, md
    assert "a = \\mathbb{E}[b] \\tag{1}\n$$" in md and "$$c = d \\tag{2}$$" in md and "$$e$$" in md
    assert "see (2), equation (3) of chapter 2 and (1)." in md
    assert "`ppo_grpo_lab.gae`" in md and "$x^2$" in md
    assert f"[the API]({book_settings.pages_url(CFG)}book/api.html)" in md
    assert "#### Exercise: Prove it\n\nShow that $a$ holds.\n```python\nx = 1\n```" in md
    assert "<details>\n<summary><b>Solution</b> (click to open)</summary>\n\nBecause (1).\n\n</details>" in md
    assert "> **Note**\n>\n> Careful." in md
    install = _src(out["cells"][0])
    assert '%pip install -q "ppo-grpo-lab @ git+file:///repo@abc123"' in install
    assert out["cells"][0]["metadata"]["tags"] == ["colab-install", "remove-cell"]
    assert _src(out["cells"][2]) == "print(1)"


def test_plain_markdown_renders_the_exercise_and_folds_the_solution():
    md = colab_edition.convert_markdown("```{exercise} T\n:label: e\nDo $x$.\n```\n\n```{solution} e\n"
                                        ":class: dropdown\nIt is $y$.\n```", "01_a", {}, {}, "https://s/")
    html = MarkdownIt("commonmark").render(md)  # what Jupyter's Markdown (no MyST) makes of it
    assert "<h4>Exercise: T</h4>" in html and "<p>Do $x$.</p>" in html
    assert re.search(r"<details>\s*<summary><b>Solution</b>.*</summary>\s*<p>It is \$y\$.</p>\s*</details>", html, re.S)
    raw = MarkdownIt("commonmark").render("```{solution} e\n:class: dropdown\nIt is $y$.\n```")
    assert "{solution}" in raw or "language-{solution}" in raw  # the problem this tool exists for


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("colab")
    colab_edition.write_colab_edition(BOOK_NOTEBOOKS, out, cfg=CFG)
    return out


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_is_readable_in_colab(path, edition):
    book = json.loads(path.read_text(encoding="utf-8"))
    colab = json.loads((edition / path.name).read_text(encoding="utf-8"))
    md = "\n".join(_md(colab))
    left = MYST_LEFT.findall(md)
    assert not left, f"{path.name}: MyST left in the Colab edition: {left[:5]}"
    book_md = "\n".join(_md(book))
    assert md.count("<details>") == len(re.findall(r"^[ \t]*(?:`{3,}|:{3,})\{solution\}", book_md, re.M))
    assert md.count("#### Exercise") == len(re.findall(r"^[ \t]*(?:`{3,}|:{3,})\{exercise\}", book_md, re.M))
    labels = re.findall(r"\$\$[ \t]*\(([\w:.-]+)\)", book_md)
    assert re.findall(r"\\tag\{(\d+)\}", md) == [str(i) for i in range(1, len(labels) + 1)]
    assert "\\E[" not in md and "\\E " not in md
    code = lambda nb: [(_src(c), c["metadata"]) for c in nb["cells"][1:] if c["cell_type"] == "code"]
    assert code(colab) == code(book), "code cells must be exactly the book's"
    assert not book_settings.stale(colab, CFG), "the install cell installs from the configured ref"


def test_the_student_colab_edition_has_no_solutions(tmp_path):
    path = ROOT / "book" / "05_grpo.ipynb"
    colab_edition.write_colab_edition([path], tmp_path, student=True, cfg=CFG)
    colab = json.loads((tmp_path / path.name).read_text(encoding="utf-8"))
    text = "\n".join(_src(c) for c in colab["cells"])
    secrets = student_notebooks.solution_texts(json.loads(path.read_text(encoding="utf-8")), path.name)
    assert secrets and "<details>" not in text
    lines = {line.strip() for s in secrets for line in s.split("\n") if len(line.strip()) > 30}
    assert lines, "the chapter has solutions to look for"
    leaked = [line for line in lines if line in text]
    assert not leaked, leaked[:1]
