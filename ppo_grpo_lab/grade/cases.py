"""Seeded random inputs shared by the exercises: numbers, rollouts with episode ends, groups, masks.

Everything is float64 (bools for done flags and masks) and drawn from one
``torch.Generator``, so a seed reproduces every hidden case exactly.
"""
from __future__ import annotations

import torch
from torch import Tensor

F64 = torch.float64
GAMMAS = (0.5, 0.9, 0.95, 0.99, 1.0)
LAMBDAS = (0.0, 0.5, 0.9, 0.95, 1.0)


def randint(gen: torch.Generator, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


def choice(gen: torch.Generator, seq):
    """One element of ``seq``."""
    return seq[randint(gen, 0, len(seq) - 1)]


def normal(gen: torch.Generator, shape, scale: float = 1.0, loc: float = 0.0) -> Tensor:
    """Gaussian float64 tensor."""
    return loc + scale * torch.randn(tuple(shape), generator=gen, dtype=F64)


def uniform(gen: torch.Generator, shape, lo: float, hi: float) -> Tensor:
    """Uniform float64 tensor in [lo, hi)."""
    return lo + (hi - lo) * torch.rand(tuple(shape), generator=gen, dtype=F64)


def flags(gen: torch.Generator, shape, p: float) -> Tensor:
    """Bool tensor, each entry True with probability p."""
    return torch.rand(tuple(shape), generator=gen) < p


DONE_MODES = ("no episode end", "terminations only", "truncations only", "terminations and truncations")


def rollout(gen: torch.Generator, i: int, T: int | None = None, N: int | None = None) -> dict:
    """A time-major rollout ``[T, N]`` whose done pattern cycles with ``i`` through :data:`DONE_MODES`.

    ``next_values[t]`` equals ``values[t+1]`` inside an episode (as a real rollout gives) and is
    the critic at the final observation (an independent number) at an episode end and after
    the last row. Terminated and truncated may both be true at one step (Gymnasium allows it).
    """
    T = randint(gen, 1, 10) if T is None else T
    N = randint(gen, 1, 4) if N is None else N
    mode = DONE_MODES[i % len(DONE_MODES)]
    p_term = 0.0 if mode in ("no episode end", "truncations only") else 0.25
    p_trunc = 0.0 if mode in ("no episode end", "terminations only") else 0.25
    terminated = flags(gen, (T, N), p_term)
    truncated = flags(gen, (T, N), p_trunc)
    if mode == "truncations only" and T * N > 0 and not bool(truncated.any()):
        truncated[randint(gen, 0, T - 1), randint(gen, 0, N - 1)] = True
    if mode == "terminations only" and not bool(terminated.any()):
        terminated[randint(gen, 0, T - 1), randint(gen, 0, N - 1)] = True
    rewards = normal(gen, (T, N), scale=1.0, loc=0.5)
    values = normal(gen, (T, N), scale=2.0)
    final = normal(gen, (T, N), scale=2.0, loc=1.0)  # V at final observations / after the last row
    next_values = final.clone()
    if T > 1:
        inside = ~(terminated[:-1] | truncated[:-1])
        next_values[:-1] = torch.where(inside, values[1:], final[:-1])
    return dict(T=T, N=N, mode=mode, rewards=rewards, values=values, next_values=next_values,
                terminated=terminated, truncated=truncated)


def ends_note(r: dict, **extra) -> str:
    """Short description of a rollout case."""
    bits = [f"T={r['T']}, N={r['N']}", r["mode"]] + [f"{k}={v}" for k, v in extra.items()]
    return ", ".join(bits)


def log_probs_pair(gen: torch.Generator, shape, spread: float = 0.5) -> tuple[Tensor, Tensor]:
    """``(log_probs, other_log_probs)``: valid log-probabilities (≤ 0) differing by about ``spread``."""
    a = torch.log(uniform(gen, shape, 0.05, 0.95))
    b = (a + normal(gen, shape, scale=spread)).clamp(max=-1e-3)
    return a, b


def token_mask(gen: torch.Generator, B: int, L: int) -> Tensor:
    """``[B, L]`` bool mask; each row keeps at least one token, some rows are prefixes, some not."""
    lengths = torch.randint(1, L + 1, (B,), generator=gen)
    mask = torch.arange(L).unsqueeze(0) < lengths.unsqueeze(1)
    scattered = flags(gen, (B, L), 0.6)
    use_scattered = flags(gen, (B, 1), 0.3)
    mask = torch.where(use_scattered, scattered, mask)
    empty = ~mask.any(dim=1)
    mask[empty, 0] = True
    return mask


def worked_steps(gen: torch.Generator, B: int, G: int, S: int, L: int, p_empty: float = 0.1) -> dict:
    """Ragged steps of B·G worked answers: ``step_mask`` [B, G, S] (the first k slots real, k in 0..S;
    an answer has no step with probability ``p_empty``), ``step_ends`` [B, G, S] strictly increasing
    token indices in [0, L) at real slots and garbage in [0, L) at padding. Needs S <= L.
    """
    k = torch.randint(1, S + 1, (B, G), generator=gen)
    k = torch.where(flags(gen, (B, G), p_empty), torch.zeros_like(k), k)
    mask = torch.arange(S) < k.unsqueeze(-1)  # (B, G, S)
    ends = torch.randint(0, L, (B, G, S), generator=gen)  # garbage, kept at padding
    for b in range(B):
        for g in range(G):
            n = int(k[b, g])
            ends[b, g, :n] = torch.randperm(L, generator=gen)[:n].sort().values
    return {"step_mask": mask, "step_ends": ends, "k": k}
