"""Helpers of the command line (:mod:`ppo_grpo_lab.cli`): config files and ``--set`` overrides, the
output folder, plots, checkpoints written atomically, a Ctrl-C that stops between updates.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from .config import rename_deprecated

__all__ = ["UsageError", "check_env", "accuracy_summary", "Unavailable", "parse_overrides", "build_config", "out_dir", "write_outputs",
           "save_atomic", "StopAfterUpdate", "progress_bar", "canonical", "check_device", "fields_epilog",
           "check_loggers", "open_loggers"]


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


def canonical(cls, overrides: dict[str, Any]) -> dict[str, Any]:
    """Rename deprecated field names (``cls.ALIASES``, e.g. ``lr`` → ``learning_rate``), with a warning on stderr."""
    return rename_deprecated(cls, overrides, lambda message: print(f"warning: {message}", file=sys.stderr))


def build_config(cls, file: str | None, overrides: dict[str, Any], base: dict[str, Any] | None = None):
    """``cls(**{base, file, overrides})``; unknown fields and invalid values raise :class:`UsageError`.
    Deprecated names (``cls.ALIASES``) are accepted with a warning.
    """
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
        data = canonical(cls, dict(data))
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

def out_dir(args) -> Path:
    """The run folder ``--out``, created; refuses to overwrite a run unless ``--resume``/``--overwrite``."""
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


def progress_bar(total: int, initial: int, desc: str, enabled: bool):
    """A progress bar on stderr counting updates."""
    from .progress import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="update", disable=not enabled, file=sys.stderr)


# ----------------------------------------------------------------------------- checkpoints, Ctrl-C

def save_atomic(save, path: Path) -> None:
    """Call ``save(tmp)`` then rename to ``path``: a crash never leaves half a checkpoint."""
    tmp = path.with_suffix(".tmp")
    save(str(tmp))
    tmp.replace(path)


class StopAfterUpdate:
    """Context manager: the first Ctrl-C asks the loop to stop after the current update (so the
    checkpoint is taken between updates and ``--resume`` continues exactly); a second one interrupts.
    """

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


def check_device(device: str) -> None:
    """Raise :class:`UsageError` unless ``device`` names an available device."""
    from .device import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def fields_epilog(module: str, name: str) -> str:
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


# ----------------------------------------------------------------------------- TensorBoard, W&B

def check_loggers(args) -> None:
    """Raise :class:`Unavailable` before any training when ``--tensorboard``/``--wandb`` lack their package."""
    import importlib.util

    for flag, module, pip in (("tensorboard", "tensorboard", "tensorboard"), ("wandb", "wandb", "wandb")):
        if getattr(args, flag, None) and importlib.util.find_spec(module) is None:
            raise Unavailable(f"--{flag}: needs the '{pip}' package: pip install {pip}"
                              + (' (or pip install "ppo-grpo-lab[tensorboard]")' if flag == "tensorboard" else ""))


def open_loggers(trainer, args, run_config: dict) -> list:
    """Attach ``--tensorboard DIR`` and ``--wandb PROJECT`` to ``trainer`` (rank 0); returns them, to close.
    A new run sends the records it already has (step 0) too; a resumed one only what follows.
    """
    if trainer.rank != 0:
        return []
    from .loggers import TensorBoardLogger, WandbLogger, attach

    loggers = []
    if getattr(args, "tensorboard", None):
        loggers.append(attach(trainer, TensorBoardLogger(args.tensorboard), replay=not args.resume))
    if getattr(args, "wandb", None):
        loggers.append(attach(trainer, WandbLogger(args.wandb, config=run_config), replay=not args.resume))
    return loggers


def check_env(env_id: str) -> None:
    """Raise :class:`UsageError` unless ``env_id`` is a registered env whose spaces PPO supports."""
    import gymnasium as gym

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


def accuracy_summary(history) -> str:
    """Held-out greedy accuracy at the first and last evaluation, as one phrase for the summary."""
    if "eval/accuracy" not in history.keys():
        return "not evaluated"
    steps, acc = history.series("eval/accuracy")
    return f"held-out greedy accuracy {acc[0]:.3f} (update {steps[0]}) -> {acc[-1]:.3f} (update {steps[-1]})"
