#!/usr/bin/env bash
# Run every test: unit/learning tests, the notebook check (nbval), and notebook hygiene.
# Usage: bash tools/test.sh [extra pytest args]
# PPO_GRPO_LAB_QUICK=1 (the default here) shrinks training budgets in notebooks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/tools/setup_env.sh"
cd "$ROOT"
export PPO_GRPO_LAB_QUICK="${PPO_GRPO_LAB_QUICK:-1}"
export MPLBACKEND=Agg  # headless; figures are not compared
# one torch/BLAS thread per pytest worker (and per notebook kernel): workers already fill the cores
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
JOBS="${PPO_GRPO_LAB_JOBS:-2}"

echo "[test] notebooks are stored without outputs"
nbstripout --verify book/*.ipynb

echo "[test] ruff (pyflakes, import order, docstrings; configured in pyproject.toml)"
ruff check .

echo "[test] unit, property and learning tests"
python -m pytest tests -n "$JOBS" --dist loadfile "$@"

echo "[test] notebooks under nbval (asserts in cells back every numeric claim)"
python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider \
    -n "$JOBS" --dist loadfile book/ "$@"
