"""Grade one exercise in a separate process with a time limit, so ``while True`` cannot hang the grader.

The command line starts one worker process (``python -m ppo_grpo_lab.grade.isolate``), which
imports torch and the grader once and then serves jobs, one JSON line each way. For each
job the worker forks a fresh child that loads the submission, grades it and writes back
:meth:`~ppo_grpo_lab.grade.core.Result.to_dict`; after ``timeout`` seconds the worker kills the child and reports
``"timeout"``. A child that dies without answering (``sys.exit``, a crash) gives ``"error"``.
The submission's prints go to /dev/null, so ``--json`` output stays clean, and no child
shares state with the next one. The worker itself never runs torch code, so forking it is safe.

Cost, measured on 2 vCPUs shared with other jobs (load 5-7): the worker starts in 4-6 s
(once per run), then each exercise costs 20-170 ms on top of its own grading time. Without ``os.fork``
(Windows) the worker grades in its own process and the parent enforces the limit by
killing and restarting the worker (``timeout`` + 10 s).
"""
from __future__ import annotations

import atexit
import importlib
import io
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .core import ERROR, FAILED, PASSED, TIMEOUT, Result
from .specs import EXERCISES

__all__ = ["Job", "Worker", "grade_in_child", "run_job"]

SLACK = 10.0  # seconds the parent waits beyond the limit before it kills the worker


@dataclass
class Job:
    """What a child needs, as plain data (it crosses a process boundary).

    Attributes:
        name: the exercise.
        files: the submission's Python files (None: the package's stub files; see ``Submission``).
        seed: seed of the hidden cases.
        extra_cases: folder of private cases, or None.
        references: the instructor's references (module name or ``.py`` path), or None.
        self_test: grade the references themselves (the instructor's check of the setup).
    """

    name: str
    files: list[str] | None = None
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
    sub = Submission("", None if job.files is None else [Path(f) for f in job.files])
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


def _failure(job: Job, status: str, message: str) -> Result:
    return Result(job.name, status, 0, job.seed, f"{job.name}: {message}", 0.0, EXERCISES[job.name].points)


def _safe_run(job: Job) -> Result:
    try:
        return run_job(job)
    except SystemExit as exc:
        return _failure(job, ERROR, f"your code called exit({exc.code!r}); a solution must return its result")
    except BaseException as exc:  # noqa: BLE001 - a grader crash must not kill the run
        return _failure(job, ERROR, f"grading stopped: {type(exc).__name__}: {exc}")


def _read_all(fd: int, deadline: float) -> bytes | None:
    """Bytes from ``fd`` until EOF, or None when ``deadline`` passes first."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _run_forked(job: Job, timeout: float) -> Result:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: quiet, no stdin, grade, write, leave without cleanup
        os.close(r)
        _limit_cpu(timeout)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        sys.stdout = sys.stderr = io.StringIO()
        data = json.dumps(_safe_run(job).to_dict()).encode()
        with os.fdopen(w, "wb") as f:
            f.write(data)
        os._exit(0)
    os.close(w)
    try:
        data = _read_all(r, time.monotonic() + timeout)
    finally:
        os.close(r)
    if data is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return _timeout(job, timeout)
    _, status = os.waitpid(pid, 0)
    if not data:
        return _failure(job, ERROR, f"the grading process ended (status {status}) without a result "
                        f"(did your code call os._exit or crash the interpreter?)")
    return Result.from_dict(json.loads(data))


def _limit_cpu(timeout: float) -> None:
    """A CPU-time ceiling: even a child orphaned by a killed worker cannot spin for ever."""
    try:
        import resource
        seconds = int(timeout) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    except (ImportError, ValueError, OSError):
        pass


def _timeout(job: Job, timeout: float) -> Result:
    return _failure(job, TIMEOUT, f"TIMEOUT: still running after {timeout:g} s (an endless loop?); the time "
                    f"limit is per exercise, loading your code included.")


def _warm_up() -> None:
    """Run each reference once on its visible example, so forked children start with torch's lazy setup done.

    One thread: the inputs are tiny, and no thread pool then exists to be broken by a fork.
    """
    import torch
    torch.set_num_threads(1)
    for ex in EXERCISES.values():
        try:
            for case in ex.visible():
                ex.reference(*case.args)
        except Exception:  # noqa: BLE001 - no references here (student edition): the children load them
            return


def serve() -> None:
    """The worker's loop: a JSON ``{"job": ..., "timeout": ...}`` per line in, a Result per line out."""
    try:  # import once here, so each forked child starts with it loaded
        importlib.import_module("ppo_grpo_lab.exercises.references")
    except ImportError:  # a student edition: the instructor's references come with each job
        pass
    _warm_up()
    proto = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # stray prints never reach the protocol channel
    sys.stdout = io.StringIO()
    for line in sys.stdin:
        msg = json.loads(line)
        job = Job(**msg["job"])
        result = _run_forked(job, msg["timeout"]) if hasattr(os, "fork") else _safe_run(job)
        proto.write(json.dumps(result.to_dict()) + "\n")
        proto.flush()
        sys.stdout = io.StringIO()


class Worker:
    """The parent's handle on a worker process; restarts it when it has to be killed."""

    def __init__(self):
        self.proc = None
        self.fresh = False
        self.lines: queue.Queue = queue.Queue()

    def _start(self) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen([sys.executable, "-m", "ppo_grpo_lab.grade.isolate"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                                     start_new_session=os.name == "posix")  # its own group: killed with its children
        atexit.register(self.close)
        self.lines = queue.Queue()
        self.fresh = True  # its first answer includes starting Python and importing torch
        threading.Thread(target=self._pump, args=(self.proc, self.lines), daemon=True).start()

    @staticmethod
    def _pump(proc, lines) -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def run(self, job: Job, timeout: float) -> Result:
        """Grade ``job`` in a fresh child of the worker, at most ``timeout`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(json.dumps({"job": asdict(job), "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        try:
            line = self.lines.get(timeout=timeout + SLACK + 120.0 * self.fresh)
        except queue.Empty:
            line = "timeout"
        self.fresh = False
        if line is None or line == "timeout":
            self.close()
            return _timeout(job, timeout) if line else _failure(job, ERROR, "the grading worker died")
        return Result.from_dict(json.loads(line))

    def close(self) -> None:
        """Stop the worker and any child it is running."""
        if self.proc is not None:
            if os.name == "posix":
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            elif self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None


_worker = Worker()


def grade_in_child(job: Job, timeout: float) -> Result:
    """Grade ``job`` in a separate process; kill it after ``timeout`` seconds (status ``"timeout"``)."""
    return _worker.run(job, timeout)


if __name__ == "__main__":
    serve()
