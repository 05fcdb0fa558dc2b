"""Grade one exercise in a child process with a time limit, so ``while True`` cannot hang the grader.

The child loads the submission fresh, grades it and sends back :meth:`Result.to_dict`; the
parent waits at most ``timeout`` seconds, then kills it and records ``"timeout"``. A child
that dies without answering (``sys.exit``, a crash) is recorded as ``"error"``. The
submission's prints go to /dev/null, so ``--json`` output stays clean.

POSIX systems use a fork server that imports torch and the grader once: after its start
(about 2 s here) each exercise costs a fork (about 25 ms measured on 2 vCPUs) plus its
own grading time. Elsewhere each exercise starts a fresh interpreter (spawn, about 2 s).
"""
from __future__ import annotations

import io
import multiprocessing as mp
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .core import ERROR, FAILED, PASSED, TIMEOUT, Result
from .specs import EXERCISES

__all__ = ["Job", "grade_in_child", "run_job"]

_ctx = None


@dataclass
class Job:
    """What a child needs, as plain data (it crosses a process boundary).

    Attributes:
        name: the exercise.
        files: the submission's Python files (empty: the package's stub files; see ``Submission``).
        seed: seed of the hidden cases.
        extra_cases: folder of private cases, or None.
        references: the instructor's references (module name or ``.py`` path), or None.
        self_test: grade the references themselves (the instructor's check of the setup).
    """

    name: str
    files: list[str] = field(default_factory=list)
    seed: int = 0
    extra_cases: str | None = None
    references: str | None = None
    self_test: bool = False


def run_job(job: Job) -> Result:
    """Grade ``job`` in this process (what the child does; also ``--timeout 0``)."""
    from . import grade
    from .extra import load_extra_cases
    from .references import reference, use_references
    from .sources import Submission

    ex = EXERCISES[job.name]
    use_references(job.references)
    extra = load_extra_cases(job.extra_cases, job.seed).get(job.name, [])
    sub = Submission("", [Path(f) for f in job.files])
    try:
        fn = reference(job.name) if job.self_test else sub.function(job.name)
    except BaseException as exc:  # noqa: BLE001 - the student's code may raise anything, SystemExit included
        return Result(job.name, ERROR, 0, job.seed, f"{job.name}: loading your code raised "
                      f"{type(exc).__name__}: {exc}", 0.0, ex.points)
    if fn is None:
        return Result(job.name, FAILED, 0, job.seed, f"{job.name}: no function named {job.name} found",
                      0.0, ex.points)
    result = grade(job.name, fn, job.seed, extra=extra, allow_reference=job.self_test)
    imported = None if job.self_test or result.status != PASSED else sub.reference_import()
    if imported:
        return Result(job.name, FAILED, result.cases_run, job.seed,
                      f"{job.name}: FAILED: your code imports {imported}, the reference solutions; "
                      f"write the function yourself.", 0.0, ex.points)
    return result


def _child(conn, job: Job) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = io.StringIO()
    try:
        result = run_job(job)
    except BaseException as exc:  # noqa: BLE001
        ex = EXERCISES[job.name]
        result = Result(job.name, ERROR, 0, job.seed, f"{job.name}: the grader failed: {type(exc).__name__}: {exc}",
                        0.0, ex.points)
    conn.send(result.to_dict())
    conn.close()


def _context():
    global _ctx
    if _ctx is None:
        if "forkserver" in mp.get_all_start_methods():
            _ctx = mp.get_context("forkserver")
            _ctx.set_forkserver_preload(["ppo_grpo_lab.grade.isolate"])
        else:
            _ctx = mp.get_context("spawn")
    return _ctx


def grade_in_child(job: Job, timeout: float) -> Result:
    """Grade ``job`` in a child process; kill it after ``timeout`` seconds (status ``"timeout"``)."""
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, job), daemon=True)
    proc.start()
    send.close()
    points = EXERCISES[job.name].points
    try:
        if recv.poll(timeout):
            return Result.from_dict(recv.recv())
        if proc.is_alive():
            return Result(job.name, TIMEOUT, 0, job.seed,
                          f"{job.name}: TIMEOUT: still running after {timeout:g} s (an endless loop?); "
                          f"the time limit is per exercise, loading your code included.", 0.0, points)
        return Result(job.name, ERROR, 0, job.seed, f"{job.name}: the grading process exited with code "
                      f"{proc.exitcode} without a result (did your code call exit() or crash?)", 0.0, points)
    except EOFError:
        return Result(job.name, ERROR, 0, job.seed, f"{job.name}: the grading process died (exit code "
                      f"{proc.exitcode}) without a result", 0.0, points)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
