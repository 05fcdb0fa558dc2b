"""Scoring sampled answers with a task's rule-based reward, and held-out accuracy.

``score`` turns token rows into rewards ``r_i`` [B] (and correctness [B]); ``accuracy``
is the fraction of held-out problems answered correctly by greedy decoding (τ = 0), the
number every chapter plot of ``eval/accuracy`` shows.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .sampling import generate
from .tokenizer import EOS, CharTokenizer

__all__ = ["score", "accuracy", "prompts_tensor"]


def prompts_tensor(tok: CharTokenizer, problems, device=None) -> Tensor:
    """(LongTensor, [B, P]) BOS + prompt for each problem."""
    return tok.encode_batch([p.prompt for p in problems]).to(device)


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
    rows = completions.tolist()
    rewards, correct = [], []
    for p, row in zip(problems, rows):
        finished = EOS in row
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
        comps, _ = generate(model, prompts_tensor(tok, chunk, device), task.max_answer_len, temperature, gen)
        hits += int(score(task, tok, chunk, comps.cpu())[1].sum())
    return hits / max(1, len(problems))
