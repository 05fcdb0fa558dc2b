"""Sampling answers from the language model, and scoring them token by token.

Generation draws each answer token from the tempered softmax

.. math::

    o_t \\sim \\operatorname{softmax}(z_t / \\tau), \\qquad z_t = \\text{logits}(q, o_{<t})

(τ → 0: greedy argmax). After a row emits EOS it only receives PAD. Shapes: prompts
``[B, P]``, answers ``[B, L]`` with a ``mask`` ``[B, L]`` that is True for
each real answer token up to and including EOS. Prompts of unequal length come left-padded with a
``prompt_mask`` ``[B, P]`` (False on padding, as a ``transformers`` tokenizer returns it); the model is
then called with ``attention_mask`` (the prompt mask followed by ones for the answer), from which a
``transformers`` model (:class:`~ppo_grpo_lab.llm.hf.CausalLMAdapter`) derives each token's position.
EOS and PAD default to :class:`~ppo_grpo_lab.llm.tokenizer.CharTokenizer`'s ids; pass a tokenizer's own.

:func:`completion_log_probs` re-scores given answers in one parallel forward pass:
``log π(o_t | q, o_<t)`` ``[B, L]``, the per-token entropy ``[B, L]`` and, for a model
with a value head, ``V(s_t)`` ``[B, L]`` at the state where token t is chosen.

``share_prefixes=True`` (both functions; a TinyGPT without ``prompt_mask``) runs each distinct prefix
once: GRPO's G rows per question share a prompt, and a confident model samples the same answer start
several times. The values are those of the plain pass up to float rounding (~1e-7: matrix products over
fewer rows round differently), which can flip a sampled token, so it is off unless asked for.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..distributed import all_reduce_sum
from ..entropy import entropy
from .tokenizer import EOS, PAD

__all__ = ["generate", "completion_mask", "completion_log_probs"]


def completion_mask(completions: Tensor, eos_id: int = EOS) -> Tensor:
    """(bool Tensor, [B, L]) True up to and including the first ``eos_id`` of each row (all True if none)."""
    if completions.ndim != 2:
        raise ValueError(f"completions: expected a 2-D LongTensor [B, L], got shape {tuple(completions.shape)}")
    is_eos = (completions == eos_id).long()
    before = torch.cumsum(is_eos, dim=1) - is_eos  # EOS tokens strictly before t
    return before == 0


def _draw(z: Tensor, temperature: float, generator, shard) -> Tensor:
    """Next tokens (LongTensor, [B]) from logits z (B, V): argmax for τ = 0, else a tempered draw. With a
    ``shard`` the random numbers are drawn for all rows of the batch (others: uniform placeholders).
    """
    if temperature == 0:
        return z.argmax(dim=-1)
    probs = F.softmax(z / temperature, dim=-1)
    if shard is None:
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)
    rows = slice(shard[0], shard[0] + z.shape[0])
    full = torch.full((shard[1], probs.shape[1]), 1.0 / probs.shape[1], device=probs.device)
    full[rows] = probs
    return torch.multinomial(full, 1, generator=generator).squeeze(1)[rows]


@torch.no_grad()
def generate(model, prompts: Tensor, max_new_tokens: int, temperature: float = 1.0,
             generator: torch.Generator | None = None, use_cache: bool = True,
             shard: tuple[int, int] | None = None, prompt_mask: Tensor | None = None,
             eos_id: int = EOS, pad_id: int = PAD, share_prefixes: bool = False) -> tuple[Tensor, Tensor]:
    """Sample answers for a batch of prompts.

    Args:
        model: a :class:`~ppo_grpo_lab.llm.model.TinyGPT` (or a :class:`~ppo_grpo_lab.llm.hf.CausalLMAdapter`).
        prompts: (LongTensor, [B, P]) prompts (left-padded if ``prompt_mask`` is given).
        max_new_tokens: L, the longest answer (EOS included).
        temperature: τ >= 0; 0 means greedy.
        generator: a ``torch.Generator`` on the model's device for reproducible draws.
        use_cache: reuse keys/values (fast); False recomputes the whole prefix each step.
        shard: ``(offset, total)`` when these B prompts are rows ``offset … offset+B−1`` of a batch of
            ``total`` split over processes (``torch.distributed``): the random numbers are drawn for all
            ``total`` rows, as one process would draw them, and generation stops when every process is done.
        prompt_mask: (bool Tensor, [B, P]) False on left padding; None: no padding (the model is called
            without ``attention_mask``).
        eos_id, pad_id: the tokenizer's EOS and PAD ids.
        share_prefixes: run each distinct (prompt, answer so far) once per step (``_generate_shared``;
            a TinyGPT, ``use_cache`` and no ``prompt_mask``). The same draws up to float rounding.

    Returns:
        ``(completions, mask)``: (LongTensor, [B, L]) PAD after EOS, and (bool Tensor, [B, L]).
    """
    if prompts.ndim != 2 or (prompt_mask is not None and prompt_mask.shape != prompts.shape):
        raise ValueError(f"prompts, prompt_mask: expected a 2-D LongTensor [B, P] and None or a mask of its shape, "
                         f"got {tuple(prompts.shape)} and {None if prompt_mask is None else tuple(prompt_mask.shape)}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens: expected an integer >= 1, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature: expected a value >= 0, got {temperature}")
    if share_prefixes:
        _check_shareable(model, prompt_mask, use_cache)
        return _generate_shared(model, prompts, max_new_tokens, temperature, generator, shard, eos_id, pad_id)
    was_training = model.training
    model.eval()
    B, P = prompts.shape
    out = torch.full((B, max_new_tokens), pad_id, dtype=torch.long, device=prompts.device)  # filled in place
    attn = None if prompt_mask is None else F.pad(prompt_mask.long(), (0, max_new_tokens), value=1)  # (B, P + L)
    kw, past = {}, None
    done = torch.zeros(B, dtype=torch.bool, device=prompts.device)
    for t in range(max_new_tokens):
        if attn is not None:
            kw = {"attention_mask": attn[:, :P + t]}
        if not use_cache:
            logits, _ = model(torch.cat([prompts, out[:, :t]], dim=1), **kw)
        elif past is None:
            logits, past = model(prompts, **kw)
        else:
            logits, past = model(out[:, t - 1:t], past=past, pos_offset=P + t - 1, **kw)
        nxt = _draw(logits[:, -1, :].float(), temperature, generator, shard)
        out[:, t] = nxt.masked_fill_(done, pad_id)
        done |= nxt == eos_id
        if _stop(done, shard):
            break
    model.train(was_training)
    return out, completion_mask(out, eos_id)


def _check_shareable(model, prompt_mask, use_cache: bool = True) -> None:
    """share_prefixes needs a TinyGPT's ``hidden`` and cache layout, unpadded prompts and the KV cache."""
    if not hasattr(model, "hidden") or prompt_mask is not None or not use_cache:
        raise ValueError(f"share_prefixes: expected a TinyGPT with prompt_mask=None and use_cache=True, got "
                         f"{type(model).__name__} with prompt_mask={'a mask' if prompt_mask is not None else None} "
                         f"and use_cache={use_cache}; pass share_prefixes=False")


def _stop(done: Tensor, shard) -> bool:
    """True when no row is still answering (counted over the processes of a shard)."""
    left = (~done).sum().reshape(1)
    return int((all_reduce_sum(left) if shard is not None else left)[0]) == 0


def _generate_shared(model, prompts: Tensor, max_new_tokens: int, temperature: float, generator, shard, eos_id: int,
                     pad_id: int) -> tuple[Tensor, Tensor]:
    """:func:`generate` for a TinyGPT that runs each distinct (prompt, answer so far) once per step.

    Rows that share a prompt and the tokens sampled so far have the same next-token logits. The cache is
    kept for the U distinct prefixes only (U ≤ N rows); after each draw the new distinct prefixes are
    found from (parent prefix, token) pairs, their cache rows indexed from the parents', and one position
    is run for each. Every row still draws its own token with the same random numbers as :func:`generate`.
    """
    was_training = model.training
    model.eval()
    (N, P), V = prompts.shape, model.cfg.vocab_size
    out = torch.full((N, max_new_tokens), pad_id, dtype=torch.long, device=prompts.device)
    done = torch.zeros(N, dtype=torch.bool, device=prompts.device)
    unique, row_of, _ = _unique_rows(prompts)  # (U, P), (N,)
    logits, past = model(unique)
    for t in range(max_new_tokens):
        nxt = _draw(logits[row_of, -1, :].float(), temperature, generator, shard)  # (N,)
        out[:, t] = nxt.masked_fill_(done, pad_id)
        done |= nxt == eos_id
        if _stop(done, shard) or t == max_new_tokens - 1:
            break
        key, row_of = torch.unique(row_of * V + nxt, return_inverse=True)  # (U',): distinct (parent, token)
        parent = torch.div(key, V, rounding_mode="floor")
        past = [(k.index_select(0, parent), v.index_select(0, parent)) for k, v in past]
        logits, past = model((key % V)[:, None], past=past, pos_offset=P + t)
    model.train(was_training)
    return out, completion_mask(out, eos_id)


def _unique_rows(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(unique, inverse, first)``: the distinct rows of x (N, T) (U of them, sorted), each row's index in
    them (N,), and one row of x for each distinct row (U,).
    """
    base = int(x.max()) + 1 if x.numel() else 1
    if x.shape[1] * math.log2(max(base, 2)) < 62:  # each row as one int64 in base `base`: a 1-D unique (fast)
        powers = base ** torch.arange(x.shape[1], dtype=torch.long, device=x.device)  # (T,)
        keys, inverse = torch.unique((x * powers).sum(1), return_inverse=True)
        unique = x.new_empty((keys.shape[0], x.shape[1]))
        unique[inverse] = x
    else:
        unique, inverse = torch.unique(x, dim=0, return_inverse=True)
    first = torch.empty(unique.shape[0], dtype=torch.long, device=x.device)
    first.scatter_(0, inverse, torch.arange(x.shape[0], device=x.device))
    return unique, inverse, first


def _shared_prefix_logits(model, prompts: Tensor, completions: Tensor) -> Tensor:
    """Logits (N, L, V) at the answer positions, each distinct prompt and each distinct answer run once.

    GRPO's N = B·G rows repeat: G rows share each prompt, and a confident model samples the same answer
    several times. The B' distinct prompts run once; their keys and values are indexed out to the U
    distinct (prompt, answer) rows, which run only their answer tokens; the logits are then indexed back
    to the N rows. The same function as one pass over every row (gradients flow through the indexing,
    summing over repeats), with the repeated work left out.
    """
    P = prompts.shape[1]
    _, row_of, first = _unique_rows(torch.cat([prompts, completions], dim=1))  # N rows -> U distinct
    u_prompts, u_comps = prompts[first], completions[first]  # (U, P), (U, L)
    p_unique, p_of, _ = _unique_rows(u_prompts)  # U rows -> B' distinct prompts
    h_prompt, past = model.hidden(p_unique, last_only=True)  # (B', 1, d)
    h = h_prompt[p_of]  # (U, 1, d): predicts o_1
    if completions.shape[1] > 1:
        past = [(k.index_select(0, p_of), v.index_select(0, p_of)) for k, v in past]  # (U, nh, P, hs)
        h = torch.cat([h, model.hidden(u_comps[:, :-1], past, P)[0]], dim=1)  # (U, L, d): predict o_1..o_L
    return model.lm_head(h)[row_of]  # (N, L, V)


def completion_log_probs(model, prompts: Tensor, completions: Tensor, with_entropy: bool = False,
                         with_values: bool = False, prompt_mask: Tensor | None = None,
                         share_prefixes: bool = False) -> dict[str, Tensor]:
    """Per-token log-probabilities of given answers (differentiable).

    Args:
        model: the policy (or reference) model.
        prompts: (LongTensor, [B, P]).
        completions: (LongTensor, [B, L]).
        with_entropy: also return ``entropy`` [B, L] of π(·| q, o_<t).
        with_values: also return ``values`` [B, L] = V(s_t) (model needs a value head).
        prompt_mask: (bool Tensor, [B, P]) False on left padding (passed on as ``attention_mask``); None: none.
        share_prefixes: run each distinct prompt and each distinct (prompt, answer) once
            (``_shared_prefix_logits``; a TinyGPT, no ``prompt_mask``, not ``with_values``). The same
            values and gradients up to float rounding.

    Returns:
        dict with ``log_probs`` (Tensor, [B, L]) and the optional extras.
    """
    if prompts.ndim != 2 or completions.ndim != 2 or prompts.shape[0] != completions.shape[0]:
        raise ValueError(f"prompts, completions: expected [B, P] and [B, L] with the same B, "
                         f"got {tuple(prompts.shape)} and {tuple(completions.shape)}")
    P = prompts.shape[1]
    seq = torch.cat([prompts, completions], dim=1)[:, :-1]  # (B, P + L - 1): inputs that predict each answer token
    if prompt_mask is not None and prompt_mask.shape != prompts.shape:
        raise ValueError(f"prompt_mask: expected shape {tuple(prompts.shape)}, got {tuple(prompt_mask.shape)}")
    kw = {} if prompt_mask is None else {"attention_mask": F.pad(prompt_mask.long(), (0, seq.shape[1] - P), value=1)}
    if share_prefixes:
        _check_shareable(model, prompt_mask)
        if with_values:
            raise ValueError("share_prefixes: expected with_values=False (the value head takes the plain pass)")
        logits = _shared_prefix_logits(model, prompts, completions).float()  # (B, L, V)
    else:
        logits, values = model.logits_and_values(seq, **kw) if with_values else (model(seq, **kw)[0], None)
        logits = logits[:, P - 1:, :].float()  # (B, L, V): position P-1+t predicts o_t
    log_probs = torch.log_softmax(logits, dim=-1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)  # (B, L)
    out = {"log_probs": log_probs}
    if with_entropy:
        out["entropy"] = entropy(logits)
    if with_values:
        out["values"] = values[:, P - 1:]
    return out
