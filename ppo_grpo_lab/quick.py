"""Quick mode: smaller training budgets for CI and fast previews.

Set the environment variable ``PPO_GRPO_LAB_QUICK=1``. Notebooks write
``steps = budget(full=200_000, quick=20_000)`` so the same cell serves the book
(full budget) and CI (quick budget).
"""
from __future__ import annotations

import os

ENV_VAR = "PPO_GRPO_LAB_QUICK"


def quick_mode() -> bool:
    """True when ``PPO_GRPO_LAB_QUICK`` is set to a true value (1/true/yes/on)."""
    return os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def budget(full, quick):
    """Return ``quick`` in quick mode, else ``full``."""
    return quick if quick_mode() else full
