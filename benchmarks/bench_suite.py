"""PPO on five standard Gymnasium tasks: ours vs Stable-Baselines3's default PPO, at equal CPU time and env steps.

Tasks (discrete and continuous; classic control, Box2D, MuJoCo): CartPole-v1, Acrobot-v1, Pendulum-v1,
LunarLander-v3 and Hopper-v5, each with a small env-step budget S (``TASKS``: 20k steps for CartPole and
Acrobot, 60k for Pendulum, 25k for LunarLander and Hopper; ``--scale`` multiplies them all). Pendulum gets 3x
the others because at 20k steps neither SB3 nor ours has left the random policy's level (-1270): the
comparison there measured noise.

Competitors, run one after the other in one process for every (task, seed), the order rotating:

- ``sb3``: ``stable_baselines3.PPO("MlpPolicy", env)`` with SB3's defaults (one env, n_steps 2048,
  batch 64, 10 epochs, lr 3e-4, no normalisation), the run a reader gets out of the box;
- ``ours``: what ``PPOTrainer(task)`` uses without a config, ``PPOConfig.for_env(task)``: ``PPOConfig()``'s
  defaults for discrete actions (8 envs x 128 steps, 4 epochs x 4 minibatches, lr 2.5e-3 annealed), and
  ``PPOConfig.sample_efficient(anneal_lr=False)`` for continuous ones (Pendulum, Hopper);
- ``ours-sample``: ``PPOConfig.sample_efficient()``, the package's documented setting for an env that is
  expensive to step (SB3's epochs, minibatches and lr, observation and reward normalisation).

Where both are the same config it runs once and both rows hold that run. JSON files written before
``for_env`` existed ran ``PPOConfig()`` as ``ours`` on every task; ``--merge`` keeps their continuous tasks'
``ours`` runs as ``ours-class`` (``PPOConfig()``), printed in a row of their own (list newer files first:
for each task, budget and seed the first file that has it is used).

Score = mean return of the last 10 training episodes finished before a cut (stochastic policy, the
same measure for all). Two cuts per pair (ours vs sb3):

- **equal env steps**: both cut at the same step count min(S_ours, S_sb3);
- **equal CPU time**: both cut at the same CPU time C = min(CPU_ours, CPU_sb3) (``time.process_time``
  of this process, torch on one thread); our episodes are time-stamped at the end of their update
  (a small handicap for ours), SB3's at the step they end.

Printed ratios: "score ratio" = (ours − random) / (sb3 − random) with the random policy's mean return
over 5 episodes measured in the same run (≥ 1: ours at least as good as SB3), and "CPU ratio" = our CPU
seconds per env step / SB3's. Seeds 11, 12, 13 by default: no setting here was picked on them (the
defaults predate this script; ``sample_efficient`` copies SB3's defaults plus normalisation, not tuned;
Pendulum's 60k budget was chosen from a run on seeds 1 and 2).

    /work/venv-bench/bin/python benchmarks/bench_suite.py [--tasks CartPole-v1 ...] [--seeds 11 12 13]
        [--scale 1.0] [--json out.json] [--md out.md]
    /work/venv-bench/bin/python benchmarks/bench_suite.py --merge a.json b.json [--md out.md]  # one table of
        earlier runs' --json files (one result per task, budget and seed: the first file that has it)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

# env-step budget per task: small enough for a shared 2-core CPU (~25 CPU-minutes for the whole suite, 3 seeds);
# far below what these tasks need to be solved (1e5-1e6 steps): the table compares early learning. Pendulum:
# 60k, where PPO starts to learn it (at 20k every run was within ~10 % of the random policy's return)
TASKS = {"CartPole-v1": 20_000, "Acrobot-v1": 20_000, "Pendulum-v1": 60_000, "LunarLander-v3": 25_000,
         "Hopper-v5": 25_000}
LAST = 10  # episodes in the score
RUNS = ("sb3", "ours", "ours-sample")
OURS = ("ours", "ours-sample", "ours-class")  # rows of the table; ours-class only from old JSON files


def _cpu() -> float:
    return time.process_time()


def _config(name: str, task: str, **fields):
    """The PPOConfig of run ``name``: ``for_env`` defaults for "ours", the sample-efficient preset otherwise."""
    from ppo_grpo_lab.ppo import PPOConfig
    return PPOConfig.for_env(task, **fields) if name == "ours" else PPOConfig.sample_efficient(**fields)


def run_ours(task: str, budget: int, seed: int, name: str) -> dict:
    """Our PPOTrainer (config of run ``name``) to ``budget`` env steps; episodes as (cpu_s, env_step, return)."""
    from ppo_grpo_lab.ppo import PPOTrainer
    c0, w0 = _cpu(), time.perf_counter()
    cfg = _config(name, task, total_timesteps=budget, seed=seed, progress=False, device="cpu")
    trainer = PPOTrainer(task, cfg)
    episodes, seen = [], 0
    while trainer.update < cfg.num_updates:
        trainer.train(num_updates=1)
        now = _cpu() - c0
        if "charts/episode_return" in trainer.history.keys():
            steps, rets = trainer.history.series("charts/episode_return")
            episodes += [(now, int(s), float(r)) for s, r in zip(steps[seen:], rets[seen:])]
            seen = len(steps)
    trainer.env.env.close()
    return {"episodes": episodes, "cpu": _cpu() - c0, "wall": time.perf_counter() - w0, "steps": trainer.global_step}


def run_sb3(task: str, budget: int, seed: int) -> dict:
    """Stable-Baselines3 PPO with its defaults to ``budget`` env steps; episodes as (cpu_s, env_step, return)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    c0, w0 = _cpu(), time.perf_counter()

    class Record(BaseCallback):
        def __init__(self):
            super().__init__()
            self.episodes: list[tuple[float, int, float]] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.episodes.append((_cpu() - c0, self.num_timesteps, float(info["episode"]["r"])))
            return True

    env = make_vec_env(task, n_envs=1, seed=seed)
    model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0)
    cb = Record()
    model.learn(total_timesteps=budget, callback=cb)
    env.close()
    return {"episodes": cb.episodes, "cpu": _cpu() - c0, "wall": time.perf_counter() - w0,
            "steps": model.num_timesteps}


def random_return(task: str, seed: int, episodes: int = 5) -> float:
    env = gym.make(task)
    env.action_space.seed(seed)
    total = []
    for i in range(episodes):
        env.reset(seed=seed * 100 + i)
        ret, done = 0.0, False
        while not done:
            _, r, term, trunc, _ = env.step(env.action_space.sample())
            ret, done = ret + float(r), term or trunc
        total.append(ret)
    env.close()
    return float(np.mean(total))


def score(run: dict, *, cpu: float | None = None, step: int | None = None) -> float:
    """Mean return of the last LAST episodes finished by the cut (NaN if none)."""
    eps = [r for c, s, r in run["episodes"] if (cpu is None or c <= cpu) and (step is None or s <= step)]
    return float(np.mean(eps[-LAST:])) if eps else math.nan


def score_or(run: dict, fallback: float, **cut) -> float:
    """:func:`score`, or ``fallback`` (the random policy's return) when no episode ended before the cut."""
    s = score(run, **cut)
    return fallback if math.isnan(s) else s


def compare(a: dict, b: dict, rand: float) -> dict:
    """Scores of run ``a`` (ours) and ``b`` (sb3) at equal steps and at equal CPU time (a run with no
    episode finished by the cut scores as the random policy).
    """
    step, cpu = min(a["steps"], b["steps"]), min(a["cpu"], b["cpu"])
    return {"steps_cut": step, "cpu_cut": cpu,
            "ours_at_steps": score_or(a, rand, step=step), "sb3_at_steps": score_or(b, rand, step=step),
            "ours_at_cpu": score_or(a, rand, cpu=cpu), "sb3_at_cpu": score_or(b, rand, cpu=cpu),
            "cpu_per_step_ratio": (a["cpu"] / a["steps"]) / (b["cpu"] / b["steps"])}


def _ratio(ours: float, sb3: float, rand: float) -> float:
    """(ours − random) / (SB3 − random); NaN (printed "-") when SB3 is within 5 % of |random| of the random
    policy or below it, where the ratio would only amplify noise.
    """
    return (ours - rand) / (sb3 - rand) if sb3 - rand > 0.05 * abs(rand) else math.nan


def summarise(results: list[dict]) -> list[dict]:
    """One row per (task, budget, our run): means over seeds of the scores, and the ratios of the means."""
    rows = []
    keys = sorted({(r["task"], r["budget"]) for r in results}, key=lambda k: (list(TASKS).index(k[0]), k[1]))
    for task, budget in keys:
        rs = [r for r in results if (r["task"], r["budget"]) == (task, budget)]
        rand = statistics.mean(r["random"] for r in rs)
        for name in (n for n in OURS if all(n in r["compare"] for r in rs)):
            cs = [r["compare"][name] for r in rs]
            m = {k: statistics.mean(c[k] for c in cs) for k in cs[0]}
            rows.append({"task": task, "run": name, "budget": rs[0]["budget"], "random": rand, **m, "seeds": len(rs),
                         "score_ratio_steps": _ratio(m["ours_at_steps"], m["sb3_at_steps"], rand),
                         "score_ratio_cpu": _ratio(m["ours_at_cpu"], m["sb3_at_cpu"], rand),
                         "wins_steps": sum(c["ours_at_steps"] >= c["sb3_at_steps"] for c in cs),
                         "wins_cpu": sum(c["ours_at_cpu"] >= c["sb3_at_cpu"] for c in cs),
                         "cpu_s": {n: statistics.mean(r["runs"][n]["cpu"] for r in rs) for n in ("sb3", name)},
                         "wall_s": {n: statistics.mean(r["runs"][n]["wall"] for r in rs) for n in ("sb3", name)}})
    return rows


def markdown(rows: list[dict], seeds: list[int], load: tuple[float, float], runs: int = 1) -> str:
    where = "at the start, {:.1f} at the end" if runs == 1 else f"to {{:.1f}} (lowest and highest of {runs} merged runs' start and end)"
    out = [f"Seeds {', '.join(map(str, seeds))} (none used to pick settings; the seeds column says how many ran); torch threads 1; load average "
           f"{load[0]:.1f} {where.format(load[1])}. Scores are means over seeds (mean return of the "
           f"last {LAST} training episodes before the cut); wins = seeds where ours ≥ SB3; score ratio = "
           f"(ours − random) / (SB3 − random), '-' where SB3 is not above random.", "",
           "| task (budget, seeds) | ours | random | equal steps: ours / SB3 | score ratio | wins "
           "| equal CPU: ours / SB3 | score ratio | wins | CPU s per step vs SB3 | CPU s ours / SB3 (wall s) |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    fmt = lambda x: "-" if math.isnan(x) else f"{x:.2f}"
    for r in rows:
        n = r["seeds"]
        out.append(f"| {r['task']} ({r['budget'] // 1000}k, {n}) | {r['run']} | {r['random']:.0f} "
                   f"| {r['ours_at_steps']:.0f} / {r['sb3_at_steps']:.0f} | {fmt(r['score_ratio_steps'])} "
                   f"| {r['wins_steps']}/{n} | {r['ours_at_cpu']:.0f} / {r['sb3_at_cpu']:.0f} "
                   f"| {fmt(r['score_ratio_cpu'])} | {r['wins_cpu']}/{n} | {r['cpu_per_step_ratio']:.2f}x "
                   f"| {r['cpu_s'][r['run']]:.0f} / {r['cpu_s']['sb3']:.0f} "
                   f"({r['wall_s'][r['run']]:.0f} / {r['wall_s']['sb3']:.0f}) |")
    return "\n".join(out)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    p.add_argument("--scale", type=float, default=1.0, help="multiply every task's env-step budget")
    p.add_argument("--json", help="write every run's results here")
    p.add_argument("--md", help="write the markdown table here")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="only print the table of earlier runs' --json files")
    args = p.parse_args(argv)
    if args.merge:
        parts = [json.load(open(f)) for f in args.merge]
        kept = {}  # one result per (task, budget, seed): the first file that has it
        for r in (_upgrade(r) for part in parts for r in part["results"]):
            kept.setdefault((r["task"], r["budget"], r["seed"]), r)
        results = list(kept.values())
        loads = [x for part in parts for x in part["load"]]
        return _report(results, sorted({r["seed"] for r in results}), (min(loads), max(loads)), args, len(parts))
    torch.set_num_threads(1)
    load0 = os.getloadavg()[0]
    results = []
    for task in args.tasks:
        budget = max(2048, int(TASKS[task] * args.scale))
        for i, seed in enumerate(args.seeds):
            order = RUNS[i % 3:] + RUNS[:i % 3]
            runs, same = {}, _config("ours", task) == _config("ours-sample", task)
            for name in order:
                if same and name != "sb3" and runs.keys() & {"ours", "ours-sample"}:  # one config, one run
                    runs[name] = runs["ours" if name == "ours-sample" else "ours-sample"]
                    continue
                runs[name] = run_sb3(task, budget, seed) if name == "sb3" else run_ours(task, budget, seed, name)
                print(f"{task} seed {seed} {name:11s} {runs[name]['steps']:>7,} steps, CPU {runs[name]['cpu']:6.1f} s,"
                      f" wall {runs[name]['wall']:6.1f} s, last-{LAST} return {score(runs[name]):8.1f}", flush=True)
            rand = random_return(task, seed)
            results.append({"task": task, "seed": seed, "budget": budget, "random": rand, "runs": runs, "ours": "for_env",
                            "compare": {n: compare(runs[n], runs["sb3"], rand) for n in RUNS[1:]}})
            if args.json:  # after every seed, so that a stopped run keeps what it measured
                with open(args.json, "w") as f:
                    json.dump({"results": results, "load": [load0, os.getloadavg()[0]]}, f)
    return _report(results, args.seeds, (load0, os.getloadavg()[0]), args)


def _upgrade(result: dict) -> dict:
    """A result of a JSON file written before ``for_env`` ("ours" = ``PPOConfig()`` on every task), as the
    script now writes it: on continuous-action tasks the old "ours" run becomes "ours-class", and "ours" is
    the "ours-sample" run only if ``for_env`` picks that same config (otherwise the file has no "ours" run).
    """
    from ppo_grpo_lab.ppo import PPOConfig
    task = result["task"]
    if result.get("ours") == "for_env" or _config("ours", task) == PPOConfig():
        return result
    runs, cmp = dict(result["runs"]), dict(result["compare"])
    runs["ours-class"], cmp["ours-class"] = runs.pop("ours"), cmp.pop("ours")
    if _config("ours", task) == _config("ours-sample", task):
        runs["ours"], cmp["ours"] = runs["ours-sample"], cmp["ours-sample"]
    return {**result, "runs": runs, "compare": cmp, "ours": "for_env"}


def _report(results: list[dict], seeds: list[int], load: tuple[float, float], args, runs: int = 1) -> list[dict]:
    rows = summarise(results)
    md = markdown(rows, seeds, load, runs)
    print("\n" + md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md + "\n")
    return rows


if __name__ == "__main__":
    main()
