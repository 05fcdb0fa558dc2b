"""The grading engine: run a function on cases, compare with the reference, explain failures.

An :class:`Exercise` describes what to feed the function (the chapter's visible example,
seeded hidden cases, property checks); :func:`run_exercise` plays them in that order and
stops at the first failure with a message that names the case, the shapes and the first
differing entry, plus the seed that reproduces it.
"""
from __future__ import annotations

import copy
import random
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor

from .time_limit import DEFAULT_TIMEOUT

__all__ = ["Case", "Exercise", "Result", "CaseFailure", "NotImplementedYet", "run_exercise", "compare", "STATUSES"]

PASSED, FAILED, NOT_IMPLEMENTED, TIMEOUT, ERROR = "passed", "failed", "not implemented", "timeout", "error"
STATUSES = (PASSED, FAILED, NOT_IMPLEMENTED, TIMEOUT, ERROR)


@dataclass
class Case:
    """One input for the function under test.

    Attributes:
        label: what the case is, shown when it fails (e.g. ``"hidden case 3"``).
        args: positional arguments, in the exercise's signature order.
        grad_arg: index of the argument that must receive a gradient (losses), or None.
        note: a short description of what the case exercises (shapes, γ, done pattern...).
    """

    label: str
    args: tuple
    grad_arg: int | None = None
    note: str = ""


@dataclass
class Exercise:
    """What the grader knows about one exercise.

    Attributes:
        name: the exercise (and function) name.
        chapter: the chapter that introduces it.
        signature: the signature the function must have, shown in messages.
        reference: the reference implementation, same signature.
        visible: returns the chapter's worked example(s) as cases.
        hidden: ``hidden(gen, i)`` returns the i-th seeded random case.
        n_hidden: how many hidden cases to run.
        properties: ``prop(fn, gen)`` returns None or a failure message.
        atol, rtol: comparison tolerances (inputs are float64).
        points: what the exercise is worth when it passes (all or nothing).
        outcome: ``outcome(args, returned)`` gives the tensor compared (None: the returned value); the
            capstones compare the policy's parameters after the call (their args are deep-copied).
        timeout: seconds ``check`` gives it in a notebook (more for an exercise that trains something).
    """

    name: str
    chapter: int
    signature: str
    reference: Callable
    visible: Callable[[], list[Case]]
    hidden: Callable[[torch.Generator, int], Case]
    n_hidden: int = 30
    properties: list[Callable] = field(default_factory=list)
    atol: float = 1e-6
    rtol: float = 1e-5
    points: float = 1.0
    outcome: Callable | None = None
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class Result:
    """Outcome of grading one exercise.

    Attributes:
        name: exercise name.
        status: one of :data:`STATUSES`: ``"passed"``, ``"failed"``, ``"not implemented"``,
            ``"timeout"`` (ran past the time limit) or ``"error"`` (the submission could not be
            loaded, or the grader had no reference).
        cases_run: cases (and property checks) the function went through, the failing one included.
        seed: the seed of the hidden cases (pass it back to ``check`` to reproduce).
        message: the full explanation printed to the reader.
        points, max_points: points earned (``max_points`` if passed, else 0) and available.
    """

    name: str
    status: str
    cases_run: int
    seed: int
    message: str
    points: float = 0.0
    max_points: float = 1.0

    @property
    def passed(self) -> bool:
        """True when every case passed."""
        return self.status == "passed"

    @property
    def summary(self) -> str:
        """One line: name, status, number of cases and the seed."""
        return f"{self.name}: {self.status} ({self.cases_run} cases, seed {self.seed})"

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"<grade {self.summary}>"

    def to_dict(self) -> dict:
        """Plain data for ``--json``: name, status, points, max_points, cases_run, seed, message."""
        return {"name": self.name, "status": self.status, "points": self.points, "max_points": self.max_points,
                "cases_run": self.cases_run, "seed": self.seed, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        """The inverse of :meth:`to_dict`."""
        return cls(d["name"], d["status"], d["cases_run"], d["seed"], d["message"], d["points"], d["max_points"])


class CaseFailure(Exception):
    """A case failed; the message is meant for the reader."""


class NotImplementedYet(Exception):
    """The function under test raised NotImplementedError."""


def _fmt(x: Any, limit: int = 12) -> str:
    """Compact text for a case's argument (small tensors in full, large ones by shape)."""
    if isinstance(x, Tensor):
        if x.numel() <= limit:
            vals = x.tolist()
            if x.dtype.is_floating_point:
                vals = _round(vals)
            return f"tensor({vals})"
        return f"<{str(x.dtype).replace('torch.', '')} tensor of shape {tuple(x.shape)}>"
    return repr(x) if "\n" not in repr(x) else f"<{type(x).__name__}>"  # a module, an optimizer


def _round(v):
    return [_round(u) for u in v] if isinstance(v, list) else round(v, 4)


def _clone(args: tuple, grad_arg: int | None) -> tuple:
    if any(isinstance(a, (torch.nn.Module, torch.optim.Optimizer)) for a in args):
        return copy.deepcopy(args)  # one memo: the optimizer keeps pointing at the copied parameters
    out = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            a = a.detach().clone()
            if i == grad_arg:
                a.requires_grad_(True)
        out.append(a)
    return tuple(out)


def _hint(exc: BaseException) -> str:
    text = str(exc)
    if "bool tensor is not supported" in text or "Subtraction, the `-` operator, with a bool" in text:
        return (" Hint: terminated/truncated/mask are bool tensors; write (~done).float() or "
                "done.float() instead of 1 - done.")
    if "takes" in text and "positional argument" in text:
        return " Hint: keep the exact signature of the stub; the grader passes the arguments in that order."
    return ""


def call(ex: Exercise, fn: Callable, case: Case, args: tuple):
    """Call ``fn(*args)``; turn NotImplementedError and crashes into readable exceptions."""
    try:
        return fn(*args)
    except NotImplementedError as exc:
        raise NotImplementedYet(str(exc)) from None
    except Exception as exc:  # a crash in the reader's code is a failed case, explained
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise CaseFailure(
            f"{case.label}: your function raised {type(exc).__name__}: {exc} "
            f"(at {where.filename.split('/')[-1]}:{where.lineno}).{_hint(exc)}"
        ) from None


def compare(got: Any, expected: Tensor, what: str, atol: float, rtol: float) -> str | None:
    """Return None when ``got`` matches ``expected`` (shape and values), else an explanation."""
    if isinstance(got, tuple):
        return (f"{what}: expected a single tensor of shape {tuple(expected.shape)}, got a {type(got).__name__} "
                f"of length {len(got)} (return only the result, e.g. advantages, not a tuple)")
    if got is None:
        return f"{what}: your function returned None (did you forget `return`?)"
    try:
        g = got.detach() if isinstance(got, Tensor) else torch.as_tensor(got)
    except Exception:
        return f"{what}: expected a tensor, got {type(got).__name__}"
    if g.dtype == torch.bool or not (g.dtype.is_floating_point or g.dtype.is_complex or g.numel() == 0):
        g = g.to(torch.float64)
    if tuple(g.shape) != tuple(expected.shape):
        extra = " (a loss is a 0-d tensor: reduce with .mean())" if expected.ndim == 0 else ""
        return f"{what}: expected shape {tuple(expected.shape)}, got shape {tuple(g.shape)}{extra}"
    g = g.to(torch.float64)
    e = expected.detach().to(torch.float64)
    close = torch.isclose(g, e, rtol=rtol, atol=atol)
    if bool(close.all()):
        return None
    bad = (~close).nonzero()
    n_bad = bad.shape[0]
    if expected.ndim == 0:
        return f"{what}: expected {e.item():.6g}, got {g.item():.6g}"
    idx = tuple(int(i) for i in bad[0])
    return (f"{what}: {n_bad} of {e.numel()} entries differ; first at index {idx}: "
            f"expected {e[idx].item():.6g}, got {g[idx].item():.6g}")


def _run_case(ex: Exercise, fn: Callable, case: Case) -> None:
    expected_args = _clone(case.args, case.grad_arg)
    expected = ex.reference(*expected_args)
    args = _clone(case.args, case.grad_arg)
    got = call(ex, fn, case, args)
    if ex.outcome is not None:  # e.g. the parameters after the update, not what the function returned
        expected, got = ex.outcome(expected_args, expected), ex.outcome(args, got)
    problem = _mutated(ex, case, args)
    if problem is None:
        problem = compare(got, expected, case.label + getattr(ex.outcome, "what", ""), ex.atol, ex.rtol)
    if problem is None and case.grad_arg is not None:
        problem = _compare_grad(ex, case, got, expected, args, expected_args)
    if problem is not None:
        inputs = ", ".join(_fmt(a) for a in case.args)
        note = f" [{case.note}]" if case.note else ""
        raise CaseFailure(f"{problem}{note}\n    inputs: {ex.name}({inputs})")


def _mutated(ex: Exercise, case: Case, args: tuple) -> str | None:
    names = [n.strip().split("=")[0] for n in ex.signature.split("(", 1)[1].rstrip(")").split(",")]
    for name, before, after in zip(names, case.args, args):
        if isinstance(before, Tensor) and not torch.equal(before, after.detach()):
            return (f"{case.label}: your function changed its input `{name}` in place; "
                    f"work on a copy (e.g. torch.zeros_like) instead")
    return None


def _compare_grad(ex, case, got, expected, args, expected_args) -> str | None:
    name = ex.signature.split("(", 1)[1].rstrip(")").split(",")[case.grad_arg].split("=")[0].strip()
    if not isinstance(got, Tensor) or not got.requires_grad:
        return (f"{case.label}: the value is right but the loss is not differentiable in `{name}` "
                f"(compute it with torch operations on the given tensors, no .item(), .detach() or numpy)")
    (g_got,) = torch.autograd.grad(got, args[case.grad_arg], allow_unused=True)
    (g_exp,) = torch.autograd.grad(expected, expected_args[case.grad_arg], allow_unused=True)
    if g_got is None:
        g_got = torch.zeros_like(args[case.grad_arg])
    problem = compare(g_got, g_exp, f"{case.label}, gradient with respect to `{name}`", ex.atol, ex.rtol)
    return problem


def run_exercise(ex: Exercise, fn: Callable, seed: int | None = None, extra: list[Case] = ()) -> Result:
    """Grade ``fn`` on ``ex``: visible example(s), hidden cases, ``extra`` (private) cases, property checks.

    The same ``seed`` draws the same hidden cases, so it gives the same result.
    """
    if seed is None:
        seed = random.SystemRandom().randrange(100_000)
    gen = torch.Generator().manual_seed(seed)
    n = 0
    try:
        for case in [*ex.visible(), *(ex.hidden(gen, i) for i in range(ex.n_hidden)), *extra]:
            n += 1
            _run_case(ex, fn, case)
        for prop in ex.properties:
            n += 1
            problem = prop(fn, gen)
            if problem:
                raise CaseFailure(f"property check: {problem}")
    except NotImplementedYet:
        return Result(ex.name, NOT_IMPLEMENTED, n, seed,
                      f"{ex.name}: not implemented yet (the stub raises NotImplementedError); "
                      f"write {ex.signature} and run the check again.", 0.0, ex.points)
    except CaseFailure as exc:
        return Result(ex.name, FAILED, n, seed,
                      f"{ex.name}: FAILED on {exc}\n"
                      f"Reproduce with check({ex.name!r}, your_function, seed={seed}).", 0.0, ex.points)
    parts = [_plural(len(ex.visible()), "visible example"), _plural(ex.n_hidden, "hidden case")]
    if extra:
        parts.append(_plural(len(extra), "private case"))
    if ex.properties:
        parts.append(_plural(len(ex.properties), "property check"))
    return Result(ex.name, PASSED, n, seed, f"{ex.name}: passed ({', '.join(parts)}; seed {seed}).",
                  ex.points, ex.points)


def _plural(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"
