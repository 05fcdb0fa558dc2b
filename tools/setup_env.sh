#!/usr/bin/env bash
# Create (or reuse) the local virtual environment .venv and install the package with
# its test and book extras, pinned by constraints.txt. Idempotent: reinstalls only when
# pyproject.toml or constraints.txt changed. Sourced by tools/test.sh and tools/build_book.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PPO_GRPO_LAB_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV"
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
        echo "[setup] 'python3 -m venv' unavailable; falling back to virtualenv"
        "$PY" -m pip install --quiet --user virtualenv
        "$PY" -m virtualenv "$VENV"
    fi
fi

STAMP="$VENV/.ppo_grpo_lab_stamp"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | cksum)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[setup] installing ppo_grpo_lab[test,book] with constraints.txt"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$ROOT/constraints.txt" -e "$ROOT[test,book]"
    "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
    echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
