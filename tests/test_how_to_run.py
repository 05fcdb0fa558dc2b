"""Every tool that book/how_to_run.md tells readers to run is installed by the README's setup
(the package with its `test` and `book` extras) or by an install line shown before it."""
from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "how_to_run.md"
# a command's first words -> the distribution that provides it
PROVIDERS = {"jupyter lab": "jupyterlab", "jupyter notebook": "notebook", "jupyter-book": "jupyter-book",
             "nbstripout": "nbstripout", "torchrun": "torch", "pytest": "pytest"}


def _setup_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["test"] + project["optional-dependencies"]["book"]
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in reqs}


def _bash_blocks(text: str) -> list[list[str]]:
    return [b.splitlines() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_every_tool_in_how_to_run_is_installed_first():
    have = _setup_distributions()
    checked = 0
    for block in _bash_blocks(PAGE.read_text()):
        installed = set()
        for line in block:
            cmd = line.split("#")[0].strip()
            if re.match(r"(python -m )?pip install", cmd):
                installed |= {w.lower() for w in cmd.split() if re.fullmatch(r"[A-Za-z][\w.-]*", w)}
            for prefix, dist in PROVIDERS.items():
                if cmd.startswith(prefix):
                    checked += 1
                    assert dist in have | installed, (
                        f"how_to_run.md runs `{cmd}` but neither the README's setup nor the lines before it "
                        f"install {dist}")
    assert checked >= 2, checked  # jupyter lab, torchrun at least


def test_the_install_line_for_jupyterlab_respects_the_constraints():
    text = PAGE.read_text()
    line = next(ln for ln in text.splitlines() if "jupyterlab" in ln and "install" in ln)
    assert "-c constraints.txt" in line or "jupyterlab" in _setup_distributions()
