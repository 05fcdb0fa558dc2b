"""Paste the tables the benchmark scripts wrote (``--md``) into benchmarks/README.md.

Each table sits between ``<!-- BEGIN table:NAME -->`` and ``<!-- END table:NAME -->``; NAME.md in the
given folder (default $BENCH_OUT or /tmp/ppo_grpo_lab_bench) replaces what is there. Missing files
leave their table as it is (and say so).

    python benchmarks/update_readme.py [--dir /tmp/ppo_grpo_lab_bench]
"""
from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
TABLES = ("solve_cartpole", "suite", "suite_box", "env_steps", "gae", "grpo_trl")


def splice(text: str, name: str, table: str) -> str:
    """``text`` with the block of table ``name`` replaced by ``table`` (ValueError if the markers are missing)."""
    pattern = re.compile(rf"(<!-- BEGIN table:{name} -->\n).*?(<!-- END table:{name} -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"README: expected the markers <!-- BEGIN table:{name} --> ... <!-- END table:{name} -->")
    return pattern.sub(lambda m: m.group(1) + table.strip() + "\n" + m.group(2), text)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default=os.environ.get("BENCH_OUT", "/tmp/ppo_grpo_lab_bench"))
    args = p.parse_args(argv)
    text = README.read_text()
    for name in TABLES:
        path = Path(args.dir) / f"{name}.md"
        if not path.exists():
            print(f"# {path} not found: table {name} left as it is")
            continue
        text = splice(text, name, path.read_text())
        print(f"# table {name} <- {path}")
    README.write_text(text)


if __name__ == "__main__":
    main()
