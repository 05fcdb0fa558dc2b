"""Input validation shared by every public function.

Errors say what was expected and what arrived, e.g.
``ValueError: rewards: expected a 2-D tensor [T, N], got shape (5,)``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


class NonFiniteError(ValueError):
    """A tensor holds NaN or inf (raised by :func:`check_finite`; trainers catch it by type)."""


def as_tensor(name: str, x) -> Tensor:
    """Return ``x`` as a tensor (numpy arrays and lists are converted), else raise."""
    if isinstance(x, Tensor):
        return x
    try:
        return torch.as_tensor(x)
    except Exception as exc:  # pragma: no cover - message path
        raise ValueError(f"{name}: expected a tensor or array, got {type(x).__name__}") from exc


def check_ndim(name: str, x: Tensor, ndim: int, layout: str) -> None:
    """Require ``x.ndim == ndim``; ``layout`` (e.g. ``"[T, N]"``) goes into the message."""
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D tensor {layout}, got shape {tuple(x.shape)}")


def check_same_shape(ref_name: str, ref: Tensor, **others: Tensor | None) -> None:
    """Require every tensor in ``others`` (``None`` skipped) to have ``ref``'s shape."""
    for name, t in others.items():
        if t is not None and tuple(t.shape) != tuple(ref.shape):
            raise ValueError(
                f"{name}: expected shape {tuple(ref.shape)} (the shape of {ref_name}), "
                f"got {tuple(t.shape)}"
            )


def check_finite(**tensors: Tensor | None) -> None:
    """Raise if any floating tensor holds NaN or inf, naming it and the first bad index."""
    for name, t in tensors.items():
        if t is None or not torch.is_floating_point(t):
            continue
        if bool(torch.isfinite(t.sum())):  # any NaN/inf makes the sum non-finite: one cheap reduction
            continue
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            idx = tuple(int(i) for i in bad.nonzero()[0])
            raise NonFiniteError(f"{name}: expected finite values, got {t[idx].item()} at index {idx}")


def as_bool_mask(name: str, x: Tensor | None) -> Tensor | None:
    """Accept a bool tensor or a 0/1 numeric tensor; return it as bool."""
    if x is None:
        return None
    if x.dtype == torch.bool:
        return x
    if torch.is_floating_point(x) or x.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        if bool(((x != 0) & (x != 1)).any()):
            raise ValueError(f"{name}: expected a boolean or 0/1 tensor, got other values")
        return x.bool()
    raise ValueError(f"{name}: expected a boolean or 0/1 tensor, got dtype {x.dtype}")


def check_range(name: str, value: float, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False) -> None:
    """Require ``low <= value <= high`` (ends optionally open); message gives the range."""
    ok_low = value > low if low_open else value >= low
    ok_high = value < high if high_open else value <= high
    if not (ok_low and ok_high):
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ValueError(f"{name}: expected a value in {lb}{low}, {high}{hb}, got {value}")


def check_int(name: str, value, minimum: int = 1, note: str = "", symbol: str = "") -> None:
    """Require an integer (not a bool) ``>= minimum``.

    ``symbol`` (e.g. ``"G"``) and ``note`` (why the bound) go into the message:
    ``group_size: expected an integer G >= 2 (...), got 1``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        sym = f"{symbol} " if symbol else ""
        raise ValueError(f"{name}: expected an integer {sym}>= {minimum}{note}, got {value!r}")


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """Require ``value`` to be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")


def check_rollout(layout: str = "[T, N]", **tensors: Tensor | None) -> dict[str, Tensor | None]:
    """Validate time-major rollout tensors: all 2-D ``[T, N]`` with one shared shape.

    Float tensors must be finite; tensors whose name starts with ``terminated``/``truncated``/``done``
    are converted to bool masks. Returns the converted tensors by name.
    """
    out: dict[str, Tensor | None] = {}
    ref_name, ref = None, None
    for name, t in tensors.items():
        if t is None:
            out[name] = None
            continue
        t = as_tensor(name, t)
        check_ndim(name, t, 2, layout)
        if ref is None:
            ref_name, ref = name, t
        else:
            check_same_shape(ref_name, ref, **{name: t})
        if name.startswith(("terminated", "truncated", "done")):
            t = as_bool_mask(name, t)
        else:
            if not torch.is_floating_point(t):
                t = t.float()
            check_finite(**{name: t})
        out[name] = t
    return out


def check_advantage_inputs(rewards, values, next_values, terminated, truncated, gamma) -> dict[str, Tensor]:
    """Validate the inputs shared by every advantage estimator (all ``[T, N]``, γ in [0, 1]).

    Returns the converted tensors by name; a missing ``truncated`` becomes all-False.
    """
    t = check_rollout(rewards=rewards, values=values, next_values=next_values,
                      terminated=terminated, truncated=truncated)
    check_range("gamma", gamma, 0.0, 1.0)
    if t["truncated"] is None:
        t["truncated"] = torch.zeros_like(t["terminated"])
    return t


def check_bool(name: str, value) -> None:
    """Require ``True`` or ``False`` (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
