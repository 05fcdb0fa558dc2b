"""Sampling answers from the language model, and scoring them token by token.

Generation draws each answer token from the tempered softmax

.. math::

    o_t \\sim \\operatorname{softmax}(z_t / \\tau), \\qquad z_t = \\text{logits}(q, o_{<t})

(τ → 0: greedy argmax). After a row emits EOS it only receives PAD. Shapes: prompts
``[B, P]`` (equal length), answers ``[B, L]`` with a ``mask`` ``[B, L]`` that is True for
each real answer token up to and including EOS.

:func:`completion_log_probs` re-scores given answers in one parallel forward pass:
``log π(o_t | q, o_<t)`` ``[B, L]``, the per-token entropy ``[B, L]`` and, for a model
with a value head, ``V(s_t)`` ``[B, L]`` at the state where token t is chosen.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..distributed import all_reduce_sum
from ..entropy import entropy
from .tokenizer import EOS, PAD

__all__ = ["generate", "completion_mask", "completion_log_probs"]


def completion_mask(completions: Tensor) -> Tensor:
    """(bool Tensor, [B, L]) True up to and including the first EOS of each row (all True if none)."""
    if completions.ndim != 2:
        raise ValueError(f"completions: expected a 2-D LongTensor [B, L], got shape {tuple(completions.shape)}")
    is_eos = (completions == EOS).long()
    before = torch.cumsum(is_eos, dim=1) - is_eos  # EOS tokens strictly before t
    return before == 0


@torch.no_grad()
def generate(model, prompts: Tensor, max_new_tokens: int, temperature: float = 1.0,
             generator: torch.Generator | None = None, use_cache: bool = True,
             shard: tuple[int, int] | None = None) -> tuple[Tensor, Tensor]:
    """Sample answers for a batch of prompts.

    Args:
        model: a :class:`~ppo_grpo_lab.llm.model.TinyGPT`.
        prompts: (LongTensor, [B, P]) prompts starting with BOS.
        max_new_tokens: L, the longest answer (EOS included).
        temperature: τ >= 0; 0 means greedy.
        generator: a ``torch.Generator`` on the model's device for reproducible draws.
        use_cache: reuse keys/values (fast); False recomputes the whole prefix each step.
        shard: ``(offset, total)`` when these B prompts are rows ``offset … offset+B−1`` of a batch of
            ``total`` split over processes (``torch.distributed``): the random numbers are drawn for all
            ``total`` rows, as one process would draw them, and generation stops when every process is done.

    Returns:
        ``(completions, mask)``: (LongTensor, [B, L]) PAD after EOS, and (bool Tensor, [B, L]).
    """
    if prompts.ndim != 2:
        raise ValueError(f"prompts: expected a 2-D LongTensor [B, P], got shape {tuple(prompts.shape)}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens: expected an integer >= 1, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature: expected a value >= 0, got {temperature}")
    was_training = model.training
    model.eval()
    B, P = prompts.shape
    seq, past, out = prompts, None, []
    done = torch.zeros(B, dtype=torch.bool, device=prompts.device)
    for t in range(max_new_tokens):
        if use_cache:
            inp, offset = (seq, 0) if past is None else (seq[:, -1:], seq.shape[1] - 1)
            logits, past = model(inp, past=past, pos_offset=offset)
        else:
            logits, _ = model(seq)
        z = logits[:, -1, :].float()  # (B, V)
        if temperature == 0:
            nxt = z.argmax(dim=-1)
        else:
            probs = F.softmax(z / temperature, dim=-1)
            rows = slice(None)
            if shard is not None:  # other processes' rows: uniform placeholders (the draws do not depend on them)
                rows = slice(shard[0], shard[0] + B)
                full = torch.full((shard[1], probs.shape[1]), 1.0 / probs.shape[1], device=probs.device)
                full[rows] = probs
                probs = full
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)[rows]
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        out.append(nxt)
        done = done | (nxt == EOS)
        seq = torch.cat([seq, nxt[:, None]], dim=1)
        left = (~done).sum().reshape(1)  # rows still answering (summed over the processes of a shard)
        if int((all_reduce_sum(left) if shard is not None else left)[0]) == 0:
            break
    completions = torch.stack(out, dim=1)  # (B, L')
    if completions.shape[1] < max_new_tokens:
        completions = F.pad(completions, (0, max_new_tokens - completions.shape[1]), value=PAD)
    model.train(was_training)
    return completions, completion_mask(completions)


def completion_log_probs(model, prompts: Tensor, completions: Tensor, with_entropy: bool = False,
                         with_values: bool = False) -> dict[str, Tensor]:
    """Per-token log-probabilities of given answers (differentiable).

    Args:
        model: the policy (or reference) model.
        prompts: (LongTensor, [B, P]).
        completions: (LongTensor, [B, L]).
        with_entropy: also return ``entropy`` [B, L] of π(·| q, o_<t).
        with_values: also return ``values`` [B, L] = V(s_t) (model needs a value head).

    Returns:
        dict with ``log_probs`` (Tensor, [B, L]) and the optional extras.
    """
    if prompts.ndim != 2 or completions.ndim != 2 or prompts.shape[0] != completions.shape[0]:
        raise ValueError(f"prompts, completions: expected [B, P] and [B, L] with the same B, "
                         f"got {tuple(prompts.shape)} and {tuple(completions.shape)}")
    P = prompts.shape[1]
    seq = torch.cat([prompts, completions], dim=1)[:, :-1]  # (B, P + L - 1): inputs that predict each answer token
    if with_values:
        logits, values = model.logits_and_values(seq)
    else:
        logits, _ = model(seq)
    logits = logits[:, P - 1:, :].float()  # (B, L, V): position P-1+t predicts o_t
    log_probs = torch.log_softmax(logits, dim=-1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)  # (B, L)
    out = {"log_probs": log_probs}
    if with_entropy:
        out["entropy"] = entropy(logits)
    if with_values:
        out["values"] = values[:, P - 1:]
    return out
