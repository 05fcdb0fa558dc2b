"""How much memory a training step needs, measured from the tensors themselves.

Python's ``tracemalloc`` does not see torch's CPU allocations, and torch has no peak
counter for CPU tensors, so we count bytes directly:

- ``state``: parameters, gradients and optimizer state (Adam keeps two moments per
  parameter) of every model the method holds, trainable or frozen;
- ``activations``: the bytes of every tensor autograd saves for the backward pass during
  one loss evaluation (``torch.autograd.graph.saved_tensors_hooks``), the part that grows
  with batch size and sequence length.

``peak ≈ state + activations`` is an estimate of the training step's peak tensor memory
(it leaves out short-lived temporaries and the sampling pass, which keeps no graph). On
CUDA ``torch.cuda.max_memory_allocated`` gives the measured peak as well.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

__all__ = ["state_bytes", "SavedTensorMeter"]


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def state_bytes(modules, optimizers=()) -> int:
    """Bytes of parameters, their gradients and every tensor in the optimizers' state."""
    total, seen = 0, set()
    for m in modules:
        for p in m.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            total += _nbytes(p) + (_nbytes(p.grad) if p.grad is not None else 0)
    for opt in optimizers:
        for st in opt.state.values():
            total += sum(_nbytes(v) for v in st.values() if torch.is_tensor(v))
    return total


class SavedTensorMeter:
    """Counts the bytes autograd saves for backward inside ``with meter.measure():``.

    ``meter.peak`` is the largest total seen over all measured blocks. Storage shared by
    several saved tensors is counted once per block; parameters of the ``exclude`` modules
    (saved by linear layers, already counted in :func:`state_bytes`) are skipped.

    Args:
        exclude: modules whose parameters are not activations (their parameters as of construction: the
            list is read once, each parameter's storage at every ``measure``).
    """

    def __init__(self, exclude=()):
        self.peak = 0
        self.exclude = list(exclude)
        self._excluded = [p for m in self.exclude for p in m.parameters()]  # read once: a step measures twice

    @contextmanager
    def measure(self):
        """Context manager: record the bytes of the tensors autograd saves inside it (peak kept)."""
        storages: dict[int, int] = {}
        skip = {p.untyped_storage().data_ptr() for p in self._excluded}  # storages move with .to(device)

        def pack(t):
            try:
                storage = t.untyped_storage()
            except RuntimeError:  # tensors without storage (e.g. sparse)
                return t
            key = storage.data_ptr()
            if key not in skip:
                n = storage.nbytes()
                if n > storages.get(key, 0):
                    storages[key] = n
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            yield self
        self.peak = max(self.peak, sum(storages.values()))
