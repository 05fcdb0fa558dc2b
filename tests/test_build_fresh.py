"""The book build never publishes outputs older than the package (issue: a stale site).

A two-page mini book is built with the exact ``jupyter-book build`` flags of
``tools/build_book.sh``; between two builds a module the notebook imports changes what it
prints, and the second build must show the new output. A third build without ``--all``
shows why the flag is there: Sphinx then skips the unchanged notebook and keeps the old output.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script_flags() -> list[str]:
    text = (ROOT / "tools" / "build_book.sh").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("jupyter-book build ."))
    return [f for f in shlex.split(line)[3:] if f != "$@"]


def _write_book(root: Path, value: str) -> None:
    (root / "_config.yml").write_text("title: mini\nonly_build_toc_files: true\n"
                                      "exclude_patterns: [_build]\n"
                                      "execute:\n  execute_notebooks: force\n  timeout: 120\n", encoding="utf-8")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n", encoding="utf-8")
    (root / "intro.md").write_text("# Mini\n", encoding="utf-8")
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Page"]},
                    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": ["import minipkg\n", "print(minipkg.message())"]}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (root / "page.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    (root / "minipkg.py").write_text(f"def message():\n    return {value!r}\n", encoding="utf-8")


def _build(root: Path, flags: list[str]) -> str:
    exe = Path(sys.executable).with_name("jupyter-book")
    if not exe.exists():
        pytest.skip("jupyter-book is not installed (the book extra)")
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run([str(exe), "build", ".", *flags], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return (root / "_build" / "html" / "page.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_second_build_shows_the_new_package_output(tmp_path):
    flags = [f for f in _script_flags() if f not in ("-n",)]  # a mini book has no API page to nitpick
    assert "--all" in flags, "tools/build_book.sh must rebuild every page (--all)"
    _write_book(tmp_path, "first-output-1111")
    assert "first-output-1111" in _build(tmp_path, flags)
    (tmp_path / "minipkg.py").write_text("def message():\n    return 'second-output-2222'\n", encoding="utf-8")
    html = _build(tmp_path, flags)
    assert "second-output-2222" in html and "first-output-1111" not in html
    # Why --all: without it the unchanged notebook is not re-read, so it is not re-executed.
    (tmp_path / "minipkg.py").write_text("def message():\n    return 'third-output-3333'\n", encoding="utf-8")
    stale = _build(tmp_path, [f for f in flags if f != "--all"])
    assert "second-output-2222" in stale and not re.search("third-output-3333", stale)
    shutil.rmtree(tmp_path / "_build", ignore_errors=True)
