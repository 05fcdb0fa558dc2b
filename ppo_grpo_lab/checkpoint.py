"""Checkpoints that are safe to open: plain data only, loaded with ``weights_only=True``.

A checkpoint is a ``dict`` written by :func:`torch.save` whose leaves are tensors, numbers,
strings, booleans and ``None``, inside dicts, lists and tuples: model and optimiser
``state_dict`` s, the config as :meth:`~ppo_grpo_lab.config.TrainerConfig.to_dict`, the history
as a list of dicts, and RNG states (:func:`rng_state`). No pickled class instances, so
:func:`load_checkpoint` can use ``torch.load(..., weights_only=True)``: a file from an
untrusted source cannot run code when it is opened, and a file that needs more is refused with
a :class:`CheckpointError`.

Every checkpoint carries ``format`` (:data:`FORMAT`) and ``kind`` (``"ppo"``, ``"grpo"``,
``"ppo_lm"``, ...), checked on load.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["FORMAT", "CheckpointError", "save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state"]

FORMAT = 1


class CheckpointError(ValueError):
    """A file that is not a readable ``ppo_grpo_lab`` checkpoint of the expected kind."""


def _check_plain(x: Any, where: str) -> None:
    if x is None or isinstance(x, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(x, dict):
        for k, v in x.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{where}: checkpoint keys must be str or int, got {type(k).__name__}")
            _check_plain(v, f"{where}[{k!r}]")
        return
    if isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            _check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(f"{where}: expected plain data (tensor, number, str, bool, None, dict, list), "
                    f"got {type(x).__name__}; convert it (e.g. config.to_dict()) before saving")


def save_checkpoint(path: str | os.PathLike, kind: str, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plain data only) with ``format`` and ``kind``; atomic (temp file, rename)."""
    _check_plain(payload, "payload")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, "kind": kind, **payload}, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (tensors on the CPU); check ``format`` and ``kind``.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: unreadable, tampered (would need to unpickle code), or of another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: no file at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: not a plain-data ppo_grpo_lab checkpoint (refused to unpickle "
                              f"anything but tensors and plain values): {str(exc).splitlines()[0]}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"checkpoint {path}: expected format {FORMAT}, got {found!r}")
    if kind is not None and ckpt.get("kind") != kind:
        raise CheckpointError(f"checkpoint {path}: expected a {kind!r} checkpoint, got {ckpt.get('kind')!r}")
    return ckpt


def rng_state(numpy_rng: np.random.Generator | None = None,
              generator: torch.Generator | None = None) -> dict[str, Any]:
    """The random state as plain data: torch's global CPU (and CUDA) state, a torch generator, a numpy generator."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    if generator is not None:
        state["generator"] = generator.get_state()
    if numpy_rng is not None:
        s = numpy_rng.bit_generator.state
        state["numpy"] = {"bit_generator": s["bit_generator"], "state": {k: str(v) for k, v in s["state"].items()},
                          "has_uint32": int(s["has_uint32"]), "uinteger": int(s["uinteger"])}
    return state


def set_rng_state(state: dict[str, Any], numpy_rng: np.random.Generator | None = None,
                  generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` saved (the parts that are present and asked for)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])
    if numpy_rng is not None and "numpy" in state:
        s = state["numpy"]
        numpy_rng.bit_generator.state = {"bit_generator": s["bit_generator"],
                                         "state": {k: int(v) for k, v in s["state"].items()},
                                         "has_uint32": s["has_uint32"], "uinteger": s["uinteger"]}
