#!/usr/bin/env bash
# Run every benchmark from one command:  bash benchmarks/run_all.sh [--quick]
# 1. sets up .venv (tools/setup_env.sh) and installs the optional `bench` extra
#    (stable-baselines3, torchrl) pinned by constraints.txt;
# 2. env steps/s, GAE speed, then PPO time-to-solve CartPole-v1 (the long one, last).
# Output goes to the terminal and to $BENCH_OUT/*.md (default /tmp/ppo_grpo_lab_bench).
# --quick: fewer repeats and one seed (a smoke run, minutes instead of ~20 min).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source tools/setup_env.sh
echo "[bench] installing the bench extra (stable-baselines3, torchrl) with constraints.txt"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[bench]"

REPEATS=7; SEEDS="1 2 3"
if [ "${1:-}" = "--quick" ]; then REPEATS=3; SEEDS="1"; fi
OUT="${BENCH_OUT:-/tmp/ppo_grpo_lab_bench}"
mkdir -p "$OUT"
PY="$VENV/bin/python"
{ echo "# machine"; lscpu | grep -E "Model name|^CPU\(s\)" || true; "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } | tee "$OUT/machine.txt"

"$PY" benchmarks/bench_env_steps.py --repeats "$REPEATS" | tee "$OUT/env_steps.md"
"$PY" benchmarks/bench_gae.py --repeats "$((REPEATS + 2))" | tee "$OUT/gae.md"
# shellcheck disable=SC2086
"$PY" benchmarks/bench_solve_cartpole.py --seeds $SEEDS | tee "$OUT/solve_cartpole.md"
echo "[bench] done; tables in $OUT"
