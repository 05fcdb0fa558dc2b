"""Command line: train PPO or GRPO and keep everything a run produces in one folder.

    python -m ppo_grpo_lab ppo --env CartPole-v1 --out runs/cartpole
    python -m ppo_grpo_lab ppo --env CartPole-v1 --set total_timesteps=20000 --set learning_rate=3e-4 --out runs/x
    python -m ppo_grpo_lab ppo --env CartPole-v1 --config my.json --out runs/x
    python -m ppo_grpo_lab ppo --out runs/x --resume --set total_timesteps=300000   # continue, longer
    python -m ppo_grpo_lab grpo --task addition --out runs/addition

The folder ``--out`` receives ``config.json`` (the resolved configuration), ``metrics.csv``
(:meth:`ppo_grpo_lab.History.to_csv`), ``metrics.png`` (the main curves) and
``checkpoint.pt``, written every ``--checkpoint-every`` updates and at the end, from
which ``--resume`` continues exactly (weights, optimiser state, random streams; raise the budget
with ``--set total_timesteps=...`` or ``--set num_updates=...``). Ctrl-C stops after the current
update and saves; a second Ctrl-C stops at once and keeps the last checkpoint. GRPO starts with a
supervised warm-up (``--sft-steps``, default ``SFTConfig().num_updates``) that gives the policy and
its frozen reference; its summary names the held-out accuracy before and after GRPO and warns when
the collapse watchdog fired. Under ``torchrun`` only rank 0 writes files. ``--tensorboard DIR`` also writes
the metrics (the CSV's names) as TensorBoard event files, ``--wandb PROJECT`` to Weights & Biases.

``--set key=value`` sets one field of the trainer's config dataclass (``PPOConfig`` or
``GRPOConfig``; ``ppo`` starts from ``PPOConfig.for_env(env)``, the defaults for the env's action
space: ``PPOConfig()`` for discrete actions, ``PPOConfig.sample_efficient(anneal_lr=False)`` for Box
actions; values are parsed as JSON where possible: ``3e-4``, ``true``, ``null``,
``[64, 64]``); ``--config`` reads a JSON object of such fields first.

Exit status: 0 success; 1 the run failed (e.g. the loss became NaN) or a trainer is not
installed; 2 bad input (unknown environment or task, unsupported action space, a field
outside its range, a missing checkpoint), reported in one line that names the field;
130 interrupted (a checkpoint is saved first).
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import sys
from typing import Sequence

from .cli_support import (
    StopAfterUpdate,
    Unavailable,
    UsageError,
    accuracy_summary,
    build_config,
    canonical,
    check_device,
    check_env,
    check_loggers,
    fields_epilog,
    open_loggers,
    out_dir,
    parse_overrides,
    progress_bar,
    save_atomic,
    write_outputs,
)

__all__ = ["main", "parse_overrides", "build_config", "UsageError"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _drive(trainer, total: int, done, args, ckpt, desc: str, postfix=None, loggers=()) -> int:
    """Train one update at a time up to ``total`` with a bar and a checkpoint every ``--checkpoint-every``
    updates and at the end (rank 0 writes); ``done()`` reads the trainer's update count. Returns the status.
    """
    rank0 = trainer.rank == 0
    every = args.checkpoint_every or max(1, total // 10)
    bar = progress_bar(total, done(), desc, not args.no_progress and rank0)
    status, stop = EXIT_OK, StopAfterUpdate()
    try:
        with stop:
            while done() < total and not stop.requested:
                trainer.train(num_updates=1)
                bar.update(1)
                if postfix is not None:
                    bar.set_postfix(**postfix())
                if rank0 and done() % every == 0 and done() < total:
                    save_atomic(trainer.save, ckpt)
    except KeyboardInterrupt:  # a second Ctrl-C: stop now, keep the last checkpoint (taken between updates)
        status = EXIT_INTERRUPTED
    finally:
        bar.close()
        for logger in loggers:  # --tensorboard, --wandb
            logger.close()
    if stop.requested:
        status = EXIT_INTERRUPTED
    if rank0 and not (status == EXIT_INTERRUPTED and not stop.requested):
        save_atomic(trainer.save, ckpt)  # between two updates: --resume continues exactly
    return status


def _resume_overrides(out, args, overrides, key: str, resumable: Sequence[str]) -> dict:
    """The saved ``config.json`` of the run in ``out``; refuses a different ``--env``/``--task`` and
    fields that cannot change on ``--resume``.
    """
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    given = getattr(args, key)
    if given not in (None, saved[key]):
        raise UsageError(f"--{key}: the run in {out} used {saved[key]!r}, got {given!r}; start a new run instead")
    fixed = [k for k in overrides if k not in resumable]
    if fixed or args.config:
        raise UsageError(f"--set {', '.join(fixed) or '--config'}: cannot change on --resume (only "
                         f"{', '.join(resumable)}); start a new run to change it")
    return saved


def _write_config(out, trainer, record: dict) -> None:
    if trainer.rank == 0:
        (out / "config.json").write_text(json.dumps(record, indent=2), encoding="utf-8")


PPO_PLOTS = ("charts/episode_return", "loss/policy", "loss/value", "stats/entropy", "stats/approx_kl", "stats/clip_frac")
PPO_RESUMABLE = ("total_timesteps", "device")


def _box_defaults() -> str:
    """For ``ppo --help``: the fields where an env with Box actions starts elsewhere (``PPOConfig.for_env``)."""
    try:
        import gymnasium as gym

        from .ppo import PPOConfig
    except ImportError:
        return ""
    base, box = PPOConfig().to_dict(), PPOConfig.for_env(gym.spaces.Box(-1.0, 1.0, (1,))).to_dict()
    changed = ", ".join(f"{k}={v!r}" for k, v in box.items() if base[k] != v)
    return (f"\n  These are the defaults for discrete actions; an env with Box actions starts from\n"
            f"  PPOConfig.for_env(env), which changes: {changed}.")


def _run_ppo(args) -> int:
    try:
        from .ppo import PPOConfig, PPOTrainer
    except ImportError as exc:
        raise Unavailable(f"ppo: the PPO trainer (ppo_grpo_lab.ppo) is not available in this installation: {exc}") from None
    out = out_dir(args)
    ckpt = out / "checkpoint.pt"
    overrides = canonical(PPOConfig, parse_overrides(args.set))
    overrides.pop("progress", None)  # the command draws its own bar
    if args.resume:
        saved = _resume_overrides(out, args, overrides, "env", PPO_RESUMABLE)
        env_id = saved["env"]
        cfg = build_config(PPOConfig, None, overrides, base={**saved["config"], "progress": False})
        trainer = PPOTrainer.load(str(ckpt), **{k: getattr(cfg, k) for k in (*overrides, "progress")})
    else:
        if args.env is None:
            raise UsageError("--env: expected a Gymnasium env id such as CartPole-v1, got nothing")
        env_id = args.env
        check_env(env_id)
        auto = PPOConfig.for_env(env_id).to_dict()  # the defaults for the env's action space
        cfg = build_config(PPOConfig, args.config, overrides, base={**auto, "progress": False})
        check_device(cfg.device)
        try:
            trainer = PPOTrainer(env_id, cfg)
        except ValueError as exc:  # the message names the field (env, device, ...)
            raise UsageError(str(exc)) from None
    record = {"command": "ppo", "env": env_id, "config": trainer.config.to_dict()}
    _write_config(out, trainer, record)
    K = trainer.config.num_updates

    def postfix():
        ret = trainer.mean_return(20)
        return {"ret20": f"{ret:.1f}", "step": trainer.global_step} if ret == ret else {}

    status = _drive(trainer, K, lambda: trainer.update, args, ckpt, f"PPO {env_id}", postfix,
                    open_loggers(trainer, args, record))
    if trainer.rank != 0:
        return status
    files = write_outputs(out, trainer.history, PPO_PLOTS, f"PPO on {env_id}")
    ret = trainer.mean_return(20)
    summary = f"mean return of the last 20 episodes {ret:.1f}" if ret == ret else "no episode finished yet"
    print(f"PPO on {env_id}: {trainer.update}/{K} updates, {trainer.global_step} environment steps, {summary}")
    print(f"wrote {out}/: config.json, {', '.join(files)}, checkpoint.pt"
          + ("" if status == EXIT_OK else " (interrupted: continue with --resume)"))
    return status


GRPO_TASKS = ("addition", "countdown")
GRPO_PLOTS = ("reward/mean", "eval/accuracy", "reward/accuracy", "stats/zero_std_frac", "stats/kl_ref",
              "stats/entropy")
GRPO_RESUMABLE = ("num_updates", "device", "eval_every")


def _make_task(name: str):
    from .llm import AdditionTask, CountdownTask

    if name not in GRPO_TASKS:
        close = difflib.get_close_matches(name, GRPO_TASKS, n=1)
        raise UsageError(f"--task: expected one of {list(GRPO_TASKS)}, got {name!r}"
                         + (f" (did you mean {close[0]}?)" if close else ""))
    return AdditionTask() if name == "addition" else CountdownTask()


def _run_grpo(args) -> int:
    try:
        from .llm import CharTokenizer, GRPOConfig, GRPOTrainer, SFTConfig
    except ImportError as exc:
        raise Unavailable(f"grpo: the GRPO trainer (ppo_grpo_lab.llm) is not available in this installation: {exc}") from None
    if args.sft_steps is not None and args.sft_steps < 1:
        raise UsageError(f"--sft-steps: expected an integer >= 1, got {args.sft_steps}")
    out = out_dir(args)
    ckpt = out / "checkpoint.pt"
    overrides = canonical(GRPOConfig, parse_overrides(args.set))
    overrides.pop("progress", None)
    if args.resume:
        task_name = _resume_overrides(out, args, overrides, "task", GRPO_RESUMABLE)["task"]
        cfg = None
    else:
        if args.task is None:
            raise UsageError(f"--task: expected one of {list(GRPO_TASKS)}, got nothing")
        task_name = args.task
        cfg = build_config(GRPOConfig, args.config, overrides, base={"progress": False})
        check_device(cfg.device)
    task, tok = _make_task(task_name), CharTokenizer()
    eval_problems = task.eval_set()
    if args.resume:
        if "device" in overrides:
            check_device(overrides["device"])
        try:
            trainer = GRPOTrainer.load(str(ckpt), task, tok, eval_problems, **{**overrides, "progress": False})
        except ValueError as exc:
            raise UsageError(f"--resume: {exc}") from None
    else:
        sft = SFTConfig(num_updates=args.sft_steps or SFTConfig().num_updates, seed=cfg.seed, device=cfg.device,
                        progress=not args.no_progress)
        trainer = GRPOTrainer.from_sft(task, tok, sft, cfg, eval_problems=eval_problems)
    record = {"command": "grpo", "task": task_name, "config": trainer.config.to_dict(),
              "model_config": dataclasses.asdict(trainer.policy.cfg)}
    _write_config(out, trainer, record)
    K = trainer.config.num_updates
    status = _drive(trainer, K, lambda: trainer.step, args, ckpt, f"GRPO {task_name}",
                    lambda: {"reward": f"{trainer.history.last('reward/mean'):.2f}"}, open_loggers(trainer, args, record))
    if trainer.rank != 0:
        return status
    files = write_outputs(out, trainer.history, GRPO_PLOTS, f"GRPO on {task_name}")
    print(f"GRPO on {task_name}: {trainer.step}/{K} updates, {accuracy_summary(trainer.history)}")
    if trainer.collapse_message:
        print(f"warning: {trainer.collapse_message}")
    print(f"wrote {out}/: config.json, {', '.join(files)}, checkpoint.pt"
          + ("" if status == EXIT_OK else " (interrupted: continue with --resume)"))
    return status


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m ppo_grpo_lab", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Run 'python -m ppo_grpo_lab ppo --help' for the options of one command.")
    sub = ap.add_subparsers(dest="command", metavar="{ppo,grpo}")
    sub.required = True

    def common(p):
        p.add_argument("--out", required=True, help="output folder (config.json, metrics.csv, metrics.png, checkpoint.pt)")
        p.add_argument("--config", help="JSON file with config fields")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="set one config field (repeatable), e.g. --set learning_rate=3e-4")
        p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
        p.add_argument("--overwrite", action="store_true", help="start again even if --out holds a run")
        p.add_argument("--checkpoint-every", type=int, default=0, metavar="K",
                       help="save a checkpoint every K updates (default: about 10 per run)")
        p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        p.add_argument("--tensorboard", metavar="DIR", help="also log the metrics to TensorBoard event files in DIR")
        p.add_argument("--wandb", metavar="PROJECT", help="also log the metrics to a Weights & Biases project")

    p = sub.add_parser("ppo", help="PPO on a Gymnasium environment (PPOConfig fields via --set)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=fields_epilog("ppo_grpo_lab.ppo", "PPOConfig") + _box_defaults())
    p.add_argument("--env", default=None, help="Gymnasium env id, e.g. CartPole-v1 (default with --resume: the saved one)")
    common(p)
    p.set_defaults(func=_run_ppo)

    g = sub.add_parser("grpo", help="GRPO on a toy language-model task (GRPOConfig fields via --set)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=fields_epilog("ppo_grpo_lab.llm", "GRPOConfig"))
    g.add_argument("--task", default=None, help="task: addition or countdown (default with --resume: the saved one)")
    g.add_argument("--sft-steps", type=int, default=None,
                   help="supervised warm-up steps before GRPO (default: SFTConfig().num_updates)")
    common(g)
    g.set_defaults(func=_run_grpo)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ppo_grpo_lab``; returns the exit status."""
    args = _parser().parse_args(argv)  # argparse itself exits with 2 on malformed flags
    try:
        if args.checkpoint_every < 0:
            raise UsageError(f"--checkpoint-every: expected an integer >= 0, got {args.checkpoint_every}")
        check_loggers(args)
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Unavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except FloatingPointError as exc:
        print(f"error: training failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
