"""Environment steps per second: torch-vectorised CartPole vs Gymnasium's SyncVectorEnv.

Random actions (drawn before timing). For every env count the competitors run in the same
process, alternating block by block, so background load hits them alike; we print the
median steps/s of each and the median of the per-block speed-up ratios.

    .venv/bin/python benchmarks/bench_env_steps.py [--envs 8 256 1024] [--repeats 7] [--device auto] [--clock auto]

Also shown, as an extra reference: Gymnasium's own numpy-vectorised CartPole
(``gym.make_vec("CartPole-v1", vectorization_mode="vector_entry_point")``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from ppo_grpo_lab.device import resolve_device
from ppo_grpo_lab.envs.torch_cartpole import TorchCartPoleVectorEnv


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _block_time(step, actions, n_steps: int, device=None, clock=time.perf_counter) -> float:
    """Seconds (of ``clock``: wall or CPU) for ``n_steps`` calls of ``step`` (actions[i] for call i)."""
    if device is not None:
        _sync(device)
    t0 = clock()
    for i in range(n_steps):
        step(actions[i])
    if device is not None:
        _sync(device)
    return clock() - t0


def bench(num_envs: int, repeats: int, device: torch.device, budget_steps: int = 20_000,
          clock=time.perf_counter) -> dict:
    """Alternating timing blocks; returns medians of env steps/s and of per-block ratios."""
    # each block covers ~budget_steps env steps for the slow Python envs, more for ours
    k_sync = max(5, budget_steps // num_envs)
    k_torch = max(50, 4 * k_sync)
    rng = np.random.default_rng(0)
    ours = TorchCartPoleVectorEnv(num_envs, device=device, seed=0)
    ours.reset()
    sync = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    sync.reset(seed=0)
    npvec = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    npvec.reset(seed=0)
    a_np = rng.integers(0, 2, size=(max(k_sync, k_torch), num_envs))
    a_t = torch.as_tensor(a_np, device=device)
    for _ in range(2):  # warm-up
        _block_time(ours.step, a_t, 10, device)
        _block_time(sync.step, a_np, 2)
        _block_time(npvec.step, a_np, 10)
    res = {"torch": [], "sync": [], "numpy_vec": []}
    for _ in range(repeats):
        res["torch"].append(num_envs * k_torch / _block_time(ours.step, a_t, k_torch, device, clock))
        res["sync"].append(num_envs * k_sync / _block_time(sync.step, a_np, k_sync, clock=clock))
        res["numpy_vec"].append(num_envs * k_torch / _block_time(npvec.step, a_np, k_torch, clock=clock))
    sync.close()
    npvec.close()
    ratios = [t / s for t, s in zip(res["torch"], res["sync"])]
    ratios_np = [t / s for t, s in zip(res["torch"], res["numpy_vec"])]
    return {"num_envs": num_envs, **{k: statistics.median(v) for k, v in res.items()},
            "ratio_vs_sync": statistics.median(ratios), "ratio_vs_numpy_vec": statistics.median(ratios_np)}


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", type=int, nargs="+", default=[8, 256, 1024])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 = fair to single-threaded Gymnasium)")
    p.add_argument("--clock", choices=["auto", "cpu", "wall"], default="auto",
                   help="auto: CPU time on a CPU, wall time (synchronised) on a GPU")
    p.add_argument("--md", help="write the markdown table here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    # CPU time on the CPU (robust to other jobs on the machine); wall time on a GPU (synchronised)
    wall = args.clock == "wall" or (args.clock == "auto" and device.type == "cuda")
    clock, what = (time.perf_counter, "wall") if wall else (time.process_time, "CPU")
    load0 = os.getloadavg()[0]
    lines = ["| envs | torch-vectorised (ours) | Gymnasium SyncVectorEnv | speed-up vs Sync "
             "| Gymnasium numpy CartPoleVectorEnv | ours vs numpy |", "|---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines))
    rows = []
    for n in args.envs:
        r = bench(n, args.repeats, device, clock=clock)
        rows.append(r)
        lines.append(f"| {n:,} | {r['torch']:,.0f} | {r['sync']:,.0f} | {r['ratio_vs_sync']:.1f}x "
                     f"| {r['numpy_vec']:,.0f} | {r['ratio_vs_numpy_vec']:.2f}x |")
        print(lines[-1], flush=True)
    head = (f"Env steps per {what} second, CartPole-v1, random actions, device {device}, torch threads "
            f"{args.threads}, median of {args.repeats} alternating blocks; load average {load0:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end.")
    print(head)
    if args.md:
        with open(args.md, "w") as f:
            f.write(head + "\n\n" + "\n".join(lines) + "\n")
    return rows


if __name__ == "__main__":
    main()
