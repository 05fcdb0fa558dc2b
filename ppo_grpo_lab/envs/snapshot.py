"""A vector env's state as plain data, for checkpoints that load with ``weights_only=True``.

Two kinds of vector env are covered:

- torch-native envs (:class:`~ppo_grpo_lab.envs.torch_vector.TorchVectorEnv`): their own
  :meth:`~ppo_grpo_lab.envs.torch_vector.TorchVectorEnv.state_dict`;
- Gymnasium's ``SyncVectorEnv``: for the vector env and for every layer of every sub-env
  (each wrapper, then the unwrapped env) the instance attributes whose values are plain:
  numbers, strings, ``None``, numpy arrays (stored as tensors), numpy generators (stored as
  their bit generator's state) and lists, tuples and dicts of these. For Gymnasium's own
  envs that is all of their state (CartPole's ``state`` and ``steps_beyond_terminated``,
  ``TimeLimit``'s ``_elapsed_steps``, the ``np_random`` streams, ...). Attributes holding
  other objects (spaces, specs, render surfaces) are left as they are.

Restoring resets the live env once (so that it has every attribute a reset creates), then sets
only attributes that it has (on the instance or its class), so a checkpoint cannot add
anything to an env; it is read with ``weights_only=True`` and so cannot run code either.
Other vector envs (e.g. ``AsyncVectorEnv``, whose envs live in other processes) have no
snapshot: :func:`vector_env_state` returns ``None`` and a resumed run resets them.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..checkpoint import rng_state, set_rng_state

__all__ = ["vector_env_state", "load_vector_env_state"]

_SKIP = object()  # marks a value that is not plain data
_NOT_STATE = {"env", "envs", "env_fns", "spec", "_saved_kwargs"}  # structure, not state


def _encode(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return {"ndarray": torch.from_numpy(v.copy())} if v.dtype != object else _SKIP
    if isinstance(v, np.random.Generator):
        return {"np_generator": rng_state(numpy_rng=v)["numpy"]}
    if isinstance(v, (list, tuple)):
        items = [_encode(x) for x in v]
        return _SKIP if any(x is _SKIP for x in items) else {"tuple" if isinstance(v, tuple) else "list": items}
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        items = {k: _encode(x) for k, x in v.items()}
        return _SKIP if any(x is _SKIP for x in items.values()) else {"dict": items}
    return _SKIP


def _decode(v: Any, current: Any) -> Any:
    if not isinstance(v, dict):
        return v
    (tag, x), = v.items()
    if tag == "ndarray":
        return x.numpy().copy()
    if tag == "np_generator":
        gen = current if isinstance(current, np.random.Generator) else np.random.default_rng()
        set_rng_state({"torch": torch.get_rng_state(), "numpy": x}, numpy_rng=gen)
        return gen
    if tag == "dict":
        return {k: _decode(y, None) for k, y in x.items()}
    items = [_decode(y, None) for y in x]
    return tuple(items) if tag == "tuple" else items


def _layers(env) -> list:
    """The wrapper chain of a Gymnasium env, outermost first, ending with the unwrapped env."""
    out = [env]
    while hasattr(out[-1], "env") and out[-1].env is not out[-1]:
        out.append(out[-1].env)
    return out


def _attrs(obj) -> dict[str, Any]:
    enc = {k: _encode(v) for k, v in vars(obj).items() if k not in _NOT_STATE}
    return {k: v for k, v in enc.items() if v is not _SKIP}


def _restore(obj, attrs: dict[str, Any]) -> None:
    live = vars(obj)
    for k, v in attrs.items():  # only names the env has (an instance or a class attribute, e.g. _np_random)
        if (k in live or hasattr(type(obj), k)) and k not in _NOT_STATE:
            live[k] = _decode(v, getattr(obj, k))


def vector_env_state(env) -> dict[str, Any] | None:
    """The state of a torch-native or Gymnasium sync vector env as plain data (``None`` for other kinds)."""
    if callable(getattr(env, "state_dict", None)):
        return {"kind": "torch", "state": env.state_dict()}
    if isinstance(getattr(env, "envs", None), list):
        return {"kind": "sync", "vector": _attrs(env),
                "envs": [[_attrs(layer) for layer in _layers(e)] for e in env.envs]}
    return None


def load_vector_env_state(env, state: dict[str, Any] | None) -> None:
    """Restore what :func:`vector_env_state` returned into an env built the same way."""
    if state is None:
        return
    if state["kind"] == "torch":
        env.load_state_dict(state["state"])
        return
    if len(state["envs"]) != len(env.envs):
        raise ValueError(f"env: the saved state holds {len(state['envs'])} envs, this vector env {len(env.envs)}")
    env.reset()  # a fresh env gets the attributes that reset creates (e.g. Pendulum's state), then overwritten
    _restore(env, state["vector"])
    for e, layers in zip(env.envs, state["envs"]):
        live = _layers(e)
        if len(live) != len(layers):
            raise ValueError(f"env: the saved state has {len(layers)} wrapper layers, this env {len(live)}; "
                             "build the env the same way as the saved run")
        for obj, attrs in zip(live, layers):
            _restore(obj, attrs)
