"""Sampling that keeps the policy's graph: GRPO's answers, their log-probs and π_ref's, from one pass.

With μ = 1 the policy that samples is the policy that is trained (π_θold = π_θ), so the logits that
chose each token are the logits whose log-probability GRPO differentiates. :func:`sample_with_log_probs`
samples as :func:`~ppo_grpo_lab.llm.sampling.generate` does with ``share_prefixes=True`` (each distinct
prompt, then each distinct (prompt, answer so far), runs once per step from the KV cache) but with
autograd on, and returns

.. math::

    \\log \\pi_\\theta(o_t \\mid q, o_{<t}), \\qquad \\log \\pi_\\text{ref}(o_t \\mid q, o_{<t}), \\qquad
    \\mathcal H\\big(\\pi_\\theta(\\cdot \\mid q, o_{<t})\\big) \\qquad [N, L]

so the separate π_θ and π_ref passes of :func:`~ppo_grpo_lab.llm.sampling.completion_log_probs` are
left out, and rows that have emitted EOS stop running (their tokens are PAD and masked). It is the
same function as the plain passes on fewer rows: values and gradients agree up to float rounding
(~1e-6), which can flip a sampled token, so GRPO uses it only when asked (``GRPOConfig(share_prefixes=True)``,
μ = 1, no dynamic sampling). The random numbers are those of :func:`~ppo_grpo_lab.llm.sampling.generate`
(each row draws its own token; a finished row's draw is thrown away as before). Positions after a row's
EOS hold log-prob 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..entropy import _entropy
from .sampling import _check_shareable, _draw, _stop, _unique_rows, completion_mask
from .tokenizer import EOS, PAD

__all__ = ["sample_with_log_probs"]


def _next_logits(model, tokens: Tensor, past, pos: int):
    """Logits (U, V) for the next token after the last position of ``tokens`` (U, T), and the new cache."""
    h, past = model.hidden(tokens, past, pos, last_only=True)  # (U, 1, d)
    return model.lm_head(h[:, -1]), past


def _extend(model, past, parent: Tensor, tokens: Tensor, pos: int):
    """Run one position for each new distinct prefix: the parent's cache rows, then the token."""
    if past is None:
        return None, None
    past = [(k.index_select(0, parent), v.index_select(0, parent)) for k, v in past]  # (U', nh, pos, hs)
    return _next_logits(model, tokens[:, None], past, pos)


def sample_with_log_probs(model, prompts: Tensor, max_new_tokens: int, temperature: float = 1.0,
                          generator: torch.Generator | None = None, reference=None, shard=None,
                          eos_id: int = EOS, pad_id: int = PAD, prompt_mask: Tensor | None = None) -> dict[str, Tensor]:
    """Sample answers and keep their log-probs under ``model`` (differentiable) and ``reference``.

    Args:
        model: the policy, a :class:`~ppo_grpo_lab.llm.model.TinyGPT` (autograd records its pass).
        prompts: (LongTensor, [N, P]) unpadded prompts (GRPO: each question G times).
        max_new_tokens, temperature, generator, shard, eos_id, pad_id: as in
            :func:`~ppo_grpo_lab.llm.sampling.generate`.
        reference: the frozen π_ref (a TinyGPT) run on the same prefixes without a graph, or None.
        prompt_mask: must be None (left-padded prompts are not shared; a ValueError says so).

    Returns:
        dict with ``completions`` (LongTensor, [N, L]), ``mask`` (bool Tensor, [N, L]), ``log_probs``
        (Tensor, [N, L], differentiable), ``entropy`` (Tensor, [N, L], detached) and, with a reference,
        ``ref_log_probs`` (Tensor, [N, L]); L = ``max_new_tokens``.
    """
    _check_shareable(model, prompt_mask)
    if prompts.ndim != 2 or max_new_tokens < 1 or temperature < 0:
        raise ValueError(f"prompts, max_new_tokens, temperature: expected [N, P], >= 1 and >= 0, got "
                         f"{tuple(prompts.shape)}, {max_new_tokens} and {temperature}")
    (N, P), V = prompts.shape, model.cfg.vocab_size
    out = torch.full((N, max_new_tokens), pad_id, dtype=torch.long, device=prompts.device)
    done = torch.zeros(N, dtype=torch.bool, device=prompts.device)
    unique, node_of, _ = _unique_rows(prompts)  # (U, P), (N,): each row's distinct prefix
    logits, past = _next_logits(model, unique, None, 0)  # (U, V)
    with torch.no_grad():
        ref_logits, ref_past = _next_logits(reference, unique, None, 0) if reference is not None else (None, None)
    lp, ref_lp, zs = [], [], []  # per step: chosen-token log-probs, π_ref's, the detached logits
    for t in range(max_new_tokens):
        z = logits.index_select(0, node_of).float()  # (N, V); finished rows read node 0 (thrown away)
        nxt = _draw(z.detach(), temperature, generator, shard)  # (N,)
        out[:, t] = nxt.masked_fill_(done, pad_id)
        logp = torch.log_softmax(z, -1)  # (N, V)
        lp.append(logp.gather(1, nxt[:, None]))  # (N, 1)
        zs.append(z.detach())
        with torch.no_grad():
            if reference is not None:
                ref_lp.append(torch.log_softmax(ref_logits.index_select(0, node_of).float(), -1).gather(1, nxt[:, None]))
        done |= nxt == eos_id
        if _stop(done, shard) or t == max_new_tokens - 1:
            break
        alive = (~done).nonzero().squeeze(1)  # rows still answering
        key, inverse = torch.unique(node_of[alive] * V + nxt[alive], return_inverse=True)  # distinct (parent, token)
        node_of = torch.zeros_like(node_of).index_put_((alive,), inverse)
        parent, tokens = torch.div(key, V, rounding_mode="floor"), key % V
        logits, past = _extend(model, past, parent, tokens, P + t)
        with torch.no_grad():
            ref_logits, ref_past = _extend(reference, ref_past, parent, tokens, P + t)
    mask = completion_mask(out, eos_id)
    ent = _entropy(torch.stack(zs, 1))  # (N, t+1): the plain pass's per-token entropy, on the same logits
    res = {"completions": out, "mask": mask, "log_probs": _columns(lp, mask), "entropy": _columns([ent], mask)}
    if reference is not None:
        res["ref_log_probs"] = _columns(ref_lp, mask)
    return res


def _columns(cols: list[Tensor], mask: Tensor) -> Tensor:
    """The columns (each [N, 1], or one [N, t+1]) as (Tensor, [N, L]), 0 after each row's EOS and past a stop."""
    x = torch.cat([c.reshape(c.shape[0], -1) for c in cols], dim=1)  # (N, t+1)
    x = F.pad(x, (0, mask.shape[1] - x.shape[1]))
    return x.masked_fill(~mask, 0.0)
