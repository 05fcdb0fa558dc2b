"""Autograded exercises: ``check(name, fn)`` compares your function with the reference.

In a chapter::

    from ppo_grpo_lab.grade import check
    from ppo_grpo_lab.exercises.gae import gae as my_gae   # stub: replace with your own function
    check("gae", my_gae)

What ``check`` does, in order: the chapter's visible example, then seeded hidden cases
(random shapes, done/truncated patterns, γ, λ, group sizes with all-equal groups, token
masks), then property checks (e.g. k3 ≥ 0, the gradient of a loss). The seed is printed,
so ``check(name, fn, seed=...)`` replays a failure exactly.

Outcomes:

- **passed**: prints a one-line confirmation and returns a :class:`Result` with ``passed=True``.
- **not implemented** (the stub still raises ``NotImplementedError``): prints
  "not implemented yet" and returns quietly, so a notebook keeps running.
- **failed**: raises ``AssertionError`` whose message says which case failed and how
  (expected vs got, first differing index, shapes, the inputs). It is loud on purpose: a
  wrong answer should stop you, not scroll past. Pass ``raise_on_fail=False`` to get the
  :class:`Result` back instead.
- **timeout**: the exercise ran longer than its time limit (20 s, as the command line's
  ``--timeout``, unless the exercise needs more): it is stopped and reported like a failure (an
  endless loop does not hang the notebook). ``check(name, fn, timeout=60)`` gives a slow machine
  longer; ``timeout=0``: no limit.

Edited the stub file ``ppo_grpo_lab/exercises/<name>.py`` instead? ``check("gae")`` (or
``check("gae", my_gae)`` with ``my_gae`` imported from the stub) loads the file fresh on
every call, so an edit counts without restarting the kernel. A function defined in the
notebook cell works too: ``check("gae", gae)`` or just ``check(gae)``.

From a shell, ``python -m ppo_grpo_lab.grade [name ...] [--file mine.py | --notebook nb.ipynb |
--batch DIR] [--json] [--seed S] [--timeout SEC] [--extra-cases DIR] [--references PATH]``
grades each exercise in its own process with a time limit (see ``__main__``).
"""
from __future__ import annotations

import copy
import random
from typing import Callable

from ..exercises import NAMES
from .core import ERROR, FAILED, NOT_IMPLEMENTED, STATUSES, TIMEOUT, Case, Exercise, Result, run_exercise
from .references import ReferencesUnavailable, reexported_from
from .sources import _is_stub, fresh_stub
from .specs import EXERCISES
from .time_limit import TimeLimitExceeded, time_limit

__all__ = ["check", "grade", "example", "Result", "EXERCISES", "NAMES", "NOT_IMPLEMENTED", "STATUSES"]


def _exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        raise ValueError(f"name: expected one of {list(EXERCISES)}, got {name!r}")
    return EXERCISES[name]


def example(name: str) -> list[dict]:
    """The visible examples the grader runs first: ``[{"args": (...), "expected": Tensor, "note": str}]``.

    Handy to test your function by hand before grading it, e.g.
    ``ex = example("gae")[0]; my_gae(*ex["args"]) - ex["expected"]``.
    """
    ex = _exercise(name)
    return [{"args": c.args, "expected": _expected(ex, c.args), "note": c.note} for c in ex.visible()]


def _expected(ex: Exercise, args: tuple):
    if ex.outcome is None:
        return ex.reference(*args).detach()
    args = copy.deepcopy(args)  # a capstone: run the reference on a copy, keep the case as it was
    return ex.outcome(args, ex.reference(*args))


def grade(name: str, fn: Callable | None = None, seed: int | None = None, *, extra: list[Case] = (),
          allow_reference: bool = False, timeout: float | None = None) -> Result:
    """Grade ``fn`` as exercise ``name`` without printing or raising; returns a :class:`Result`.

    Args:
        name: exercise name, one of :data:`NAMES`.
        fn: the function to grade; None, or the stub imported from ``ppo_grpo_lab.exercises.<name>``,
            grades the stub file as it is on disk now (loaded fresh).
        seed: seed of the hidden cases; the same seed gives the same cases and the same result.
        extra: private cases (see :mod:`ppo_grpo_lab.grade.extra`), run after the hidden ones.
        allow_reference: accept the reference solution itself (instructors checking their setup).
            Otherwise a function that passes but is the reference, or the package's own
            implementation, is failed with a message saying so.
        timeout: seconds for the whole exercise (None or 0: no limit); past it the result has status
            ``"timeout"`` (see :mod:`ppo_grpo_lab.grade.time_limit`).
    """
    ex = _exercise(name)
    if fn is None or _is_stub(fn, name):
        fn = fresh_stub(name)
    if not callable(fn):
        raise ValueError(f"fn: expected a function, got {type(fn).__name__}")
    if seed is None:
        seed = random.SystemRandom().randrange(100_000)  # drawn here, so a timeout can report it
    try:
        with time_limit(timeout):
            result = run_exercise(ex, fn, seed, list(extra))
    except TimeLimitExceeded:
        return Result(name, TIMEOUT, 0, seed, f"{name}: TIMEOUT: still running after {timeout:g} s (an endless "
                      f"loop?). Fix the loop, or give it longer: check({name!r}, your_function, "
                      f"timeout={2 * timeout:g}). Seed {seed}.", 0.0, ex.points)
    except ReferencesUnavailable as exc:
        return Result(name, ERROR, 0, seed if seed is not None else -1, str(exc), 0.0, ex.points)
    where = None if allow_reference or not result.passed else reexported_from(fn, name)
    if where is not None:
        return Result(name, FAILED, result.cases_run, result.seed,
                      f"{name}: FAILED: the submitted function is {where}, the package's own answer, "
                      f"re-exported; write the function yourself.", 0.0, ex.points)
    return result


def check(name: str | Callable, fn: Callable | None = None, seed: int | None = None, *,
          raise_on_fail: bool = True, verbose: bool = True, timeout: float | None = None) -> Result:
    """Grade ``fn`` as exercise ``name``, print the outcome, raise ``AssertionError`` if it is wrong.

    Args:
        name: exercise name, one of :data:`NAMES` (e.g. ``"gae"``); or the function itself,
            when it is named like the exercise (``check(gae)``).
        fn: your function, with the signature of the stub in ``ppo_grpo_lab.exercises.<name>``
            (e.g. defined in the notebook cell). None, or the stub imported from that module,
            grades the stub file as saved now: edits count without restarting the kernel.
        seed: seed of the hidden cases (None: a fresh one, printed so a failure can be replayed).
        raise_on_fail: raise ``AssertionError`` on a wrong answer or a timeout (default) or just return.
        verbose: print the outcome.
        timeout: seconds the exercise may take; an endless loop is stopped then and reported as
            ``"timeout"``. None: the exercise's own limit (``Exercise.timeout``: 20 s, as the command
            line's ``--timeout``, unless its spec needs more); 0: no limit.

    Returns:
        :class:`Result` (``.passed``, ``.status``, ``.summary``, ``.message``, ``.seed``).
    """
    if callable(name) and fn is None:
        name, fn = getattr(name, "__name__", ""), name
        if name.startswith("my_") and name not in EXERCISES:
            name = name[3:]
    if timeout is None:
        timeout = _exercise(name).timeout
    result = grade(name, fn, seed, timeout=timeout)
    if result.status in (FAILED, TIMEOUT) and raise_on_fail:
        raise AssertionError(result.message)  # the traceback shows the message: no need to print it too
    if verbose:
        print(result.message)
    return result
