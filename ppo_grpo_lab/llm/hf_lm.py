"""Any ``transformers`` causal LM, with its tokenizer, inside our trainers.

Our trainers talk to a model and a tokenizer through two small interfaces:

- the model: ``model(idx, past=None, pos_offset=0, attention_mask=None) -> (logits [B, T, V], past)``,
  as :class:`~ppo_grpo_lab.llm.model.TinyGPT` is called (TinyGPT itself never sees an attention mask:
  its prompts have equal length);
- the tokenizer: ``pad_id``, ``eos_id``, ``vocab_size``, ``encode_prompts(texts) -> (ids [B, P],
  mask [B, P] or None)`` and ``decode(ids) -> text`` (the text before the first EOS, special tokens
  dropped), as :class:`~ppo_grpo_lab.llm.tokenizer.CharTokenizer` provides them.

:class:`CausalLMAdapter` and :class:`HFTokenizer` give a ``transformers`` model (GPT-2, Llama, Qwen2, ...)
and its tokenizer these interfaces. Prompts of unequal length are *left*-padded so that every answer starts
at the same column; the padding mask travels with the prompts into generation and into every log-prob pass,
where the adapter turns it into the model's ``attention_mask`` and into position ids that count only real
tokens (``cumsum(mask) − 1``), so a padded row gets the same logits as the row alone.
:func:`as_model` and :func:`as_tokenizer` wrap what needs wrapping; the trainers call them, so
``GRPOTrainer(task, hf_tokenizer, policy=hf_model)`` works. Nothing here imports ``transformers``.
"""
from __future__ import annotations

import inspect
from typing import Callable

import torch
from torch import Tensor

__all__ = ["CausalLMAdapter", "HFTokenizer", "as_model", "as_tokenizer"]


class CausalLMAdapter(torch.nn.Module):
    """A ``transformers`` causal LM behind TinyGPT's interface: ``model(idx, past, pos_offset) -> (logits, past)``.

    ``logits`` are (Tensor, [B, T, V]); ``past`` is the library's own cache object, passed back
    unchanged on the next call (one new position per call, at ``pos_offset``). With an
    ``attention_mask`` (LongTensor or bool, [B, T_past + T], 0 on left padding) the positions are
    ``cumsum(mask) − 1`` over each row's real tokens instead. Parameters are the wrapped model's
    (``adapter.model`` is the ``transformers`` model, e.g. to ``save_pretrained`` it).

    Args:
        model: e.g. ``GPT2LMHeadModel``, ``LlamaForCausalLM``, ``Qwen2ForCausalLM`` (anything whose
            ``forward(input_ids, attention_mask, position_ids, use_cache, <cache>)`` returns ``.logits`` and the cache).
    """

    def __init__(self, model):
        super().__init__()
        params = inspect.signature(model.forward).parameters if hasattr(model, "forward") else {}
        # transformers 5 calls the cache argument ``cache``; 4.x ``past_key_values``
        self.cache_arg = "cache" if "cache" in params else "past_key_values"
        if self.cache_arg not in params or "position_ids" not in params:
            raise ValueError(f"model: expected a causal LM whose forward takes position_ids and a KV cache, "
                             f"got {type(model).__name__}")
        self.model = model
        self.train(model.training)  # the wrapped model's mode (dropout acts only in training mode)

    def forward(self, idx, past=None, pos_offset: int = 0, attention_mask: Tensor | None = None):
        """Logits (B, T, V) for the next token at every position, and the cache (see the class docstring)."""
        if idx.ndim != 2:
            raise ValueError(f"idx: expected a 2-D LongTensor [B, T], got shape {tuple(idx.shape)}")
        B, T = idx.shape
        kw = {} if past is None else {self.cache_arg: past}
        if attention_mask is None:
            pos = torch.arange(pos_offset, pos_offset + T, device=idx.device).expand(B, T)  # (B, T)
        else:
            if attention_mask.ndim != 2 or attention_mask.shape[0] != B or attention_mask.shape[1] < T:
                raise ValueError(f"attention_mask: expected [B={B}, T_past + {T}], got {tuple(attention_mask.shape)}")
            mask = attention_mask.long()
            pos = (mask.cumsum(1) - 1).clamp(min=0)[:, -T:]  # (B, T): real tokens before each one
            kw["attention_mask"] = mask
        out = self.model(input_ids=idx, position_ids=pos, use_cache=True, **kw)
        return out.logits, getattr(out, self.cache_arg)

    def num_params(self) -> int:
        """Number of parameters of the wrapped model."""
        return sum(p.numel() for p in self.parameters())


class HFTokenizer:
    """A ``transformers`` tokenizer behind CharTokenizer's interface (see the module docstring).

    Args:
        tokenizer: e.g. ``AutoTokenizer.from_pretrained(...)`` or :func:`~ppo_grpo_lab.llm.hf.tokenizer_to_hf`'s.
        chat: wrap each prompt in the tokenizer's chat template as one user message (instruct models),
            with ``system`` as the system message if given.
        format_prompt: ``str -> str`` applied to each task prompt first (e.g. add an instruction).

    Attributes:
        eos_id: the tokenizer's EOS (an answer ends there); pad_id: its PAD, or EOS when it has none.
        vocab_size: ``len(tokenizer)``.
    """

    def __init__(self, tokenizer, chat: bool = False, system: str | None = None,
                 format_prompt: Callable[[str], str] | None = None):
        if getattr(tokenizer, "eos_token_id", None) is None:
            raise ValueError(f"tokenizer: expected a transformers tokenizer with an EOS token, got {type(tokenizer).__name__}")
        self.hf, self.chat, self.system, self.format_prompt = tokenizer, chat, system, format_prompt
        self.eos_id = int(tokenizer.eos_token_id)
        self.pad_id = int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else self.eos_id
        self.bos_id = tokenizer.bos_token_id
        self.vocab_size = len(tokenizer)

    def _text(self, prompt: str) -> str:
        text = self.format_prompt(prompt) if self.format_prompt is not None else prompt
        if not self.chat:
            return text
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": text}]
        return self.hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def encode_prompts(self, texts: list[str]) -> tuple[Tensor, Tensor | None]:
        """``(ids, mask)``: (LongTensor, [B, P]) left-padded with PAD, and (bool Tensor, [B, P]) False on the
        padding, or None when every prompt has the same length. Example (CharTokenizer's ids):
        ``["1+2=", "10+2="]`` → ids ``[[0, 1, 4, 13, 5, 16], [1, 4, 3, 13, 5, 16]]``, mask row 0 ``[F, T, T, T, T, T]``.
        """
        rows = self.hf([self._text(t) for t in texts], add_special_tokens=not self.chat)["input_ids"]
        P = max(len(r) for r in rows)
        ids = torch.tensor([[self.pad_id] * (P - len(r)) + list(r) for r in rows], dtype=torch.long)
        mask = torch.arange(P)[None, :] >= torch.tensor([P - len(r) for r in rows])[:, None]  # (B, P)
        return ids, (None if bool(mask.all()) else mask)

    def decode(self, ids, stop_at_eos: bool = True) -> str:
        """Text of ``ids`` (a list or a 1-D Tensor), stopping at the first EOS; special tokens dropped."""
        ids = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        if stop_at_eos and self.eos_id in ids:
            ids = ids[:ids.index(self.eos_id)]
        return self.hf.decode(ids, skip_special_tokens=True)

    def decode_batch(self, ids: Tensor) -> list[str]:
        """Decode each row of (LongTensor, [B, L])."""
        return [self.decode(row) for row in ids]


def as_tokenizer(tok):
    """``tok`` if it has our interface (``encode_prompts``), a ``transformers`` tokenizer wrapped in
    :class:`HFTokenizer`; anything else raises ValueError.
    """
    if hasattr(tok, "encode_prompts"):
        return tok
    if hasattr(tok, "eos_token_id") and hasattr(tok, "apply_chat_template"):
        return HFTokenizer(tok)
    raise ValueError(f"tok: expected a CharTokenizer, an HFTokenizer or a transformers tokenizer, got {type(tok).__name__}")


def as_model(model):
    """``model`` wrapped in :class:`CausalLMAdapter` if it is a ``transformers`` model, else unchanged (None too)."""
    if model is not None and type(model).__module__.startswith("transformers."):
        return CausalLMAdapter(model)
    return model
