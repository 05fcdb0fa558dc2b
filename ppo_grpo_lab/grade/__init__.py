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

From a shell, ``python -m ppo_grpo_lab.grade [name ...] [--file my_solutions.py]`` grades
the stubs in :mod:`ppo_grpo_lab.exercises` (or the functions of that name in your file)
and exits 0 only if all pass.
"""
from __future__ import annotations

from typing import Callable

from ..exercises import NAMES
from .core import NOT_IMPLEMENTED, Exercise, Result, run_exercise
from .specs import EXERCISES

__all__ = ["check", "grade", "example", "Result", "EXERCISES", "NAMES", "NOT_IMPLEMENTED"]


def _exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        raise ValueError(f"name: expected one of {list(EXERCISES)}, got {name!r}")
    return EXERCISES[name]


def example(name: str) -> list[dict]:
    """The visible example(s) ``check`` runs first: ``[{"args": (...), "expected": Tensor, "note": str}]``.

    Handy to test your function by hand before grading it, e.g.
    ``ex = example("gae")[0]; my_gae(*ex["args"]) - ex["expected"]``.
    """
    ex = _exercise(name)
    return [{"args": c.args, "expected": ex.reference(*c.args).detach(), "note": c.note} for c in ex.visible()]


def grade(name: str, fn: Callable, seed: int | None = None) -> Result:
    """Grade ``fn`` as exercise ``name`` without printing or raising; returns a :class:`Result`."""
    if not callable(fn):
        raise ValueError(f"fn: expected a function, got {type(fn).__name__}")
    return run_exercise(_exercise(name), fn, seed)


def check(name: str, fn: Callable, seed: int | None = None, *, raise_on_fail: bool = True,
          verbose: bool = True) -> Result:
    """Grade ``fn`` as exercise ``name``, print the outcome, raise ``AssertionError`` if it is wrong.

    Args:
        name: exercise name, one of :data:`NAMES` (e.g. ``"gae"``).
        fn: your function, with the signature of the stub in ``ppo_grpo_lab.exercises.<name>``.
        seed: seed of the hidden cases (None: a fresh one, printed so a failure can be replayed).
        raise_on_fail: raise ``AssertionError`` on a wrong answer (default) or just return.
        verbose: print the outcome.

    Returns:
        :class:`Result` (``.passed``, ``.status``, ``.summary``, ``.message``, ``.seed``).
    """
    result = grade(name, fn, seed)
    if result.status == "failed" and raise_on_fail:
        raise AssertionError(result.message)  # the traceback shows the message: no need to print it too
    if verbose:
        print(result.message)
    return result
