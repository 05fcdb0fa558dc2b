"""Scoring sampled answers with a task's rule-based reward, held-out accuracy and pass@k.

``score`` turns token rows into rewards ``r_i`` [B] (and correctness [B]); ``accuracy``
is the fraction of held-out problems answered correctly by greedy decoding (τ = 0), the
number every chapter plot of ``eval/accuracy`` shows.

``answers`` samples n answers per problem and ``answer_stats`` summarises them: accuracy,
the share of answers that show their work (:func:`~ppo_grpo_lab.llm.scratchpad.is_worked`),
the mean answer length in tokens (EOS included) and pass@k, the probability that at least one
of k answers is correct, estimated without bias from n ≥ k samples with c correct
(Chen et al. 2021):

.. math::

    \\text{pass@}k = \\mathbb E_q\\Big[1 - \\binom{n - c}{k} \\Big/ \\binom{n}{k}\\Big]
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .sampling import generate
from .scratchpad import is_worked
from .tokenizer import EOS, CharTokenizer

__all__ = ["score", "accuracy", "prompts_tensor", "prompt_batch", "generate_answers", "pass_at_k", "answers",
           "answer_stats"]


def prompts_tensor(tok: CharTokenizer, problems, device=None) -> Tensor:
    """(LongTensor, [B, P]) BOS + prompt for each problem."""
    return tok.encode_batch([p.prompt for p in problems]).to(device)


def prompt_batch(tok, problems, device=None) -> tuple[Tensor, Tensor | None]:
    """``(prompts, prompt_mask)`` from the tokenizer's ``encode_prompts``: (LongTensor, [B, P]) and
    (bool Tensor, [B, P]) False on left padding, or None (no padding; always so for CharTokenizer).
    """
    ids, mask = tok.encode_prompts([p.prompt for p in problems])
    return ids.to(device), (None if mask is None else mask.to(device))


def generate_answers(model, tok, problems, max_new_tokens: int, temperature: float, generator, device=None,
                   shard=None, share_prefixes: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Encode the problems' prompts and sample one answer each with the tokenizer's EOS/PAD
    (:func:`~ppo_grpo_lab.llm.sampling.generate`, which also takes ``shard`` and ``share_prefixes``).

    Returns:
        ``(prompts, prompt_mask, completions, mask)``: as :func:`prompt_batch` and ``generate`` return them.
    """
    prompts, prompt_mask = prompt_batch(tok, problems, device)
    completions, mask = generate(model, prompts, max_new_tokens, temperature, generator, shard=shard,
                                 prompt_mask=prompt_mask, eos_id=tok.eos_id, pad_id=tok.pad_id,
                                 share_prefixes=share_prefixes)
    return prompts, prompt_mask, completions, mask


def score(task, tok: CharTokenizer, problems, completions: Tensor) -> tuple[Tensor, Tensor]:
    """Rewards and correctness of answers.

    Args:
        task: an ``AdditionTask`` or ``CountdownTask``.
        tok: the tokenizer.
        problems: list of B problems.
        completions: (LongTensor, [B, L]) sampled answers.

    Returns:
        ``(rewards, correct)``: (float Tensor, [B]) and (bool Tensor, [B]).
    """
    if completions.ndim != 2 or completions.shape[0] != len(problems):
        raise ValueError(f"completions: expected [B, L] with B = {len(problems)}, got {tuple(completions.shape)}")
    rows, eos = completions.tolist(), getattr(tok, "eos_id", EOS)
    rewards, correct = [], []
    for p, row in zip(problems, rows):
        finished = eos in row
        text = tok.decode(row)
        rewards.append(task.reward(p, text, finished))
        correct.append(finished and task.is_correct(p, text))
    return torch.tensor(rewards), torch.tensor(correct)


@torch.no_grad()
def accuracy(model, task, tok: CharTokenizer, problems, temperature: float = 0.0, seed: int = 0,
             batch_size: int = 512) -> float:
    """Fraction of ``problems`` answered correctly (greedy by default)."""
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    hits = 0
    for i in range(0, len(problems), batch_size):
        chunk = problems[i:i + batch_size]
        comps = generate_answers(model, tok, chunk, task.max_answer_len, temperature, gen, device)[2]
        hits += int(score(task, tok, chunk, comps.cpu())[1].sum())
    return hits / max(1, len(problems))


def pass_at_k(n: int, c, k: int):
    """Unbiased pass@k, ``1 − C(n−c, k) / C(n, k)``, for n samples of which c are correct.

    Computed as ``1 − Π_{i=n−c+1}^{n} (1 − k/i)`` (no large binomials). Worked examples:
    n = 4, c = 1, k = 2 → 1 − 3/6 = 0.5; n = 8, c = 1, k = 8 → 1; c = 0 → 0.

    Args:
        n: samples per problem, n ≥ k.
        c: correct samples, an int or an integer array (one entry per problem), 0 ≤ c ≤ n.
        k: attempts allowed, 1 ≤ k ≤ n.

    Returns:
        a float (c an int) or a float array shaped like c.
    """
    if not (isinstance(k, (int, np.integer)) and isinstance(n, (int, np.integer)) and 1 <= k <= n):
        raise ValueError(f"k, n: expected integers with 1 <= k <= n, got k={k!r}, n={n!r}")
    c_arr = np.asarray(c)
    if c_arr.size and (c_arr.min() < 0 or c_arr.max() > n):
        raise ValueError(f"c: expected counts in [0, n={n}], got values in [{c_arr.min()}, {c_arr.max()}]")
    out = np.empty(c_arr.shape)
    for idx, ci in np.ndenumerate(c_arr):
        out[idx] = 1.0 if n - ci < k else 1.0 - np.prod(1.0 - k / np.arange(n - ci + 1, n + 1))
    return float(out) if c_arr.ndim == 0 else out


@torch.no_grad()
def answers(model, task, tok: CharTokenizer, problems, n: int = 1, temperature: float = 0.0, seed: int = 0,
            batch_size: int = 1024) -> dict:
    """N answers to each of P problems (greedy for τ = 0, then all n are the same).

    Returns:
        dict with ``text`` (P lists of n strings), ``correct`` and ``worked`` (bool Tensor, [P, n])
        and ``length`` (float Tensor, [P, n]: answer tokens, EOS included).
    """
    if n < 1:
        raise ValueError(f"n: expected an integer >= 1, got {n}")
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    rows = [p for p in problems for _ in range(n)]  # problem-major: row i·n + j is answer j to problem i
    texts, correct, lengths = [], [], []
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        _, _, comps, mask = generate_answers(model, tok, chunk, task.max_answer_len, temperature, gen, device)
        comps = comps.cpu()
        texts += [tok.decode(r) for r in comps.tolist()]
        correct.append(score(task, tok, chunk, comps)[1])
        lengths.append(mask.sum(1).float().cpu())
    P = len(problems)
    return {"text": [texts[i * n:(i + 1) * n] for i in range(P)],
            "correct": torch.cat(correct).view(P, n), "length": torch.cat(lengths).view(P, n),
            "worked": torch.tensor([is_worked(t) for t in texts], dtype=torch.bool).view(P, n)}


def answer_stats(ans: dict, ks=(1, 8), prefix: str = "eval/") -> dict[str, float]:
    """Summary of :func:`answers`: ``accuracy`` (mean of ``correct``), ``worked_frac``, ``length``
    (mean tokens) and ``pass@k`` for every k ≤ n, each under ``prefix``.

    Args:
        ans: dict with ``correct``, ``worked`` (bool Tensor, [P, n]) and ``length`` (Tensor, [P, n]).
        ks: the k of pass@k; those larger than n are skipped.
    """
    correct = ans["correct"]
    if correct.ndim != 2 or ans["worked"].shape != correct.shape or ans["length"].shape != correct.shape:
        raise ValueError(f"ans: expected correct, worked and length of one shape [P, n], got "
                         f"{tuple(correct.shape)}, {tuple(ans['worked'].shape)}, {tuple(ans['length'].shape)}")
    n = correct.shape[1]
    out = {f"{prefix}accuracy": correct.float().mean().item(), f"{prefix}worked_frac": ans["worked"].float().mean().item(),
           f"{prefix}length": ans["length"].float().mean().item()}
    c = correct.sum(1).numpy()
    for k in ks:
        if k <= n:
            out[f"{prefix}pass@{k}"] = float(pass_at_k(n, c, k).mean())
    return out
