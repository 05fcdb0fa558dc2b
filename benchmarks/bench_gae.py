"""GAE speed: the package's fast ``gae`` vs the readable loop ``gae_loop`` vs torchrl (optional).

For each (T, N) the competitors run alternately in the same process on the same random
rollout (2 % terminations, 1 % truncations); we print median milliseconds per call and the
median of the per-round ratios against the loop. Every competitor's result is checked
against ``gae_loop`` first.

    .venv/bin/python benchmarks/bench_gae.py [--sizes 128x8 128x256 2048x8 2048x256] [--repeats 9]

torchrl is optional (``pip install -e '.[bench]' -c constraints.txt``); without it its columns say
"not installed".
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from ppo_grpo_lab.device import resolve_device
from ppo_grpo_lab.gae import gae, gae_loop

GAMMA, LAM = 0.99, 0.95

try:  # optional competitor
    from torchrl.objectives.value.functional import generalized_advantage_estimate as rl_gae
    from torchrl.objectives.value.functional import vec_generalized_advantage_estimate as rl_vec_gae
except Exception as exc:  # noqa: BLE001 - any import problem means "skip it"
    rl_gae = rl_vec_gae = None
    TORCHRL_MISSING = f"torchrl not installed ({type(exc).__name__}); install the bench extra to compare"
else:
    TORCHRL_MISSING = ""


def _rollout(T: int, N: int, device):
    g = torch.Generator().manual_seed(T * 1000 + N)
    r, v, nv = (torch.randn(T, N, generator=g).to(device) for _ in range(3))
    term = (torch.rand(T, N, generator=g) < 0.02).to(device)
    trunc = (torch.rand(T, N, generator=g) < 0.01).to(device) & ~term
    return r, v, nv, term, trunc


def _torchrl_call(fn):
    """Torchrl layout is [*batch, T, F] (time_dim=-2): our [T, N] -> [N, T, 1]."""
    def call(r, v, nv, term, trunc):
        lay = lambda x: x.T.unsqueeze(-1)  # noqa: E731
        adv, _ = fn(GAMMA, LAM, lay(v), lay(nv), lay(r), lay(term | trunc), lay(term))
        return adv.squeeze(-1).T
    return call


def _timed(fn, args, device) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) for one call."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0, c0 = time.perf_counter(), time.thread_time()
    fn(*args)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0, time.thread_time() - c0


def bench(T: int, N: int, repeats: int, device) -> dict:
    args = _rollout(T, N, device)
    ref, _ = gae_loop(*args, gamma=GAMMA, lam=LAM)
    comps = {"loop": lambda *a: gae_loop(*a, gamma=GAMMA, lam=LAM),
             "fast": lambda *a: gae(*a, gamma=GAMMA, lam=LAM)}
    if rl_gae is not None:
        comps["torchrl"] = _torchrl_call(rl_gae)
        comps["torchrl_vec"] = _torchrl_call(rl_vec_gae)
    errors = {}
    for name, fn in comps.items():
        out = fn(*args)
        out = out[0] if isinstance(out, tuple) else out
        errors[name] = (out - ref).abs().max().item()
        assert errors[name] < 1e-3, f"{name} disagrees with gae_loop by {errors[name]}"
        fn(*args)  # warm-up
    times = {name: [] for name in comps}
    cpu = {name: [] for name in comps}
    for _ in range(repeats):
        for name, fn in comps.items():  # alternate competitors inside each round
            wall, cpu_s = _timed(fn, args, device)
            times[name].append(wall)
            cpu[name].append(cpu_s)
    out = {"T": T, "N": N, "errors": errors}
    for name, ts in times.items():
        out[name] = statistics.median(ts) * 1e3
        out[f"ratio_{name}"] = statistics.median(l / t for l, t in zip(times["loop"], ts))
        # CPU-time ratio: robust when other processes share the cores (not meaningful on CUDA)
        out[f"cpu_ratio_{name}"] = statistics.median(l / max(t, 1e-9) for l, t in zip(cpu["loop"], cpu[name]))
    return out


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["128x8", "128x256", "2048x8", "2048x256"])
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"# GAE, γ={GAMMA}, λ={LAM}, device={device}, torch threads={args.threads}, "
          f"median ms of {args.repeats} alternating rounds (speed-up = median of per-round loop/time ratios)")
    if TORCHRL_MISSING:
        print(f"# {TORCHRL_MISSING}")
    print("| T | N | gae_loop (ms) | gae fast (ms) | speed-up (wall / CPU time) | torchrl GAE (ms) | speed-up "
          "| torchrl vec GAE (ms) | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for size in args.sizes:
        T, N = (int(x) for x in size.lower().split("x"))
        r = bench(T, N, args.repeats, device)
        rows.append(r)
        cell = lambda k: (f"{r[k]:.2f} | {r['ratio_' + k]:.1f}x / {r['cpu_ratio_' + k]:.1f}x" if k in r  # noqa: E731
                          else "not installed | -")
        print(f"| {T} | {N} | {r['loop']:.2f} | {cell('fast')} | {cell('torchrl')} | {cell('torchrl_vec')} |",
              flush=True)
    return rows


if __name__ == "__main__":
    main()
