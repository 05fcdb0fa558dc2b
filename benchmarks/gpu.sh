#!/usr/bin/env bash
# GPU checks in one script, for whichever session is lent a GPU (budget: about 5 minutes).
#
#   bash benchmarks/gpu.sh [OUT_DIR]        (default OUT_DIR: /tmp/ppo_grpo_lab_gpu)
#
# 1. the CUDA tests (the tests that skip without a GPU, and device="cuda" runs of the trainers);
# 2. torch CartPole env steps/s at 1k-64k envs on the GPU vs Gymnasium's numpy-vectorised CartPole;
# 3. GAE speed on the GPU;
# 4. PPO on the torch CartPole on the GPU: environment steps and seconds to a 20-episode mean of 475;
# 5. GRPO steps/s on the toy language model on the GPU.
# Writes OUT_DIR/gpu.md (a table per part) and OUT_DIR/gpu.log. Needs a Python with a CUDA build of
# torch plus gymnasium, numpy, pytest (PYTHON, default python3); the package is taken from this
# checkout (PYTHONPATH), nothing is installed. Exits 2 at once when no CUDA device is visible.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-/tmp/ppo_grpo_lab_gpu}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
cd "$ROOT"
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "[gpu] no CUDA device visible to $PY: nothing to measure"; exit 2
fi
MD="$OUT/gpu.md"
{
    echo "# GPU checks ($(date -u +%Y-%m-%dT%H:%MZ))"
    "$PY" -c "import torch; print('torch', torch.__version__, '| device', torch.cuda.get_device_name(0))"
} | tee "$MD"
status=0
step() {  # step TITLE TIMEOUT_S CMD...: run with a time limit, keep going on failure
    local title="$1" limit="$2"; shift 2
    echo -e "\n## $title\n" | tee -a "$MD"
    timeout "$limit" "$@" 2>>"$OUT/gpu.log" | tee -a "$MD" || { echo "(failed or timed out: see gpu.log)" | tee -a "$MD"; status=1; }
}
step "CUDA tests" 120 "$PY" -m pytest -q -p no:cacheprovider tests/test_gae_fast.py tests/test_torch_cartpole.py \
    tests/test_bad_inputs.py -k "cuda or device"
step "Env steps/s (torch CartPole on the GPU)" 60 "$PY" benchmarks/bench_env_steps.py --device cuda \
    --envs 1024 4096 16384 65536 --repeats 3
step "GAE" 40 "$PY" benchmarks/bench_gae.py --device cuda --repeats 5
step "PPO on the torch CartPole (GPU)" 90 "$PY" - <<'PY'
import time, torch
from ppo_grpo_lab.envs import TorchCartPoleVectorEnv
from ppo_grpo_lab.ppo import PPOConfig, PPOTrainer
for n in (64, 1024):
    cfg = PPOConfig(num_envs=n, num_steps=32 if n > 64 else 128, total_timesteps=400_000, device="cuda", progress=False, seed=11)
    tr = PPOTrainer(TorchCartPoleVectorEnv(n, device="cuda"), cfg)
    t0, solved = time.perf_counter(), None
    while tr.update < cfg.num_updates:
        tr.train(num_updates=1)
        if tr.mean_return(20) >= 475:
            solved = tr.global_step
            break
    torch.cuda.synchronize()
    print(f"| {n} envs | solved at {solved} env steps | {time.perf_counter() - t0:.1f} s |")
PY
step "GRPO steps/s (toy LM, GPU)" 60 "$PY" - <<'PY'
import time, torch
from ppo_grpo_lab.llm import AdditionTask, CharTokenizer, GRPOConfig, GRPOTrainer, SFTConfig
task, tok = AdditionTask(), CharTokenizer()
tr = GRPOTrainer.from_sft(task, tok, SFTConfig(num_updates=200, device="cuda", progress=False),
                          GRPOConfig(num_updates=30, device="cuda", progress=False, eval_every=0))
tr.train(num_updates=5)  # warm-up
torch.cuda.synchronize(); t0 = time.perf_counter()
tr.train(num_updates=25)
torch.cuda.synchronize()
print(f"| GRPO, 128 answers per step | {25 / (time.perf_counter() - t0):.1f} steps/s |")
PY
echo -e "\n[gpu] tables in $MD, errors in $OUT/gpu.log" | tee -a "$MD"
exit $status
