"""Data parallelism for every trainer: R processes share the work and sum their gradients.

PPO: R processes, each running N/R of the N environments.

Launch the same script R times with ``torchrun --nproc_per_node R script.py`` (or initialise
``torch.distributed`` yourself). The trainer then behaves like one process with all N envs:

- rank r steps the envs ``r·k … (r+1)·k − 1`` (k = N / R), seeded ``seed + r·k + i`` exactly as
  the single-process vector env seeds its env ``r·k + i``;
- every rank draws the same random numbers as the single process (action noise for all N rows,
  the minibatch permutation over all N·T samples) and keeps the part that belongs to its envs, so
  the union of the ranks' minibatches is the single-process minibatch;
- each rank weights its minibatch loss mean by ``n_r / |minibatch|`` and the gradients are
  summed over ranks (one all-reduce), which gives the gradient of the global minibatch mean;
  clipping and the Adam step then see identical gradients on every rank;
- advantage normalisation, the logged metrics and the explained variance use global statistics.

This module holds the small collective helpers: all-reduce of gradients and statistics
(:func:`all_reduce_grads`, :func:`all_reduce_sum`), index sharding (:func:`shard_indices`) and
global statistics (:func:`global_normalize`, :func:`global_explained_variance`). A trainer calls them
the same way for any number of processes: with one process the collectives do nothing and the
sharding keeps every index, so there is one code path.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["setup", "world", "broadcast_module", "all_reduce_sum", "all_reduce_grads", "all_gather_cat",
           "shard_indices", "global_normalize", "global_explained_variance"]


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` when ``torch.distributed`` is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup(device: torch.device) -> tuple[int, int, torch.device]:
    """Initialise the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1) and it is not yet;
    backend ``nccl`` for CUDA, ``gloo`` for CPU. Returns ``(rank, world_size, device)``, with a bare
    ``cuda`` device pinned to ``cuda:LOCAL_RANK``.
    """
    if (dist.is_available() and not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1):
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    rank, size = world()
    if size > 1 and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
        torch.cuda.set_device(device)
    return rank, size, device


def broadcast_module(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters to every rank (a no-op with one process)."""
    if world()[1] > 1:
        for p in module.parameters():
            dist.broadcast(p.data, src=0)


def all_reduce_sum(x: Tensor) -> Tensor:
    """Sum ``x`` over ranks, in place (a no-op with one process); returns ``x``."""
    if world()[1] > 1:
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def all_reduce_grads(params, extra: Tensor | None = None) -> Tensor | None:
    """Sum the gradients of ``params`` (and a flat tensor of statistics ``extra``) over ranks in one
    all-reduce: flatten, all-reduce, unflatten. Parameters without a gradient are skipped (the same set
    on every rank). With one process it returns ``extra`` untouched and costs nothing.

    Returns:
        the summed ``extra`` (a new tensor), or ``None`` when ``extra`` is ``None``.
    """
    if world()[1] == 1:
        return extra
    params = [p for p in params if p.grad is not None]
    parts = [p.grad.reshape(-1) for p in params] + ([extra.reshape(-1).to(params[0].grad.dtype)] if extra is not None else [])
    flat = all_reduce_sum(torch.cat(parts))
    i = 0
    for p in params:
        p.grad = flat[i:i + p.numel()].view_as(p).clone()
        i += p.numel()
    return flat[i:].clone() if extra is not None else None


def all_gather_cat(x: Tensor, dim: int) -> Tensor:
    """Concatenate every rank's ``x`` (same shape on all ranks) along ``dim``, in rank order."""
    if world()[1] == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world()[1])]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=dim)


def shard_indices(idx: Tensor, total: int, offset: int, local: int) -> tuple[Tensor, int]:
    """This rank's part of a minibatch drawn over the whole batch, as indices into its own batch.

    The global batch is ``[T, total]`` flattened time-major (index ``t·total + n``); this rank holds
    envs ``offset … offset+local−1``, its batch ``[T, local]`` (index ``t·local + j``).

    Args:
        idx: (Tensor, [M]) global indices of one minibatch.
        total: N, envs over all ranks.
        offset, local: this rank's first env and number of envs.

    Returns:
        ``(local_idx, n_real)``: the ``n_real`` local indices of this rank's samples; when it holds
        none, ``local_idx`` is one placeholder index (``[0]``) whose loss the caller weights by 0.
        With one process (``local == total``) ``idx`` itself, ``len(idx)``.
    """
    if local == total:
        return idx, len(idx)
    t, n = idx // total, idx % total - offset
    mine = (n >= 0) & (n < local)
    out = t[mine] * local + n[mine]
    if len(out) == 0:
        return torch.zeros(1, dtype=torch.long, device=idx.device), 0
    return out, len(out)


def _pooled_mean_std(stats: Tensor) -> tuple[float, Tensor, Tensor]:
    """Fold per-rank ``(n_r, mean_r, std_r)`` rows [R, 3] into the pooled ``(n, mean, unbiased std)``
    (Chan et al.'s parallel variance; rows with ``n_r = 0`` are skipped, ``std_r`` is ignored where
    ``n_r = 1``). The first row is the start, so with one process the result is that process's own
    ``x.mean()``, ``x.std()``, untouched; every rank folds the same rows in the same order.
    """
    parts = [(n_r, row) for n_r, row in zip(stats[:, 0].tolist(), stats) if n_r > 0]  # ranks with samples
    (n, (_, mean, std)), rest = parts[0], parts[1:]
    for n_b, (_, mean_b, std_b) in rest:
        total, delta = n + n_b, mean_b - mean
        m2 = std.square() * (n - 1) + std_b.square() * (n_b - 1) + delta.square() * (n * n_b / total)
        n, mean, std = total, mean + delta * (n_b / total), (m2 / (total - 1)).sqrt()
    return n, mean, std


def global_normalize(adv: Tensor, n_real: int, eps: float = 1e-8) -> Tensor:
    """``(Â − mean) / (std + eps)`` with the mean and the unbiased std (Bessel, ``n − 1``) over the real
    samples of all ranks: the one whitening convention of the package, for any number of processes
    (with one process exactly ``(Â − Â.mean()) / (Â.std() + eps)``).

    Args:
        adv: (Tensor, [M]) this rank's advantages; the first ``n_real`` are real, the rest a
            zero-weight placeholder.
        n_real: number of real samples on this rank.

    With fewer than 2 samples in all, the advantages are only centred.
    """
    x = adv[:n_real]
    if world()[1] == 1 and n_real >= 2:  # one process: the same numbers without the collective's bookkeeping
        return (adv - x.mean()) / (x.std() + eps)
    zero = adv.new_zeros(())
    local = torch.stack([adv.new_tensor(float(n_real)), x.mean() if n_real else zero,
                         x.std() if n_real >= 2 else zero])  # (n_r, mean_r, std_r)
    n, mean, std = _pooled_mean_std(all_gather_cat(local.unsqueeze(0), 0))
    if n < 2:
        return adv - mean
    return (adv - mean) / (std + eps)


def global_explained_variance(predictions: Tensor, targets: Tensor) -> Tensor:
    """``1 − Var[y − ŷ] / Var[y]`` over the samples of all ranks (two passes, unbiased variances)."""
    d = targets - predictions
    s = all_reduce_sum(torch.stack([targets.sum(), d.sum(),
                                    torch.tensor(float(targets.numel()), device=targets.device)]))
    n = s[2]
    q = all_reduce_sum(torch.stack([(targets - s[0] / n).square().sum(), (d - s[1] / n).square().sum()]))
    var_y, var_d = q[0] / (n - 1), q[1] / (n - 1)
    return torch.where(var_y > 0, 1 - var_d / var_y, torch.full_like(var_y, float("nan")))
