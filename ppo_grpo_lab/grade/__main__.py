"""Grade exercises from a shell.

    python -m ppo_grpo_lab.grade                 # every exercise, using the stubs in ppo_grpo_lab/exercises/
    python -m ppo_grpo_lab.grade gae kl_k3       # only these
    python -m ppo_grpo_lab.grade --file mine.py  # the functions of matching names defined in mine.py
    python -m ppo_grpo_lab.grade --seed 7        # replay the hidden cases of seed 7

Prints a table (exercise, status, cases run) and the message of each failure; exits 0
when every graded exercise passed, 1 otherwise (a stub that is not implemented counts as
not passed), 2 on a usage error.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from . import EXERCISES, grade
from .core import Result


def _load_file(path: str):
    p = Path(path)
    if not p.is_file():
        raise SystemExit(f"--file: expected a Python file, got {path!r} (not found)")
    spec = importlib.util.spec_from_file_location(f"_graded_{p.stem}", p)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        print(f"--file: importing {path} raised {type(exc).__name__}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ppo_grpo_lab.grade", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"exercises to grade (default: all): {', '.join(EXERCISES)}")
    parser.add_argument("--file", help="a .py file whose functions named like exercises are graded")
    parser.add_argument("--seed", type=int, default=None, help="seed of the hidden cases (default: random)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXERCISES]
    if unknown:
        parser.error(f"unknown exercise(s) {unknown}; expected names from {list(EXERCISES)}")
    module = _load_file(args.file) if args.file else None
    if module is not None and not args.names:
        names = [n for n in EXERCISES if callable(getattr(module, n, None))]
        if not names:
            parser.error(f"--file: {args.file} defines no function named like an exercise ({list(EXERCISES)})")
    else:
        names = args.names or list(EXERCISES)
    results: list[Result] = []
    for name in names:
        source = module if module is not None else importlib.import_module(f"ppo_grpo_lab.exercises.{name}")
        fn = getattr(source, name, None)
        if not callable(fn):
            results.append(Result(name, "failed", 0, args.seed or 0, f"{name}: no function named {name} found"))
            continue
        results.append(grade(name, fn, args.seed))
    width = max(len(r.name) for r in results)
    print(f"{'exercise':<{width}}  {'status':<15}  cases  seed")
    for r in results:
        print(f"{r.name:<{width}}  {r.status:<15}  {r.cases_run:>5}  {r.seed}")
    failures = [r for r in results if r.status == "failed"]
    for r in failures:
        print("\n" + r.message)
    n_pass = sum(r.passed for r in results)
    print(f"\n{n_pass}/{len(results)} passed")
    return 0 if n_pass == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
