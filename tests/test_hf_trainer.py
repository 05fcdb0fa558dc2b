"""Any ``transformers`` causal LM with its tokenizer in our GRPO trainer (ppo_grpo_lab.llm.hf_lm).

Tiny randomly initialised GPT-2 and Llama configs built in code (nothing is downloaded), with the character
tokenizer converted by ``tokenizer_to_hf``; prompts of unequal length ("7+85=") are left-padded, so the
attention mask and the position ids are exercised.
"""
import copy
import os

import numpy as np
import pytest
import torch

from ppo_grpo_lab.llm import AdditionTask, CharTokenizer, GRPOConfig, GRPOTrainer, completion_log_probs, generate
from ppo_grpo_lab.llm import hf as bridge
from ppo_grpo_lab.llm.grpo_batch import collect_groups
from ppo_grpo_lab.llm.hf_lm import CausalLMAdapter, HFTokenizer, as_model, as_tokenizer
from ppo_grpo_lab.llm.sampling import completion_mask
from ppo_grpo_lab.llm.tasks import Problem

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")


class UnpaddedAddition(AdditionTask):
    """Addition without zero padding: prompts "7+85=" and "47+85=" differ in length."""

    name = "addition_unpadded"

    def _draw(self, rng):
        a, b = (int(x) for x in rng.integers(0, 10 ** self.digits, size=2))
        return Problem(f"{a}+{b}=", str(a + b))


def _gpt2(seed=0):
    torch.manual_seed(seed)  # GPT-2's own flavour: tied embeddings, tanh GELU (not a TinyGPT)
    cfg = transformers.GPT2Config(vocab_size=19, n_positions=16, n_embd=32, n_layer=2, n_head=4, bos_token_id=1,
                                  eos_token_id=2, pad_token_id=0)
    return transformers.GPT2LMHeadModel(cfg)


def _llama(seed=0):
    torch.manual_seed(seed)  # rotary positions, RMSNorm, grouped-query attention
    cfg = transformers.LlamaConfig(vocab_size=19, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                                   bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return transformers.LlamaForCausalLM(cfg)


def _peaked(model):
    """Large random weight matrices (std 0.3, not 0.02) so that logits vary (mapping mistakes then show)."""
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.3)
    return model.eval()


MODELS = {"gpt2": _gpt2, "llama": _llama}


def test_hf_tokenizer_left_pads_with_a_mask_and_decodes_to_eos():
    tok = HFTokenizer(bridge.tokenizer_to_hf(CharTokenizer()))
    assert (tok.pad_id, tok.eos_id, tok.vocab_size) == (0, 2, 19)
    ids, mask = tok.encode_prompts(["1+2=", "10+2="])
    assert ids.tolist() == [[0, 1, 4, 13, 5, 16], [1, 4, 3, 13, 5, 16]]
    assert mask.tolist() == [[False] + [True] * 5, [True] * 6]
    assert tok.encode_prompts(["1+2=", "3+4="])[1] is None  # equal lengths: no mask, as CharTokenizer
    assert tok.decode([4, 5, 2, 6, 0]) == "12" and tok.decode(torch.tensor([4, 0, 5])) == "12"
    assert as_tokenizer(tok) is tok and isinstance(as_tokenizer(tok.hf), HFTokenizer)
    char = CharTokenizer()
    assert as_tokenizer(char) is char and char.encode_prompts(["1+2="])[1] is None
    with pytest.raises(ValueError, match="tokenizer"):
        as_tokenizer("0123")
    hf_tok = bridge.tokenizer_to_hf(CharTokenizer())  # an instruct model's chat template, in miniature
    hf_tok.chat_template = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}="
    chat = HFTokenizer(hf_tok, chat=True, format_prompt=lambda p: "0" + p.rstrip("="))
    assert chat.encode_prompts(["1+2="])[0].tolist() == [[1, 3, 4, 13, 5, 16]]  # BOS once, from the template


@pytest.mark.parametrize("name", list(MODELS))
def test_left_padded_rows_get_their_unpadded_log_probs_and_answers(name):
    model = _peaked(MODELS[name]())
    wrapped = as_model(model)
    assert isinstance(wrapped, CausalLMAdapter) and as_model(wrapped) is wrapped
    tok = HFTokenizer(bridge.tokenizer_to_hf(CharTokenizer()))
    texts = ["7+5=", "47+85=", "3+60=", "99+9="]  # lengths 5, 7, 6, 6 with BOS
    ids, pmask = tok.encode_prompts(texts)
    assert (~pmask).sum(1).tolist() == [2, 0, 1, 1]
    comps, mask = generate(wrapped, ids, 4, 0.0, prompt_mask=pmask, eos_id=tok.eos_id, pad_id=tok.pad_id)
    lp = completion_log_probs(wrapped, ids, comps, prompt_mask=pmask)["log_probs"]  # (4, 4)
    for i, text in enumerate(texts):  # each row alone, unpadded
        row, none = tok.encode_prompts([text])
        assert none is None
        alone, _ = generate(wrapped, row, 4, 0.0, eos_id=tok.eos_id, pad_id=tok.pad_id)
        assert torch.equal(alone[0], comps[i])
        lp_alone = completion_log_probs(wrapped, row, comps[i:i + 1])["log_probs"]
        torch.testing.assert_close(lp[i][mask[i]], lp_alone[0][mask[i]], atol=1e-5, rtol=1e-5)
    assert torch.equal(mask, completion_mask(comps, tok.eos_id))
    wrong = completion_log_probs(wrapped, ids, comps)["log_probs"]  # padding attended to, positions shifted
    assert (wrong[0] - lp[0]).abs().max() > 0.05  # so the mask is what makes the rows right
    assert len({tuple(c) for c in comps.tolist()}) > 1 and lp.min() < -0.5  # varied answers, not all certain


@pytest.mark.parametrize("name", list(MODELS))
def test_one_grpo_step_on_a_random_transformers_model(name):
    task, hf_tok = UnpaddedAddition(digits=2), bridge.tokenizer_to_hf(CharTokenizer())
    cfg = GRPOConfig(num_updates=1, batch_size=32, group_size=4, beta=0.04, seed=0, progress=False, eval_every=0)

    def longer_is_better(problems, texts, finished):  # a random model is never right: reward length for signal
        return torch.tensor([float(len(t)) for t in texts])

    trainer = GRPOTrainer(task, hf_tok, cfg, policy=MODELS[name](), reward_fn=longer_is_better)
    assert isinstance(trainer.model, CausalLMAdapter) and isinstance(trainer.tok, HFTokenizer)
    batch = collect_groups(trainer)
    assert batch.prompt_mask is not None and not batch.prompt_mask.all()  # some prompts were left-padded
    assert torch.equal(batch.prompt_mask, batch.prompts != trainer.tok.pad_id)  # padding exactly where PAD is
    assert torch.equal(batch.mask, completion_mask(batch.completions, trainer.tok.eos_id))
    assert (batch.completions[~batch.mask] == trainer.tok.pad_id).all()
    before = [p.detach().clone() for p in trainer.model.parameters()]
    hist = trainer.train()
    loss, grad_norm = hist.last("loss/policy"), hist.last("stats/grad_norm")
    assert np.isfinite(loss) and np.isfinite(grad_norm) and grad_norm > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.reference.parameters()))  # π_ref stays put
    with pytest.raises(ValueError, match="save_pretrained"):
        trainer.save("never.pt")


def test_converted_tinygpt_with_its_hf_tokenizer_trains_exactly_as_tinygpt(sft_one_digit):
    tok, task, sft = sft_one_digit
    cfg = GRPOConfig(num_updates=2, batch_size=64, group_size=8, beta=0.04, seed=3, progress=False, eval_every=1)
    evals = task.eval_set(50)
    ours = GRPOTrainer(task, tok, cfg, policy=copy.deepcopy(sft), eval_problems=evals)
    theirs = GRPOTrainer(task, bridge.tokenizer_to_hf(tok), cfg, policy=bridge.to_hf(sft), eval_problems=evals)
    h0, h1 = ours.train(), theirs.train()
    for key in ("reward/mean", "completion/length", "eval/accuracy"):
        np.testing.assert_array_equal(h1.series(key)[1], h0.series(key)[1], err_msg=key)  # the same samples
    for key in ("loss/policy", "stats/kl_ref", "stats/grad_norm", "stats/entropy"):
        np.testing.assert_allclose(h1.series(key)[1], h0.series(key)[1], rtol=1e-5, atol=1e-5, err_msg=key)
    assert h0.series("stats/grad_norm")[1].min() > 0  # the weights moved, alike in both
