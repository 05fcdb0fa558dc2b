"""A time limit for ``check(...)`` in a notebook: a student's ``while True`` must not hang the kernel.

The command line grades in a child process (``isolate``); a notebook's function lives in the
kernel and cannot be sent to another process, so ``check`` limits itself with an alarm
signal instead: after ``seconds`` (wall clock) ``SIGALRM`` raises :class:`TimeLimitExceeded`
inside whatever Python code is running, and again every second after that, so code that
swallows one alarm (a bare ``except:``) and loops on is stopped by the next. A loop that
swallows every exception cannot be stopped from inside the kernel: use Kernel > Interrupt,
or grade from the shell (each exercise in a child process). A long single torch operation is
interrupted when it returns. Where no alarm is possible (Windows, or ``check`` called outside
the main thread) the grading runs without a limit.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["DEFAULT_TIMEOUT", "TimeLimitExceeded", "time_limit"]

DEFAULT_TIMEOUT = 20.0  # seconds per exercise, as ``python -m ppo_grpo_lab.grade --timeout``


class TimeLimitExceeded(BaseException):
    """Raised in the graded code when its time is up (a BaseException: ``except Exception`` does not catch it)."""


def _available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None):
    """Raise :class:`TimeLimitExceeded` in the body after ``seconds``; None or 0: no limit."""
    if not seconds or seconds <= 0 or not _available():
        yield
        return
    if seconds != seconds or seconds == float("inf"):
        raise ValueError(f"seconds: expected a positive finite number or None, got {seconds}")

    armed = [True]

    def _alarm(signum, frame):
        if armed[0]:
            raise TimeLimitExceeded(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)  # then every second, until the body gives up
    try:
        yield
    finally:
        while True:  # an alarm arriving in here must not leave the timer running
            try:
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except TimeLimitExceeded:
                continue
