"""Where the grader finds the reference solutions, and how it spots a submission that merely re-exports them.

A full install ships :mod:`ppo_grpo_lab.exercises.references`. A student edition may ship the
stubs only; grading then needs the instructor's references, given as a module name or a
``.py`` path through :func:`use_references` (``--references`` on the command line, or the
environment variable ``PPO_GRPO_LAB_REFERENCES``). A name the instructor's module does not
define falls back to the packaged reference, when there is one.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Callable

__all__ = ["ReferencesUnavailable", "use_references", "reference", "reexported_from", "PACKAGED", "ENV"]

PACKAGED = "ppo_grpo_lab.exercises.references"
ENV = "PPO_GRPO_LAB_REFERENCES"
_override: ModuleType | None = None


class ReferencesUnavailable(RuntimeError):
    """No reference solution for an exercise in this install (a student edition)."""


def _load(spec: str) -> ModuleType:
    path = Path(spec)
    if spec.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ValueError(f"references: expected a .py file or a module name, got {spec!r} (no such file)")
        mod_spec = importlib.util.spec_from_file_location("_ppo_grpo_lab_instructor_references", path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        return module
    return importlib.import_module(spec)


def use_references(spec: str | ModuleType | None) -> None:
    """Grade against the instructor's references: a module, a module name, a ``.py`` path, or None (packaged)."""
    global _override
    _override = spec if isinstance(spec, ModuleType) or spec is None else _load(spec)


def _packaged() -> ModuleType | None:
    try:
        return importlib.import_module(PACKAGED)
    except ImportError:
        return None


def _sources() -> list[ModuleType]:
    if _override is None and os.environ.get(ENV):
        use_references(os.environ[ENV])
    return [m for m in (_override, _packaged()) if m is not None]


def reference(name: str) -> Callable:
    """The reference implementation of exercise ``name`` (instructor's first, then the packaged one)."""
    for module in _sources():
        fn = getattr(module, name, None)
        if callable(fn):
            return fn
    raise ReferencesUnavailable(
        f"{name}: no reference solution in this install (a student edition ships the stubs only); "
        f"grading needs the instructor's references: `--references PATH` or {ENV}=PATH")


class LazyReference:
    """A callable that looks the reference up when called, so importing the grader never needs it."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args):
        return reference(self.name)(*args)

    def __repr__(self) -> str:
        return f"<reference {self.name}>"


def reexported_from(fn: Callable, name: str) -> str | None:
    """Where ``fn`` comes from when it is a reference (or a package function) passed off as a solution, else None.

    Caught: the reference object itself (``from ...references import *``), a copy sharing its
    code, and any function defined inside ``ppo_grpo_lab`` other than the exercise's stub
    (e.g. ``from ppo_grpo_lab import kl_k3``). The grader asks only about functions that
    passed: a package function that is wrong for this exercise fails on its own.
    """
    target = getattr(fn, "__wrapped__", fn)
    known = []
    for module in _sources():
        ref = getattr(module, name, None)
        if callable(ref):
            known.append((module.__name__, ref))
    for where, ref in known:
        if target is ref or getattr(target, "__code__", None) is getattr(ref, "__code__", object()):
            return f"{where}.{name}"
    module = getattr(target, "__module__", None) or ""
    stub = f"ppo_grpo_lab.exercises.{name}"
    if (module == "ppo_grpo_lab" or module.startswith("ppo_grpo_lab.")) and module != stub:
        return f"{module}.{getattr(target, '__qualname__', name)}"
    if module == "_ppo_grpo_lab_instructor_references":
        return f"the instructor's references ({name})"
    return None
