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
EOS hold log-prob 0. The TinyGPT runs layer by layer on its parameters (:func:`_next_logits`: the
operations of ``TinyGPT.hidden`` without ``nn.Module.__call__``, rows kept 2-D, each weight transposed
once per call), and π_ref under ``torch.inference_mode``: at these sizes the per-operation overhead, not
the arithmetic, is most of a step.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..entropy import _entropy
from .sampling import _check_shareable, _draw, _stop, _unique_rows, completion_mask
from .tokenizer import EOS, PAD

__all__ = ["sample_with_log_probs"]


def _weights(model) -> tuple:
    """A TinyGPT's parameters as plain tuples, read once per call: (tok_emb, pos_emb, ln_f weight, bias, eps,
    lm_headᵀ) and one tuple per block (n_head, ln1 w/b/eps, qkv b/Wᵀ, proj b/Wᵀ, ln2 w/b/eps, fc b/Wᵀ, out b/Wᵀ).
    Each linear layer's weight is transposed once here, not at every position (``F.linear`` is
    ``addmm(b, x, Wᵀ)``: the same products).
    """
    blocks = [(b.n_head, b.ln1.weight, b.ln1.bias, b.ln1.eps, b.qkv.bias, b.qkv.weight.t(), b.proj.bias,
               b.proj.weight.t(), b.ln2.weight, b.ln2.bias, b.ln2.eps, b.mlp[0].bias, b.mlp[0].weight.t(),
               b.mlp[2].bias, b.mlp[2].weight.t()) for b in model.blocks]
    return (model.tok_emb.weight, model.pos_emb.weight, model.ln_f.weight, model.ln_f.bias, model.ln_f.eps,
            model.lm_head.weight.t()), blocks


def _block(w: tuple, x: Tensor, B: int, T: int, past, last_only: bool):
    """One TinyGPT block (``_Block.forward``'s operations on its parameters ``w``, from :func:`_weights`, without
    ``nn.Module.__call__``, on rows kept 2-D): x (B·T, d) -> (B·T, d), or (B, d) with ``last_only``; and the
    layer's cache: keys and values in one tensor (B, 2, nh, T_past + T, hs), so that reindexing and growing
    it is one operation each.
    """
    nh, ln1_w, ln1_b, eps1, qkv_b, qkv_wt, proj_b, proj_wt, ln2_w, ln2_b, eps2, fc_b, fc_wt, out_b, out_wt = w
    C = x.shape[1]
    qkv = torch.addmm(qkv_b, torch.layer_norm(x, (C,), ln1_w, ln1_b, eps1), qkv_wt)  # (B·T, 3C)
    if T == 1:
        q, kv = qkv.view(B, 3, nh, 1, C // nh).split([1, 2], dim=1)  # (B, 1, nh, 1, hs), (B, 2, nh, 1, hs)
    else:
        q, kv = qkv.view(B, T, 3, nh, C // nh).permute(0, 2, 3, 1, 4).split([1, 2], dim=1)  # (B, 1|2, nh, T, hs)
    if past is not None:
        kv = torch.cat([past, kv], dim=3)  # (B, 2, nh, T_past + T, hs)
    q, (k, v) = q.squeeze(1), kv.unbind(1)  # (B, nh, T, hs), (B, nh, S, hs) each
    mask = None
    if past is not None and T > 1:  # the new positions see every cached key and each other causally
        S = k.shape[2]
        mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)  # (T, S)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=past is None and T > 1)
    y = y.reshape(B, C) if T == 1 else y.transpose(1, 2).reshape(B * T, C)  # (B·T, C)
    if last_only and T > 1:  # the other positions' outputs are not needed (their keys and values are)
        x, y = x.view(B, T, C)[:, -1], y.view(B, T, C)[:, -1]  # (B, C)
    x = x + torch.addmm(proj_b, y, proj_wt)
    h = torch.addmm(fc_b, torch.layer_norm(x, (C,), ln2_w, ln2_b, eps2), fc_wt)  # (rows, 4C)
    return x + torch.addmm(out_b, F.gelu(h), out_wt), kv


def _next_logits(weights: tuple, tokens: Tensor, past, pos: int):
    """Logits (U, V) for the next token after the last position of ``tokens`` (U, T), and the new cache (one
    (U, 2, nh, pos + T, hs) tensor of keys and values per layer).

    ``model.hidden(tokens, past, pos, last_only=True)`` followed by ``lm_head``, run layer by layer on the
    parameters ``weights`` (:func:`_weights`): the same operations without ``nn.Module.__call__``.
    """
    (tok_w, pos_w, lnf_w, lnf_b, eps, head_wt), blocks = weights
    U, T = tokens.shape
    if pos + T > pos_w.shape[0]:
        raise ValueError(f"idx: expected at most block_size={pos_w.shape[0]} positions, got {pos + T}")
    x = (torch.embedding(tok_w, tokens) + pos_w[pos:pos + T]).view(U * T, -1)  # (U·T, d)
    new_past, last = [], len(blocks) - 1
    for i, w in enumerate(blocks):
        x, kv = _block(w, x, U, T, None if past is None else past[i], i == last)  # kv: (U, 2, nh, pos + T, hs)
        new_past.append(kv)
    return torch.mm(torch.layer_norm(x, (x.shape[1],), lnf_w, lnf_b, eps), head_wt), new_past  # (U, V)


def _extend(weights, past, parent: Tensor, tokens: Tensor, pos: int):
    """Run one position for each new distinct prefix: the parent's cache rows, then the token."""
    if past is None:
        return None, None
    past = [kv.index_select(0, parent) for kv in past]  # (U', 2, nh, pos, hs)
    return _next_logits(weights, tokens[:, None], past, pos)


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
    weights, ref_weights = _weights(model), _weights(reference) if reference is not None else None
    logits, past = _next_logits(weights, unique, None, 0)  # (U, V)
    with torch.inference_mode():  # π_ref keeps no graph (and no version counters)
        ref_logits, ref_past = _next_logits(ref_weights, unique, None, 0) if reference is not None else (None, None)
    lp, ref_lp, zs = [], [], []  # per step: chosen-token log-probs, π_ref's, the detached logits
    for t in range(max_new_tokens):
        z = logits.index_select(0, node_of).float()  # (N, V); finished rows read node 0 (thrown away)
        nxt = _draw(z.detach(), temperature, generator, shard)  # (N,)
        out[:, t] = nxt.masked_fill_(done, pad_id)
        logp = torch.log_softmax(z, -1)  # (N, V)
        lp.append(logp.gather(1, nxt[:, None]))  # (N, 1)
        zs.append(z.detach())
        with torch.inference_mode():
            if reference is not None:
                ref_lp.append(torch.log_softmax(ref_logits.index_select(0, node_of).float(), -1).gather(1, nxt[:, None]))
        done |= nxt == eos_id
        if _stop(done, shard) or t == max_new_tokens - 1:
            break
        alive = (~done).nonzero().squeeze(1)  # rows still answering
        key, inverse = torch.unique(node_of[alive] * V + nxt[alive], return_inverse=True)  # distinct (parent, token)
        node_of = torch.zeros_like(node_of).index_put_((alive,), inverse)
        parent, tokens = torch.div(key, V, rounding_mode="floor"), key % V
        logits, past = _extend(weights, past, parent, tokens, P + t)
        with torch.inference_mode():
            ref_logits, ref_past = _extend(ref_weights, ref_past, parent, tokens, P + t)
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
