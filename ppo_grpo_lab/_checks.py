"""Input validation shared by every public function.

Errors say what was expected and what arrived, e.g.
``ValueError: rewards: expected a 2-D tensor [T, N], got shape (5,)``.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

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
    """Raise :class:`NonFiniteError` if a floating tensor holds NaN or inf, naming it and the first bad index.

    One reduction per tensor and a single host sync for all of them (a GPU waits here once):
    call it at the boundary of a public function, not inside kernels.
    """
    floats = {name: t for name, t in tensors.items() if t is not None and torch.is_floating_point(t)}
    if not floats:
        return
    try:  # any NaN/inf makes a sum non-finite
        sums = torch.stack([t.sum().to(torch.float64) for t in floats.values()])
        if bool(torch.isfinite(sums).all()):
            return
    except RuntimeError:  # tensors on different devices: look at each one
        pass
    for name, t in floats.items():
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


class RolloutTensors(NamedTuple):
    """Validated time-major rollout tensors, each ``[T, N]`` or ``None`` (returned by :func:`check_rollout`).

    A named tuple, so callers read ``r.rewards`` and keep ``t`` free for time.
    """

    rewards: Tensor
    values: Tensor | None = None
    next_values: Tensor | None = None
    terminated: Tensor | None = None
    truncated: Tensor | None = None


def check_rollout(rewards, values=None, next_values=None, terminated=None, truncated=None,
                  layout: str = "[T, N]") -> RolloutTensors:
    """Validate time-major rollout tensors: all 2-D ``[T, N]`` with one shared shape.

    Float tensors must be finite (one :func:`check_finite`, one host sync: call this at the boundary only);
    ``terminated``/``truncated`` are converted to bool masks. ``None`` stays ``None``.
    """
    given = {"rewards": rewards, "values": values, "next_values": next_values,
             "terminated": terminated, "truncated": truncated}
    out: dict[str, Tensor | None] = {}
    ref_name, ref = None, None
    for name, x in given.items():
        if x is None:
            out[name] = None
            continue
        x = as_tensor(name, x)
        check_ndim(name, x, 2, layout)
        if ref is None:
            ref_name, ref = name, x
        else:
            check_same_shape(ref_name, ref, **{name: x})
        if name in ("terminated", "truncated"):
            x = as_bool_mask(name, x)
        else:
            if not torch.is_floating_point(x):
                x = x.float()
        out[name] = x
    check_finite(**{k: v for k, v in out.items() if k not in ("terminated", "truncated")})
    return RolloutTensors(**out)


def check_advantage_inputs(rewards, values, next_values, terminated, truncated, gamma) -> RolloutTensors:
    """Validate the inputs shared by every advantage estimator (all ``[T, N]``, γ in [0, 1]).

    Returns the converted tensors; a missing ``truncated`` becomes all-False.
    """
    r = check_rollout(rewards, values, next_values, terminated, truncated)
    check_range("gamma", gamma, 0.0, 1.0)
    if r.truncated is None:
        r = r._replace(truncated=torch.zeros_like(r.terminated))
    return r


def check_clip_eps(clip_eps, clip_eps_high=None, name: str = "clip_eps") -> None:
    """ε_low > 0 (any size: ε ≥ 1 is accepted, the lower bound 1 − ε then never binds); ε_high > 0 or None."""
    check_range(name, clip_eps, 0.0, float("inf"), low_open=True, high_open=True)
    if clip_eps_high is not None:
        check_range(f"{name}_high", clip_eps_high, 0.0, float("inf"), low_open=True)


def check_bool(name: str, value) -> None:
    """Require ``True`` or ``False`` (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
