"""A tiny causal transformer (GPT-style, pre-LayerNorm) with a KV cache.

For tokens ``x_1..x_T`` it returns next-token logits ``[B, T, V]``:

.. math::

    h^0_t = E[x_t] + P[t], \\quad
    h^{l} = h^{l-1} + \\operatorname{Attn}(\\operatorname{LN}(h^{l-1})), \\quad
    h^{l} \\mathrel{+}= \\operatorname{MLP}(\\operatorname{LN}(h^{l})), \\quad
    \\text{logits} = W\\,\\operatorname{LN}(h^{L})

Attention is causal: position t sees positions ≤ t. The KV cache stores each layer's keys
and values so that sampling one more token costs one position, not the whole prefix.
A value head (``with_value_head=True``) adds ``V(s_t) = w^T LN(h^L_t)`` for PPO's critic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GPTConfig", "TinyGPT"]


@dataclass
class GPTConfig:
    """Size of the transformer.

    Attributes:
        vocab_size: V, number of token ids (from the tokenizer).
        block_size: longest sequence (prompt + answer) the position table covers, e.g. 16–32.
        n_layer: transformer blocks, 1–4 here (a laptop CPU model).
        n_head: attention heads; must divide n_embd.
        n_embd: width d, 32–128 here.
    """

    vocab_size: int = 19
    block_size: int = 24
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected a positive integer, got {v!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd: expected a multiple of n_head={self.n_head}, got {self.n_embd}")


class _Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(), nn.Linear(4 * cfg.n_embd, cfg.n_embd))

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None, last_only: bool = False):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (B, nh, T_past + T, hs)
            v = torch.cat([past[1], v], dim=2)
        # causal over the new positions; every cached key is visible to each of them
        mask = None
        if past is not None and T > 1:
            S = k.shape[2]  # T_past + T keys; new position i sees keys up to T_past + i
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)  # (T, S)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=past is None and T > 1)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        if last_only:  # the other positions' outputs are not needed (their keys and values are)
            x, y = x[:, -1:], y[:, -1:]  # (B, 1, C)
        x = x + self.proj(y)
        x = x + self.mlp(self.ln2(x))
        return x, (k, v)


class TinyGPT(nn.Module):
    """Causal transformer language model.

    Args:
        cfg: a :class:`GPTConfig`.
        with_value_head: add a scalar head for a critic (PPO).
    """

    def __init__(self, cfg: GPTConfig, with_value_head: bool = False):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList([_Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.value_head = nn.Linear(cfg.n_embd, 1) if with_value_head else None
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def num_params(self) -> int:
        """Number of parameters (all of them, including embeddings)."""
        return sum(p.numel() for p in self.parameters())

    def hidden(self, idx: Tensor, past=None, pos_offset: int = 0, last_only: bool = False):
        """Final hidden states (B, T, d) and the new cache (one (k, v) pair per layer).

        ``last_only=True``: only the last position's hidden state (B, 1, d) (the last block's projection and
        MLP skip the other positions, whose keys and values the cache still holds in full).
        """
        if idx.ndim != 2:
            raise ValueError(f"idx: expected a 2-D LongTensor [B, T], got shape {tuple(idx.shape)}")
        T = idx.shape[1]
        if pos_offset + T > self.cfg.block_size:
            raise ValueError(f"idx: expected at most block_size={self.cfg.block_size} positions, got {pos_offset + T}")
        if past is not None and past[0][0].shape[2] != pos_offset:
            raise ValueError(f"pos_offset: expected the KV cache length {past[0][0].shape[2]}, got {pos_offset}")
        pos = torch.arange(pos_offset, pos_offset + T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)  # (B, T, d)
        new_past = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if past is None else past[i], last_only and i == len(self.blocks) - 1)
            new_past.append(kv)
        return self.ln_f(x), new_past

    def forward(self, idx: Tensor, past=None, pos_offset: int = 0):
        """Logits (B, T, V) for the next token at every position, and the new KV cache.

        Args:
            idx: (LongTensor, [B, T]) token ids.
            past: KV cache from a previous call (the T new positions see all of it, and each other causally), or None.
            pos_offset: position of ``idx[:, 0]`` (the cache length).
        """
        h, new_past = self.hidden(idx, past, pos_offset)
        return self.lm_head(h), new_past

    def logits_and_values(self, idx: Tensor):
        """(logits [B, T, V], values [B, T]) in one pass; needs ``with_value_head=True``."""
        if self.value_head is None:
            raise ValueError("logits_and_values: expected a model built with with_value_head=True, got none")
        h, _ = self.hidden(idx)
        return self.lm_head(h), self.value_head(h).squeeze(-1)
