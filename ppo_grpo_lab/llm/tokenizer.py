"""A character-level tokenizer for the toy tasks: digits, operators and special tokens.

Every character of a task string is one token; three special tokens frame a sequence:

======= ==== ==========================================
token   id   role
======= ==== ==========================================
<pad>   0    padding after the end (masked out)
<bos>   1    start of every prompt
<eos>   2    end of an answer (the policy must emit it)
======= ==== ==========================================

followed by ``0123456789+-*=,>`` (ids 3..18). Worked example:
``encode("12+3=")`` → ``[1, 4, 5, 13, 6, 16]`` (BOS added).
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["CharTokenizer", "PAD", "BOS", "EOS"]

PAD, BOS, EOS = 0, 1, 2
ALPHABET = "0123456789+-*=,>"


class CharTokenizer:
    """Maps task strings to token ids and back.

    Attributes:
        vocab_size: number of tokens V (3 specials + the alphabet).
        pad_id, bos_id, eos_id: the special ids 0, 1, 2.
    """

    def __init__(self, alphabet: str = ALPHABET):
        if len(set(alphabet)) != len(alphabet):
            raise ValueError(f"alphabet: expected distinct characters, got {alphabet!r}")
        self.alphabet = alphabet
        self.pad_id, self.bos_id, self.eos_id = PAD, BOS, EOS
        self.stoi = {c: i + 3 for i, c in enumerate(alphabet)}
        self.itos = {i: c for c, i in self.stoi.items()}
        self.vocab_size = len(alphabet) + 3

    def encode(self, text: str, bos: bool = True, eos: bool = False) -> list[int]:
        """Token ids of ``text`` (optionally framed by BOS / EOS)."""
        bad = sorted({c for c in text if c not in self.stoi})
        if bad:
            raise ValueError(f"text: expected characters from {self.alphabet!r}, got {bad} in {text!r}")
        ids = [self.stoi[c] for c in text]
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids, stop_at_eos: bool = True) -> str:
        """Text of ``ids``: specials dropped, stopping at the first EOS when asked."""
        out = []
        for i in (ids.tolist() if isinstance(ids, Tensor) else ids):
            if i == EOS and stop_at_eos:
                break
            if i in self.itos:
                out.append(self.itos[i])
        return "".join(out)

    def encode_batch(self, texts: list[str], bos: bool = True) -> Tensor:
        """(LongTensor, [B, P]) prompts of equal length P (raises if lengths differ)."""
        rows = [self.encode(t, bos=bos) for t in texts]
        lengths = {len(r) for r in rows}
        if len(lengths) != 1:
            raise ValueError(f"texts: expected prompts of equal length (fixed-width formatting), got lengths {sorted(lengths)}")
        return torch.tensor(rows, dtype=torch.long)

    def encode_prompts(self, texts: list[str]) -> tuple[Tensor, None]:
        """``(ids, None)``: (LongTensor, [B, P]) from :meth:`encode_batch`, and no padding mask (every prompt
        has the same length). The trainers encode prompts through this method, which
        :class:`~ppo_grpo_lab.llm.hf_lm.HFTokenizer` implements with left padding and a mask.
        """
        return self.encode_batch(texts), None

    def decode_batch(self, ids: Tensor) -> list[str]:
        """Decode each row of (LongTensor, [B, L])."""
        return [self.decode(row) for row in ids]
