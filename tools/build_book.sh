#!/usr/bin/env bash
# Build the book to _build/html, executing every notebook; warnings are errors.
# Usage: bash tools/build_book.sh        (full training budgets)
#        PPO_GRPO_LAB_QUICK=1 bash tools/build_book.sh   (small budgets, as in CI)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/tools/setup_env.sh"
cd "$ROOT"
# Figures must reach the page: notebooks use the inline backend, never a headless override.
unset MPLBACKEND
# --all: re-read every page, so every notebook is executed again against the current package.
# Without it Sphinx skips notebooks whose source did not change and the site keeps outputs
# older than the code (execute_notebooks: force only applies to the notebooks it re-reads).
jupyter-book build . --all -W -n --keep-going "$@"
echo "[book] open $ROOT/_build/html/index.html"
