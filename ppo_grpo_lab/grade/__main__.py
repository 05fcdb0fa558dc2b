"""Grade exercises from a shell: one student's work, or a whole class.

    python -m ppo_grpo_lab.grade                        # every exercise, from the stub files in ppo_grpo_lab/exercises/
    python -m ppo_grpo_lab.grade gae kl_k3              # only these
    python -m ppo_grpo_lab.grade --file mine.py         # the functions named like exercises in mine.py
    python -m ppo_grpo_lab.grade --notebook 07_td_gae.ipynb   # the solution cells of a submitted notebook
    python -m ppo_grpo_lab.grade --batch submissions/ --seed 7 > grades.csv   # a class: one CSV row per student
    python -m ppo_grpo_lab.grade --json --seed 7        # per exercise: status, points, message, seed

Each exercise runs in its own process with a time limit (``--timeout``, default 20 s), so an
endless loop costs one exercise, not the run. One seed (``--seed``, else drawn once and
reported) serves every exercise and every student: the same seed grades the same cases.
``--extra-cases DIR`` adds the instructor's private cases; ``--references PATH`` grades against
the instructor's reference solutions (needed when students have a stubs-only edition);
``--self-test`` grades those references themselves, to check a setup and its extra cases.

Exit status: 0 when every graded exercise passed (``--batch``: when every student was
graded), 1 otherwise, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from . import EXERCISES
from .core import Result
from .isolate import Job, grade_in_child, run_job
from .report import summary, table, to_csv, to_json
from .sources import Submission, defined_names, submission_from


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ppo_grpo_lab.grade", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help=f"exercises to grade (default: all): {', '.join(EXERCISES)}")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--file", help="a .py file whose functions named like exercises are graded")
    src.add_argument("--notebook", nargs="+", metavar="PATH",
                     help="submitted notebook(s): their definitions are extracted and graded")
    src.add_argument("--batch", metavar="DIR", help="a folder of submissions (.py, .ipynb, or one folder per "
                     "student): prints one CSV row per student")
    src.add_argument("--self-test", action="store_true", help="grade the reference solutions (instructor check)")
    p.add_argument("--seed", type=int, default=None, help="seed of the hidden cases (default: drawn once, reported)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table (or CSV with --batch)")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="seconds per exercise, loading included (default 20; 0: no limit, no child process)")
    p.add_argument("--extra-cases", metavar="DIR", help="folder of the instructor's private cases (*.py)")
    p.add_argument("--references", metavar="PATH", help="instructor's reference solutions: a .py file or module")
    p.add_argument("--points", action="append", default=[], metavar="NAME=P", help="points of an exercise")
    p.add_argument("--out", metavar="FILE", help="write the report to FILE instead of stdout")
    return p


def _points(parser, items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            parser.error(f"--points: expected NAME=NUMBER, got {item!r}")
        if name not in EXERCISES:
            parser.error(f"--points: unknown exercise {name!r}; expected one of {list(EXERCISES)}")
    return out


def grade_submission(sub: Submission, names: list[str], args, points: dict[str, float]) -> list[Result]:
    """Grade the exercises ``names`` of one submission, each in a child process unless ``--timeout 0``."""
    results = []
    for name in names:
        files = None if sub.files is None else [str(f) for f in sub.files]
        job = Job(name, files, args.seed, args.extra_cases, args.references, args.self_test)
        result = grade_in_child(job, args.timeout) if args.timeout > 0 else run_job(job)
        if name in points:
            result.max_points = points[name]
            result.points = points[name] if result.passed else 0.0
        results.append(result)
    return results


def _names_defined(parser, sub: Submission, names: list[str]) -> list[str]:
    """For ``--file``: without names, the exercises the file defines (read from its code, not run)."""
    if names:
        return names
    found = [n for n in EXERCISES if any(n in defined_names(f) or f"my_{n}" in defined_names(f) for f in sub.files)]
    if not found:
        parser.error(f"--file: {sub.files[0]} defines no function named like an exercise ({list(EXERCISES)})")
    return found


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m ppo_grpo_lab.grade``; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXERCISES]
    if unknown:
        parser.error(f"unknown exercise(s) {unknown}; expected names from {list(EXERCISES)}")
    if args.timeout < 0:
        parser.error("--timeout: expected seconds >= 0")
    points = _points(parser, args.points)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(100_000)
    names = args.names or list(EXERCISES)
    with tempfile.TemporaryDirectory(prefix="ppo_grpo_lab_grade_") as tmp:
        try:
            if args.batch:
                return _batch(args, names, points, Path(tmp))
            if args.file:
                sub = submission_from(args.file, Path(tmp))
                names = _names_defined(parser, sub, args.names)
            elif args.notebook:
                subs = [submission_from(nb, Path(tmp)) for nb in args.notebook]
                sub = Submission(subs[0].label, [f for s in subs for f in s.files])
            else:
                sub = Submission("self-test" if args.self_test else "stubs", None)
        except ValueError as exc:
            parser.error(str(exc))
        results = grade_submission(sub, names, args, points)
    text = to_json(summary(sub.label, results, args.seed)) if args.json else table(results)
    _write(text, args.out)
    return 0 if all(r.passed for r in results) else 1


def _batch(args, names: list[str], points: dict[str, float], tmp: Path) -> int:
    folder = Path(args.batch)
    if not folder.is_dir():
        raise ValueError(f"--batch: expected a folder of submissions, got {args.batch!r}")
    entries = sorted(p for p in folder.iterdir()
                     if not p.name.startswith(".") and (p.is_dir() or p.suffix in (".py", ".ipynb")))
    summaries = []
    for entry in entries:
        sub = submission_from(entry, tmp)
        results = grade_submission(sub, names, args, points)
        summaries.append(summary(sub.label, results, args.seed))
        print(f"graded {sub.label}: {summaries[-1]['points']:g}/{summaries[-1]['max_points']:g}", file=sys.stderr)
    _write(to_json(summaries) if args.json else to_csv(summaries, names), args.out)
    return 0


def _write(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    sys.exit(main())
