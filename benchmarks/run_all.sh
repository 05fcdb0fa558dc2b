#!/usr/bin/env bash
# Run every benchmark from one command:  bash benchmarks/run_all.sh [--quick]
# 1. sets up .venv (tools/setup_env.sh) and installs the optional `bench` extra
#    (stable-baselines3, torchrl, trl) pinned by constraints.txt;
# 2. env steps/s, GAE speed, PPO time-to-solve CartPole-v1, GRPO step time vs TRL, the five-task suite vs SB3
#    (the long one, last);
# 3. pastes the tables into benchmarks/README.md (benchmarks/update_readme.py).
# Output goes to the terminal and to $BENCH_OUT/*.md (default /tmp/ppo_grpo_lab_bench).
# --quick: fewer repeats, one seed, a fifth of the suite's budgets (a smoke run). Seeds 11 12 13 were
# not used to pick any setting (the scripts' configs were picked on seeds 1 2 3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source tools/setup_env.sh
echo "[bench] installing the bench extra (stable-baselines3, torchrl, trl) with constraints.txt"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[bench]"

REPEATS=7; SEEDS="11 12 13"; SUITE=""
if [ "${1:-}" = "--quick" ]; then REPEATS=3; SEEDS="11"; SUITE="--scale 0.2"; fi
OUT="${BENCH_OUT:-/tmp/ppo_grpo_lab_bench}"
mkdir -p "$OUT"
PY="$VENV/bin/python"
{ echo "# machine"; lscpu | grep -E "Model name|^CPU\(s\)" || true; "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } | tee "$OUT/machine.txt"

"$PY" benchmarks/bench_env_steps.py --repeats "$REPEATS" --md "$OUT/env_steps.md"
"$PY" benchmarks/bench_gae.py --repeats "$((REPEATS + 2))" | tee "$OUT/gae.txt"
# shellcheck disable=SC2086
"$PY" benchmarks/bench_solve_cartpole.py --seeds $SEEDS --only ours-default ours-gym ours-torch sb3 \
    --md "$OUT/solve_cartpole.md"
# shellcheck disable=SC2086
"$PY" benchmarks/bench_grpo_trl.py --seeds $SEEDS --md "$OUT/grpo_trl.md"
# shellcheck disable=SC2086
"$PY" benchmarks/bench_suite.py --seeds $SEEDS $SUITE --json "$OUT/suite.json" --md "$OUT/suite.md"
"$PY" benchmarks/update_readme.py --dir "$OUT"
echo "[bench] done; tables in $OUT and in benchmarks/README.md"
