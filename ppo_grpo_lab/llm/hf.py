"""A bridge to Hugging Face: TinyGPT ↔ ``transformers.GPT2LMHeadModel``, CharTokenizer → a fast tokenizer.

:class:`~ppo_grpo_lab.llm.model.TinyGPT` is a GPT-2 of its own size: pre-LayerNorm blocks
(ε = 1e-5), learned positions, exact (erf) GELU, an MLP of width 4d, attention scaled by
``1/sqrt(d/n_head)``, no dropout and an output head with no bias that is *not* tied to the token
embedding. A ``GPT2LMHeadModel`` with the matching config computes the same function, so copying the
weights gives the same logits (tested to 1e-5):

=====================  =====================================  ======================
TinyGPT                GPT2LMHeadModel                        note
=====================  =====================================  ======================
``tok_emb``            ``transformer.wte``                    [V, d]
``pos_emb``            ``transformer.wpe``                    [block_size, d]
``blocks.i.ln1/ln2``   ``transformer.h.i.ln_1/ln_2``
``blocks.i.qkv``       ``transformer.h.i.attn.c_attn``        Conv1D: weight transposed
``blocks.i.proj``      ``transformer.h.i.attn.c_proj``        transposed
``blocks.i.mlp.0/2``   ``transformer.h.i.mlp.c_fc/c_proj``    transposed
``ln_f``, ``lm_head``  ``transformer.ln_f``, ``lm_head``      head untied, no bias
=====================  =====================================  ======================

A GPT-2 whose config does not describe this function (tied embeddings, another activation such as
GPT-2's own ``gelu_new``, scaled or reordered attention, another MLP width or LayerNorm ε) is
refused with a ValueError that names the field. Dropout only acts in training mode: a GPT-2 with
dropout converts to a TinyGPT without it. The tokenizer side builds a ``PreTrainedTokenizerFast``
whose ids are :class:`~ppo_grpo_lab.llm.tokenizer.CharTokenizer`'s (PAD 0, BOS 1, EOS 2, then one
id per character), BOS added in front as ``encode`` does. :class:`CausalLMAdapter` (from
:mod:`~ppo_grpo_lab.llm.hf_lm`, with the tokenizer side :class:`~ppo_grpo_lab.llm.hf_lm.HFTokenizer`)
gives any ``transformers`` causal LM TinyGPT's call signature, so that :func:`~ppo_grpo_lab.llm.generate`,
:func:`~ppo_grpo_lab.llm.completion_log_probs` and the trainers run on it.

``transformers`` and ``tokenizers`` are optional: ``pip install "ppo-grpo-lab[hf]"``. They are
imported when a function here is called, never by ``import ppo_grpo_lab``.
"""
from __future__ import annotations

import torch

from .hf_lm import CausalLMAdapter
from .model import GPTConfig, TinyGPT
from .tokenizer import CharTokenizer

__all__ = ["to_hf", "from_hf", "tokenizer_to_hf", "CausalLMAdapter"]

_INSTALL = 'this needs the optional Hugging Face packages: pip install "ppo-grpo-lab[hf]"'
_EXACT_GELU = ("gelu", "gelu_python")  # erf GELU, as torch.nn.GELU(); gelu_new is GPT-2's tanh approximation


def _transformers():
    try:
        import transformers
    except ImportError as exc:
        raise ImportError(f"transformers is not installed; {_INSTALL}") from exc
    return transformers


def _tokenizers():
    try:
        import tokenizers
    except ImportError as exc:
        raise ImportError(f"tokenizers is not installed; {_INSTALL}") from exc
    return tokenizers


def _key_map(n_layer: int) -> dict[str, tuple[str, bool]]:
    """TinyGPT parameter name → (GPT-2 parameter name, transpose?) (Conv1D stores weights [in, out])."""
    keys = {"tok_emb.weight": ("transformer.wte.weight", False),
            "pos_emb.weight": ("transformer.wpe.weight", False),
            "ln_f.weight": ("transformer.ln_f.weight", False),
            "ln_f.bias": ("transformer.ln_f.bias", False),
            "lm_head.weight": ("lm_head.weight", False)}
    pairs = {"ln1": "ln_1", "ln2": "ln_2", "qkv": "attn.c_attn", "proj": "attn.c_proj",
             "mlp.0": "mlp.c_fc", "mlp.2": "mlp.c_proj"}
    for i in range(n_layer):
        for ours, theirs in pairs.items():
            linear = not ours.startswith("ln")
            keys[f"blocks.{i}.{ours}.weight"] = (f"transformer.h.{i}.{theirs}.weight", linear)
            keys[f"blocks.{i}.{ours}.bias"] = (f"transformer.h.{i}.{theirs}.bias", False)
    return keys


def _check_gpt2_config(c) -> None:
    """Raise ValueError naming the first GPT-2 config field that TinyGPT cannot represent."""
    d = c.n_embd
    expected = {
        "tie_word_embeddings": (c.tie_word_embeddings, False, "TinyGPT's lm_head is a separate matrix"),
        "activation_function": (c.activation_function in _EXACT_GELU, True,
                                f"TinyGPT uses the exact GELU, one of {_EXACT_GELU}"),
        "n_inner": (c.n_inner in (None, 4 * d), True, f"TinyGPT's MLP width is 4·n_embd = {4 * d}"),
        "layer_norm_epsilon": (c.layer_norm_epsilon, 1e-5, "TinyGPT's LayerNorm uses ε = 1e-5"),
        "scale_attn_weights": (c.scale_attn_weights, True, "TinyGPT scales attention by 1/sqrt(head size)"),
        "scale_attn_by_inverse_layer_idx": (c.scale_attn_by_inverse_layer_idx, False, "not in TinyGPT"),
        "reorder_and_upcast_attn": (c.reorder_and_upcast_attn, False, "not in TinyGPT"),
        "add_cross_attention": (c.add_cross_attention, False, "TinyGPT is decoder-only"),
    }
    for name, (got, want, why) in expected.items():
        if got != want:
            raise ValueError(f"config.{name}: expected a GPT-2 config that maps to TinyGPT ({why}), "
                             f"got {getattr(c, name)!r}")


def to_hf(model: TinyGPT, drop_value_head: bool = False, tokenizer: CharTokenizer | None = None):
    """A ``transformers.GPT2LMHeadModel`` computing the same logits as ``model``.

    Args:
        model: a :class:`TinyGPT` (its weights are copied, not shared).
        drop_value_head: a TinyGPT with a value head (PPO's critic) converts only when this is True;
            GPT2LMHeadModel has no place for the head, so it is left out.
        tokenizer: sets the config's ``bos/eos/pad_token_id`` (default: CharTokenizer's 1, 2, 0).

    Returns:
        ``GPT2LMHeadModel`` in eval mode on ``model``'s device and dtype; for ids [B, T] its
        ``.logits`` [B, T, V] equal ``model(ids)[0]``.
    """
    if not isinstance(model, TinyGPT):
        raise ValueError(f"model: expected a TinyGPT, got {type(model).__name__}")
    if model.value_head is not None and not drop_value_head:
        raise ValueError("model: expected a TinyGPT without a value head (GPT2LMHeadModel has none), got one; "
                         "pass drop_value_head=True to convert the policy part only")
    tf = _transformers()
    tok = tokenizer if tokenizer is not None else CharTokenizer()
    c = model.cfg
    hf_cfg = tf.GPT2Config(vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer,
                           n_head=c.n_head, n_inner=4 * c.n_embd, activation_function="gelu",
                           resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
                           tie_word_embeddings=False, bos_token_id=tok.bos_id, eos_token_id=tok.eos_id,
                           pad_token_id=tok.pad_id)
    ref = next(model.parameters())
    hf = tf.GPT2LMHeadModel(hf_cfg).to(device=ref.device, dtype=ref.dtype)
    ours = model.state_dict()
    theirs = {name: (ours[k].t() if transpose else ours[k]) for k, (name, transpose) in _key_map(c.n_layer).items()}
    _load_exact(hf, theirs)
    return hf.eval()


def from_hf(model) -> TinyGPT:
    """A :class:`TinyGPT` computing the same logits as a ``transformers.GPT2LMHeadModel``.

    Args:
        model: a ``GPT2LMHeadModel`` whose config maps (see the module docstring); ValueError otherwise.

    Returns:
        TinyGPT (no value head) in eval mode on the model's device and dtype.
    """
    tf = _transformers()
    if not isinstance(model, tf.GPT2LMHeadModel):
        raise ValueError(f"model: expected a transformers GPT2LMHeadModel, got {type(model).__name__}")
    c = model.config
    _check_gpt2_config(c)
    theirs = model.state_dict()
    if "lm_head.bias" in theirs:
        raise ValueError("model.lm_head: expected no bias (TinyGPT's head has none), got a bias")
    cfg = GPTConfig(vocab_size=c.vocab_size, block_size=c.n_positions, n_layer=c.n_layer, n_head=c.n_head,
                    n_embd=c.n_embd)
    ref = next(model.parameters())
    tiny = TinyGPT(cfg).to(device=ref.device, dtype=ref.dtype)
    ours = {k: (theirs[name].t() if transpose else theirs[name]) for k, (name, transpose) in _key_map(c.n_layer).items()}
    _load_exact(tiny, ours)
    return tiny.eval()


def _load_exact(module: torch.nn.Module, state: dict) -> None:
    """Copy ``state`` into ``module``'s parameters, requiring every parameter to be covered with its shape."""
    params = dict(module.named_parameters())
    missing = sorted(set(params) - set(state))
    if missing:
        raise ValueError(f"model: expected every parameter to have a counterpart, got none for {missing}")
    with torch.no_grad():
        for name, value in state.items():
            if params[name].shape != value.shape:
                raise ValueError(f"{name}: expected shape {tuple(params[name].shape)}, got {tuple(value.shape)}")
            params[name].copy_(value)


def tokenizer_to_hf(tok: CharTokenizer):
    """A ``transformers.PreTrainedTokenizerFast`` with ``tok``'s ids.

    Each character is one token (a ``tokenizers`` WordLevel model over single characters);
    ``<pad>``, ``<bos>``, ``<eos>`` are special tokens with ids 0, 1, 2, and BOS is put in front
    of every encoded text, as :meth:`CharTokenizer.encode` does. ``decode(ids,
    skip_special_tokens=True)`` gives the characters back with no spaces between them.
    Example: ``hf_tok("12+3=")["input_ids"]`` → ``[1, 4, 5, 13, 6, 16]``. A character outside the
    alphabet raises (there is no unknown token), as ``CharTokenizer.encode`` does.

    Args:
        tok: a :class:`CharTokenizer`.
    """
    if not isinstance(tok, CharTokenizer):
        raise ValueError(f"tok: expected a CharTokenizer, got {type(tok).__name__}")
    tk, tf = _tokenizers(), _transformers()
    specials = {"<pad>": tok.pad_id, "<bos>": tok.bos_id, "<eos>": tok.eos_id}
    vocab = {**specials, **tok.stoi}
    if sorted(vocab.values()) != list(range(tok.vocab_size)):
        raise ValueError(f"tok: expected ids 0..{tok.vocab_size - 1} without gaps, got {sorted(vocab.values())}")
    core = tk.Tokenizer(tk.models.WordLevel(vocab=vocab, unk_token="<unk>"))  # <unk> absent: unknown chars raise
    core.pre_tokenizer = tk.pre_tokenizers.Split(tk.Regex("."), behavior="isolated")
    core.post_processor = tk.processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", tok.bos_id)])
    core.decoder = tk.decoders.Fuse()
    core.add_special_tokens(list(specials))
    return tf.PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>",
                                      pad_token="<pad>", model_max_length=10**6)
