"""Every command of book/how_to_run.md works from the README's setup: each tool it runs is installed
by that setup (the package with its `test` and `book` extras) or by an install line shown before it,
each file it names exists, and each `python -m ppo_grpo_lab...` line parses with the real parser
(flags, sub-commands, exercise names, `--set` fields, environment ids)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
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


# -- every command line of the page, checked as far as it can be without running a training ------------

def _commands() -> list[str]:
    return [line.split("#")[0].strip() for block in _bash_blocks(PAGE.read_text()) for line in block
            if line.split("#")[0].strip()]


def test_the_clone_line_is_the_configured_repository():
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    clone = next(c for c in _commands() if c.startswith("git clone"))
    assert clone == f"git clone {url} && cd {url.rsplit('/', 1)[1]}"


def test_every_file_a_command_names_exists():
    named = {w for c in _commands() for w in c.split() if re.fullmatch(r"(tools/|\.venv/bin/python$)[\w./-]*|"
                                                                       r"constraints\.txt", w)}
    assert {"tools/build_book.sh", "tools/test.sh", "tools/check_site.py", "constraints.txt"} <= named
    for word in named - {".venv/bin/python"}:
        assert (ROOT / word).is_file(), f"how_to_run.md names {word}, which does not exist"
    # .venv/bin/python and `source .venv/bin/activate` are what the README's commands create
    assert 'VENV="${PPO_GRPO_LAB_VENV:-$ROOT/.venv}"' in (ROOT / "tools" / "setup_env.sh").read_text()
    assert "source .venv/bin/activate" in _commands()


def test_every_python_m_command_parses_with_the_real_parser(monkeypatch):
    """Flags, sub-commands, exercise names, --set fields and environment ids all exist."""
    import shlex

    import gymnasium

    from ppo_grpo_lab import cli
    from ppo_grpo_lab.grade import EXERCISES
    from ppo_grpo_lab.grade.__main__ import _parser as grade_parser
    from ppo_grpo_lab.llm import GRPOConfig
    from ppo_grpo_lab.ppo import PPOConfig

    checked = 0
    for cmd in _commands():
        words = shlex.split(cmd)
        if words[:2] != ["python", "-m"] or not words[2].startswith("ppo_grpo_lab"):
            continue
        checked += 1
        argv = words[3:]
        if words[2] == "ppo_grpo_lab.grade":
            args = grade_parser().parse_args(argv)  # SystemExit(2) on an unknown flag
            assert set(args.names) <= set(EXERCISES), cmd
            continue
        assert words[2] == "ppo_grpo_lab", cmd
        if argv == ["--help"]:
            with pytest.raises(SystemExit) as info:
                cli._parser().parse_args(argv)
            assert info.value.code == 0
            continue
        args = cli._parser().parse_args(argv)
        fields = set((PPOConfig if args.command == "ppo" else GRPOConfig).__dataclass_fields__)
        assert {kv.split("=")[0] for kv in args.set} <= fields, cmd
        if args.command == "ppo":
            gymnasium.spec(args.env)  # raises for an unknown environment id
        else:
            assert args.task in ("addition", "countdown"), cmd
    assert checked >= 10, checked


def test_the_release_example_matches_the_workflow_trigger():
    tag = next(c for c in _commands() if c.startswith("git tag")).split()[2]
    assert re.fullmatch(r"v[0-9]+\.[0-9]+\.[0-9]+", tag)
    assert "v[0-9]+.[0-9]+.[0-9]+" in (ROOT / ".github" / "workflows" / "pages.yml").read_text()
