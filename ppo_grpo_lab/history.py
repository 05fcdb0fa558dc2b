"""Training history: what every trainer returns, and what the chapters plot.

A :class:`History` is a list of records, each a dict with an integer ``step`` (e.g.
environment steps, or updates) and metric values keyed by slash names such as
``loss/policy`` or ``stats/clip_frac``. Different records may carry different keys
(episode returns arrive at other times than losses)::

    h = History()
    h.log(128, {"loss/policy": 0.1, "stats/clip_frac": 0.02})
    steps, values = h.series("loss/policy")
    h.plot(["loss/policy", "stats/clip_frac"])
    h.to_csv("metrics.csv")
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

__all__ = ["History"]


def _to_float(name: str, v) -> float:
    if hasattr(v, "item"):
        v = v.item()
    try:
        return float(v)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a number, got {type(v).__name__}") from exc


@dataclass
class History:
    """Metrics logged during training, keyed by slash names, each tagged with a step."""

    records: list[dict[str, float]] = field(default_factory=list)

    def log(self, step: int, metrics: Mapping[str, object] | None = None, **kw: object) -> None:
        """Append one record: ``step`` plus metrics (tensors and numpy scalars become floats)."""
        rec: dict[str, float] = {"step": int(step)}
        for k, v in {**(metrics or {}), **kw}.items():
            rec[k] = _to_float(k, v)
        self.records.append(rec)

    def keys(self) -> list[str]:
        """All metric names seen, in first-seen order (``step`` excluded)."""
        seen: dict[str, None] = {}
        for r in self.records:
            for k in r:
                if k != "step":
                    seen.setdefault(k, None)
        return list(seen)

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of the records that carry ``key``."""
        if key not in self.keys():
            raise KeyError(f"{key!r}: not in history; available: {self.keys()}")
        pts = [(r["step"], r[key]) for r in self.records if key in r]
        steps, values = zip(*pts)
        return np.asarray(steps), np.asarray(values, dtype=float)

    def last(self, key: str) -> float:
        """The most recent value of ``key``."""
        return float(self.series(key)[1][-1])

    def __len__(self) -> int:
        return len(self.records)

    def to_csv(self, path: str) -> None:
        """Write one row per record, one column per metric (empty where a record lacks it)."""
        cols = ["step", *self.keys()]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in self.records:
                w.writerow({c: r.get(c, "") for c in cols})

    @classmethod
    def from_csv(cls, path: str) -> "History":
        """Read a file written by :meth:`to_csv`."""
        h = cls()
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                h.records.append({k: (int(v) if k == "step" else float(v)) for k, v in row.items() if v != ""})
        return h

    def plot(self, keys: Iterable[str] | None = None, smooth: int = 1, axes=None, label: str | None = None,
             xlabel: str = "step"):
        """One panel per key (``smooth`` > 1 draws a moving average); returns the axes."""
        import matplotlib.pyplot as plt

        keys = list(self.keys() if keys is None else keys)
        if not keys:
            raise ValueError("keys: expected at least one metric name, got none")
        if axes is None:
            cols = min(3, len(keys))
            rows = math.ceil(len(keys) / cols)
            _, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
            axes = axes.ravel()
        for ax, k in zip(axes, keys):
            x, y = self.series(k)
            if smooth > 1 and len(y) >= smooth:
                y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
                x = x[smooth - 1:]
            ax.plot(x, y, label=label)
            ax.set_title(k)
            ax.set_xlabel(xlabel)
            ax.grid(alpha=0.3)
        if label is not None:
            axes[0].legend()
        plt.tight_layout()
        return axes
