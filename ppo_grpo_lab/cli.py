"""Command line: train PPO or GRPO and keep everything a run produces in one folder.

    python -m ppo_grpo_lab ppo --env CartPole-v1 --out runs/cartpole
    python -m ppo_grpo_lab ppo --env CartPole-v1 --set total_timesteps=20000 --set learning_rate=3e-4 --out runs/x
    python -m ppo_grpo_lab ppo --env CartPole-v1 --config my.json --out runs/x
    python -m ppo_grpo_lab ppo --out runs/x --resume --set total_timesteps=300000   # continue, longer
    python -m ppo_grpo_lab grpo --task addition --out runs/addition

The folder ``--out`` receives ``config.json`` (the resolved configuration), ``metrics.csv``
(:meth:`ppo_grpo_lab.History.to_csv`), ``metrics.png`` (the main curves) and
``checkpoint.pt``, written every ``--checkpoint-every`` updates and at the end, from
which ``--resume`` continues. For PPO, Ctrl-C stops after the current update and saves
(exact resume); a second Ctrl-C stops at once and keeps the last checkpoint.

``--set key=value`` sets one field of the trainer's config dataclass (``PPOConfig`` or
``GRPOConfig``; values are parsed as JSON where possible: ``3e-4``, ``true``, ``null``,
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
from pathlib import Path
from typing import Any, Sequence

__all__ = ["main", "parse_overrides", "build_config", "UsageError"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(ValueError):
    """Bad input from the user: printed as one line, exit status 2."""


class Unavailable(RuntimeError):
    """A trainer this command needs is not part of the installed package (exit status 1)."""


# ----------------------------------------------------------------------------- configs

def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.strip().lower()
        if low in ("true", "yes", "on"):
            return True
        if low in ("false", "no", "off"):
            return False
        if low in ("none", "null"):
            return None
        return text


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["lr=3e-4", "norm_adv=false"]`` → ``{"lr": 0.0003, "norm_adv": False}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set: expected key=value, got {item!r}")
        out[key.strip()] = _parse_value(value.strip())
    return out


def _coerce(name: str, value: Any, annotation: str) -> Any:
    """Make JSON values fit the field's annotation (1e5 → 100000 for ints, [64, 64] → (64, 64))."""
    ann = str(annotation).replace(" ", "")
    if value is None:
        return value
    if ann.startswith("int") and isinstance(value, float) and value.is_integer():
        return int(value)
    if ann.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if ann.startswith("tuple"):
        if isinstance(value, str):
            try:
                value = [int(v) for v in value.split(",") if v.strip()]
            except ValueError:
                raise UsageError(f"{name}: expected comma-separated integers such as 64,64, got {value!r}") from None
        if isinstance(value, list):
            return tuple(value)
    return value


def build_config(cls, file: str | None, overrides: dict[str, Any], base: dict[str, Any] | None = None):
    """``cls(**{base, file, overrides})``; unknown fields and invalid values raise :class:`UsageError`."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = dict(base or {})
    sources: list[tuple[str, dict]] = []
    if file is not None:
        try:
            data = json.loads(Path(file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"--config: file not found: {file}") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"--config: expected a JSON object of {cls.__name__} fields in {file}: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"--config: expected a JSON object of {cls.__name__} fields, got {type(data).__name__}")
        sources.append(("--config", data))
    sources.append(("--set", overrides))
    for where, data in sources:
        for key, value in data.items():
            if key not in fields:
                close = difflib.get_close_matches(key, fields, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise UsageError(f"{where}: {key!r} is not a {cls.__name__} field{hint}; "
                                 f"fields: {', '.join(fields)}")
            values[key] = _coerce(key, value, fields[key].type)
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{cls.__name__}: {exc}") from None


# ----------------------------------------------------------------------------- output

def _out_dir(args) -> Path:
    out = Path(args.out)
    ckpt = out / "checkpoint.pt"
    if args.resume:
        if not ckpt.is_file():
            raise UsageError(f"--resume: expected a checkpoint at {ckpt}, found none; run without --resume first")
    elif ckpt.is_file() and not args.overwrite:
        raise UsageError(f"--out: {out} already holds a run ({ckpt.name}); pass --resume to continue it "
                         "or --overwrite to start again")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: expected a folder, got the file {out}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_outputs(out: Path, history, keys: Sequence[str], title: str) -> list[str]:
    """metrics.csv and metrics.png (the keys that were logged); returns the file names written."""
    history.to_csv(str(out / "metrics.csv"))
    written = ["metrics.csv"]
    present = [k for k in keys if k in history.keys()]
    if present:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt

        axes = history.plot(present, smooth=1)
        axes[0].figure.suptitle(title)
        axes[0].figure.tight_layout()
        axes[0].figure.savefig(out / "metrics.png", dpi=100)
        plt.close(axes[0].figure)
        written.append("metrics.png")
    return written


def _progress(total: int, initial: int, desc: str, enabled: bool):
    from .progress import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="update", disable=not enabled, file=sys.stderr)


# ----------------------------------------------------------------------------- commands

def _save_atomic(save, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    save(str(tmp))
    tmp.replace(path)


class _StopAfterUpdate:
    """Context manager: the first Ctrl-C asks the loop to stop after the current update (so the
    checkpoint is taken between updates and ``--resume`` continues exactly); a second one interrupts."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this update and saving a checkpoint (Ctrl-C again to stop at once)",
              file=sys.stderr, flush=True)

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        import signal

        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def check_env(env_id: str) -> None:
    """Raise :class:`UsageError` unless ``env_id`` is a registered env whose spaces PPO supports."""
    import gymnasium as gym

    from . import envs  # noqa: F401  (registers ppo_grpo_lab/... ids)
    from .ppo.agent import check_spaces

    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; e.g. CartPole-v1, Acrobot-v1, Pendulum-v1"
        raise UsageError(f"--env: {env_id!r} is not a registered Gymnasium environment{hint}")
    try:
        env = gym.make(env_id)
    except Exception as exc:  # missing optional dependency (box2d, mujoco...), bad kwargs
        raise UsageError(f"--env: {env_id} could not be created: {type(exc).__name__}: {exc}") from None
    try:
        check_spaces(env.observation_space, env.action_space)
    except ValueError as exc:
        raise UsageError(f"--env {env_id}: {exc}") from None
    finally:
        env.close()


def _check_device(device: str) -> None:
    from .device import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


PPO_PLOTS = ("charts/episode_return", "loss/policy", "loss/value", "stats/entropy", "stats/approx_kl", "stats/clip_frac")
PPO_RESUMABLE = ("total_timesteps", "device")


def _run_ppo(args) -> int:
    try:
        from .ppo import PPOConfig, PPOTrainer
    except ImportError as exc:
        raise Unavailable(f"ppo: the PPO trainer (ppo_grpo_lab.ppo) is not available in this installation: {exc}") from None
    out = _out_dir(args)
    ckpt = out / "checkpoint.pt"
    overrides = parse_overrides(args.set)
    overrides.pop("progress", None)  # the command draws its own bar
    if args.resume:
        saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
        env_id = saved["env"]
        if args.env not in (None, env_id):
            raise UsageError(f"--env: the run in {out} used {env_id!r}, got {args.env!r}; start a new run instead")
        fixed = [k for k in overrides if k not in PPO_RESUMABLE]
        if fixed or args.config:
            raise UsageError(f"--set {', '.join(fixed) or '--config'}: cannot change on --resume (only "
                             f"{', '.join(PPO_RESUMABLE)}); start a new run to change it")
        cfg = build_config(PPOConfig, None, overrides, base={**saved["config"], "progress": False})
        trainer = PPOTrainer.load(str(ckpt), **{k: getattr(cfg, k) for k in (*overrides, "progress")})
    else:
        if args.env is None:
            raise UsageError("--env: expected a Gymnasium env id such as CartPole-v1, got nothing")
        env_id = args.env
        cfg = build_config(PPOConfig, args.config, overrides, base={"progress": False})
        check_env(env_id)
        _check_device(cfg.device)
        try:
            trainer = PPOTrainer(env_id, cfg)
        except ValueError as exc:  # the message names the field (env, device, ...)
            raise UsageError(str(exc)) from None
    (out / "config.json").write_text(json.dumps({"command": "ppo", "env": env_id, "config": trainer.config.to_dict()},
                                                indent=2), encoding="utf-8")
    K = trainer.config.num_updates
    every = args.checkpoint_every or max(1, K // 10)
    bar = _progress(K, trainer.update, f"PPO {env_id}", not args.no_progress)
    status, stop = EXIT_OK, _StopAfterUpdate()
    try:
        with stop:
            while trainer.update < K and not stop.requested:
                trainer.train(num_updates=1)
                bar.update(1)
                ret = trainer.mean_return(20)
                if ret == ret:  # not NaN
                    bar.set_postfix(ret20=f"{ret:.1f}", step=trainer.global_step)
                if trainer.update % every == 0 and trainer.update < K:
                    _save_atomic(trainer.save, ckpt)
    except KeyboardInterrupt:  # a second Ctrl-C: stop now, keep the last checkpoint (taken between updates)
        status = EXIT_INTERRUPTED
    finally:
        bar.close()
    if stop.requested:
        status = EXIT_INTERRUPTED
    if not (status == EXIT_INTERRUPTED and not stop.requested):
        _save_atomic(trainer.save, ckpt)  # between two updates: --resume continues exactly
    files = write_outputs(out, trainer.history, PPO_PLOTS, f"PPO on {env_id}")
    ret = trainer.mean_return(20)
    summary = f"mean return of the last 20 episodes {ret:.1f}" if ret == ret else "no episode finished yet"
    print(f"PPO on {env_id}: {trainer.update}/{K} updates, {trainer.global_step} environment steps, {summary}")
    print(f"wrote {out}/: config.json, {', '.join(files)}, checkpoint.pt"
          + ("" if status == EXIT_OK else " (interrupted: continue with --resume)"))
    return status


GRPO_TASKS = ("addition", "countdown")
GRPO_PLOTS = ("reward/mean", "eval/accuracy", "reward/accuracy", "stats/zero_std_frac", "completion/length",
              "stats/entropy")


def _make_task(name: str):
    from .llm import AdditionTask, CountdownTask

    if name not in GRPO_TASKS:
        close = difflib.get_close_matches(name, GRPO_TASKS, n=1)
        raise UsageError(f"--task: expected one of {list(GRPO_TASKS)}, got {name!r}"
                         + (f" (did you mean {close[0]}?)" if close else ""))
    return AdditionTask() if name == "addition" else CountdownTask()


def _run_grpo(args) -> int:
    try:
        import torch

        from .history import History
        from .llm import CharTokenizer, GPTConfig, GRPOConfig, SFTConfig, TinyGPT, train_grpo, train_sft
    except ImportError as exc:
        raise Unavailable(f"grpo: the GRPO trainer (ppo_grpo_lab.llm) is not available in this installation: {exc}") from None
    if args.sft_steps is not None and args.sft_steps < 1:
        raise UsageError(f"--sft-steps: expected an integer >= 1, got {args.sft_steps}")
    out = _out_dir(args)
    ckpt = out / "checkpoint.pt"
    overrides = parse_overrides(args.set)
    overrides.pop("progress", None)
    progress = not args.no_progress
    if args.resume:
        saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
        task_name = saved["task"]
        if args.task not in (None, task_name):
            raise UsageError(f"--task: the run in {out} used {task_name!r}, got {args.task!r}; start a new run instead")
        cfg = build_config(GRPOConfig, args.config, overrides, base={**saved["config"], "progress": progress})
    else:
        if args.task is None:
            raise UsageError(f"--task: expected one of {list(GRPO_TASKS)}, got nothing")
        task_name = args.task
        cfg = build_config(GRPOConfig, args.config, overrides, base={"progress": progress})
    _check_device(cfg.device)
    task, tok = _make_task(task_name), CharTokenizer()
    eval_problems = task.eval_set()
    if args.resume:
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        model_cfg = GPTConfig(**state["model_config"])
        policy, ref = TinyGPT(model_cfg), TinyGPT(model_cfg)
        policy.load_state_dict(state["policy"])
        ref.load_state_dict(state["ref"])
        history, done = History(records=[dict(r) for r in state["history"]]), state["steps_done"]
    else:
        model_cfg = GPTConfig(vocab_size=tok.vocab_size)
        sft = SFTConfig(steps=args.sft_steps or SFTConfig.steps, seed=cfg.seed, device=cfg.device, progress=progress)
        policy, sft_hist = train_sft(task, tok, model_cfg, sft, eval_problems)
        ref = TinyGPT(model_cfg)
        ref.load_state_dict(policy.state_dict())
        history = History(records=[{"step": 0, "sft/final_loss": sft_hist.last("loss/sft")}])
        done = 0
    (out / "config.json").write_text(json.dumps({"command": "grpo", "task": task_name,
                                                 "config": dataclasses.asdict(cfg),
                                                 "model_config": dataclasses.asdict(model_cfg)}, indent=2),
                                     encoding="utf-8")

    def save(path: str) -> None:
        torch.save({"policy": policy.state_dict(), "ref": ref.state_dict(), "model_config": dataclasses.asdict(model_cfg),
                    "history": history.records, "steps_done": done, "task": task_name}, path)

    status = EXIT_OK
    try:  # one GRPO phase of cfg.steps steps; a resumed run adds another phase (Adam restarts)
        phase = train_grpo(policy, ref, task, tok, dataclasses.replace(cfg, seed=cfg.seed + done), eval_problems)
        for rec in phase.records:
            history.records.append({**rec, "step": rec["step"] + done})
        done += cfg.steps
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    _save_atomic(save, ckpt)
    files = write_outputs(out, history, GRPO_PLOTS, f"GRPO on {task_name}")
    acc = (f"held-out greedy accuracy {history.last('eval/accuracy'):.3f}" if "eval/accuracy" in history.keys()
           else "not evaluated (eval_every=0)")
    print(f"GRPO on {task_name}: {done} steps, {acc}")
    print(f"wrote {out}/: config.json, {', '.join(files)}, checkpoint.pt"
          + ("" if status == EXIT_OK else " (interrupted: the policy so far is saved; --resume runs a new phase)"))
    return status


def _fields_epilog(module: str, name: str) -> str:
    """``--set`` fields of a config dataclass with their defaults, for ``--help``."""
    import importlib
    import textwrap

    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return f"{name} is not available in this installation."
    items = [f"{f.name}={f.default!r}" for f in dataclasses.fields(cls) if f.name != "progress"]
    body = textwrap.fill(", ".join(items), width=100, initial_indent="  ", subsequent_indent="  ")
    return f"{name} fields for --set / --config (defaults; ranges in the API reference):\n{body}"


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

    p = sub.add_parser("ppo", help="PPO on a Gymnasium environment (PPOConfig fields via --set)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=_fields_epilog("ppo_grpo_lab.ppo", "PPOConfig"))
    p.add_argument("--env", default=None, help="Gymnasium env id, e.g. CartPole-v1 (default with --resume: the saved one)")
    common(p)
    p.set_defaults(func=_run_ppo)

    g = sub.add_parser("grpo", help="GRPO on a toy language-model task (GRPOConfig fields via --set)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=_fields_epilog("ppo_grpo_lab.llm", "GRPOConfig"))
    g.add_argument("--task", default=None, help="task: addition or countdown (default with --resume: the saved one)")
    g.add_argument("--sft-steps", type=int, default=None, help="supervised warm-up steps before GRPO (default 600)")
    common(g)
    g.set_defaults(func=_run_grpo)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ppo_grpo_lab``; returns the exit status."""
    args = _parser().parse_args(argv)  # argparse itself exits with 2 on malformed flags
    try:
        if args.checkpoint_every < 0:
            raise UsageError(f"--checkpoint-every: expected an integer >= 0, got {args.checkpoint_every}")
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
