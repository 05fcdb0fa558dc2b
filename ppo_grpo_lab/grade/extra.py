"""Private cases an instructor adds from a folder outside the package (``--extra-cases DIR``).

Every ``*.py`` file in the folder is executed (fresh) and may define either or both of

.. code-block:: python

    CASES = {                                  # fixed inputs, by exercise name
        "gae": [
            (rewards, values, next_values, terminated, truncated, 0.99, 0.95),   # a tuple: the arguments
            {"args": (...), "note": "a 200-step episode"},                       # or a dict with a note
        ],
    }

    def cases(gen):                            # seeded inputs: gen is the grading seed's torch.Generator
        return {"kl_k3": [(torch.randn(5, generator=gen).clamp(max=0), torch.zeros(5))]}

The arguments follow the exercise's signature (as in the stub). The expected answer is the
reference's output on those arguments, so only inputs are written; for a loss the
gradient is checked too, as for the built-in cases. Cases run after the hidden ones and
are labelled ``private case k (<file>)``. Files are read in sorted order.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .core import Case
from .sources import load_fresh
from .specs import EXERCISES

__all__ = ["load_extra_cases"]


def _case(name: str, item, label: str) -> Case:
    if isinstance(item, dict):
        if "args" not in item:
            raise ValueError(f"{label}: expected a dict with 'args' (and optionally 'note'), got keys {list(item)}")
        args, note = item["args"], str(item.get("note", ""))
    elif isinstance(item, (tuple, list)):
        args, note = item, ""
    else:
        raise ValueError(f"{label}: expected a tuple of arguments or a dict, got {type(item).__name__}")
    grad_arg = EXERCISES[name].visible()[0].grad_arg  # losses are checked with their gradient
    return Case(label, tuple(args), grad_arg=grad_arg, note=note)


def load_extra_cases(folder: str | Path | None, seed: int) -> dict[str, list[Case]]:
    """Private cases by exercise name from every ``*.py`` file of ``folder`` (None: no extra cases)."""
    if folder is None:
        return {}
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"extra cases: expected a folder of .py files, got {str(folder)!r}")
    out: dict[str, list[Case]] = {}
    for path in sorted(folder.glob("*.py")):
        module = load_fresh(path)
        found = dict(getattr(module, "CASES", {}))
        if callable(getattr(module, "cases", None)):
            for name, items in module.cases(torch.Generator().manual_seed(seed)).items():
                found[name] = list(found.get(name, [])) + list(items)
        for name, items in found.items():
            if name not in EXERCISES:
                raise ValueError(f"extra cases {path.name}: unknown exercise {name!r}; "
                                 f"expected one of {list(EXERCISES)}")
            bucket = out.setdefault(name, [])
            for item in items:
                bucket.append(_case(name, item, f"private case {len(bucket)} ({path.name})"))
    return out
