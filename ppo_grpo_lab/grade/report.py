"""How a graded submission is shown: a table, JSON (``--json``), or one CSV row per student (``--batch``)."""
from __future__ import annotations

import csv
import io
import json

from .core import Result

__all__ = ["summary", "table", "to_json", "to_csv"]


def summary(label: str, results: list[Result], seed: int) -> dict:
    """One submission as plain data: the shape of ``--json`` (one object; ``--batch --json``: a list of them).

    ``{"submission", "seed", "points", "max_points", "passed", "graded", "exercises": [
    {"name", "status", "points", "max_points", "cases_run", "seed", "message"}, ...]}``
    """
    return {"submission": label, "seed": seed,
            "points": sum(r.points for r in results), "max_points": sum(r.max_points for r in results),
            "passed": sum(r.passed for r in results), "graded": len(results),
            "exercises": [r.to_dict() for r in results]}


def _num(x: float) -> str:
    return f"{x:g}"


def table(results: list[Result]) -> str:
    """The human-readable report: one line per exercise, then each problem's message, then the totals."""
    width = max([len(r.name) for r in results] + [8])
    lines = [f"{'exercise':<{width}}  {'status':<15}  points  cases  seed"]
    for r in results:
        pts = f"{_num(r.points)}/{_num(r.max_points)}"
        lines.append(f"{r.name:<{width}}  {r.status:<15}  {pts:>6}  {r.cases_run:>5}  {r.seed}")
    lines += ["\n" + r.message for r in results if r.status not in ("passed", "not implemented")]
    n_pass = sum(r.passed for r in results)
    pts = sum(r.points for r in results)
    lines.append(f"\n{n_pass}/{len(results)} passed, {_num(pts)}/{_num(sum(r.max_points for r in results))} points")
    return "\n".join(lines)


def to_json(obj) -> str:
    """``obj`` as indented JSON (non-ASCII kept)."""
    return json.dumps(obj, indent=2, ensure_ascii=False)


def to_csv(summaries: list[dict], names: list[str]) -> str:
    """``student, <exercise>..., total, max_total, seed``: points per exercise, one row per student."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student", *names, "total", "max_total", "seed"])
    for s in summaries:
        points = {e["name"]: e["points"] for e in s["exercises"]}
        writer.writerow([s["submission"], *(_num(points.get(n, 0.0)) for n in names), _num(s["points"]),
                         _num(s["max_points"]), s["seed"]])
    return buf.getvalue()
