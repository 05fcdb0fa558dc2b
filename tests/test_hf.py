"""The Hugging Face bridge: TinyGPT ↔ GPT2LMHeadModel, CharTokenizer → PreTrainedTokenizerFast, and our
``grpo_loss`` against TRL's ``GRPOTrainer`` loss on the same batch (loss and gradients), and a transformers
model running through our sampler and ``train_grpo`` via ``CausalLMAdapter``.

transformers/tokenizers (the ``hf`` extra) and trl are in the ``test`` extra, so these run in CI; on a
machine without them the tests that need them are skipped (the optional-import tests always run).
"""
import copy
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ppo_grpo_lab.aggregation import AGGREGATIONS
from ppo_grpo_lab.llm import (
    AdditionTask,
    CharTokenizer,
    CountdownTask,
    GPTConfig,
    TinyGPT,
    completion_log_probs,
    completion_mask,
    generate,
    grpo_loss,
)
from ppo_grpo_lab.llm import hf as bridge

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: every model here is built from a config
ROOT = Path(__file__).resolve().parents[1]


def _random_tiny(seed=0, n_layer=2, n_embd=32, n_head=4, block_size=12, vocab_size=19):
    """A TinyGPT with large random weights (std 0.3; LayerNorm 1 ± 0.3, 0 ± 0.3; head ×10): peaked, varied logits."""
    torch.manual_seed(seed)
    model = TinyGPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head,
                              n_embd=n_embd))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(0.3 * torch.randn_like(p)) if ".ln" in name or name.startswith("ln") else p.normal_(0.0, 0.3)
        model.lm_head.weight.mul_(10.0)
    return model.eval()


# ---- transformers stays optional ------------------------------------------------------------------

def test_importing_the_package_does_not_import_transformers():
    code = ("import sys, ppo_grpo_lab, ppo_grpo_lab.llm, ppo_grpo_lab.llm.hf\n"
            "bad = [m for m in ('transformers', 'tokenizers', 'trl') if m in sys.modules]\n"
            "assert not bad, bad\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr


def test_without_transformers_the_functions_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` raise ImportError
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    hint = r'pip install "ppo-grpo-lab\[hf\]"'
    with pytest.raises(ImportError, match=hint):
        bridge.to_hf(_random_tiny())
    with pytest.raises(ImportError, match=hint):
        bridge.from_hf(object())
    with pytest.raises(ImportError, match=hint):
        bridge.tokenizer_to_hf(CharTokenizer())


# ---- the model: same logits both ways -------------------------------------------------------------

def test_to_hf_and_back_gives_the_same_logits():
    pytest.importorskip("transformers")
    model = _random_tiny()
    ids = torch.randint(0, 19, (6, 12), generator=torch.Generator().manual_seed(1))
    ours = model(ids)[0]
    hf_model = bridge.to_hf(model)
    assert type(hf_model).__name__ == "GPT2LMHeadModel"
    assert hf_model.lm_head.weight.data_ptr() != hf_model.transformer.wte.weight.data_ptr()  # untied
    assert ours.std() > 0.5  # the logits vary (a near-uniform model would hide mapping mistakes)
    torch.testing.assert_close(hf_model(ids).logits, ours, atol=1e-5, rtol=1e-5)
    back = bridge.from_hf(hf_model)
    torch.testing.assert_close(back(ids)[0], ours, atol=1e-5, rtol=1e-5)
    for (name, p), q in zip(model.named_parameters(), back.parameters()):
        assert torch.equal(p, q), name


def test_a_gpt2_built_from_a_config_converts_to_tinygpt():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=23, n_positions=16, n_embd=24, n_layer=3, n_head=3,
                                  activation_function="gelu", tie_word_embeddings=False, resid_pdrop=0.1)
    hf_model = transformers.GPT2LMHeadModel(cfg).eval()  # dropout only acts in training mode
    ids = torch.randint(0, 23, (4, 16))
    tiny = bridge.from_hf(hf_model)
    assert (tiny.cfg.vocab_size, tiny.cfg.block_size, tiny.cfg.n_layer, tiny.cfg.n_embd) == (23, 16, 3, 24)
    torch.testing.assert_close(tiny(ids)[0], hf_model(ids).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("field, value", [("tie_word_embeddings", True), ("activation_function", "gelu_new"),
                                          ("n_inner", 40), ("layer_norm_epsilon", 1e-6),
                                          ("scale_attn_by_inverse_layer_idx", True)])
def test_from_hf_refuses_configs_that_do_not_map(field, value):
    transformers = pytest.importorskip("transformers")
    kw = dict(vocab_size=19, n_positions=8, n_embd=16, n_layer=1, n_head=2, activation_function="gelu",
              tie_word_embeddings=False)
    kw[field] = value
    with pytest.raises(ValueError, match=field):
        bridge.from_hf(transformers.GPT2LMHeadModel(transformers.GPT2Config(**kw)))


def test_bad_inputs_are_refused():
    pytest.importorskip("transformers")
    with pytest.raises(ValueError, match="GPT2LMHeadModel"):
        bridge.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="TinyGPT"):
        bridge.to_hf(torch.nn.Linear(2, 2))
    critic = TinyGPT(GPTConfig(vocab_size=19, block_size=8, n_layer=1, n_head=2, n_embd=16), with_value_head=True)
    with pytest.raises(ValueError, match="drop_value_head"):
        bridge.to_hf(critic)
    ids = torch.randint(0, 19, (2, 8))
    torch.testing.assert_close(bridge.to_hf(critic, drop_value_head=True)(ids).logits, critic(ids)[0])
    with pytest.raises(ValueError, match="CharTokenizer"):
        bridge.tokenizer_to_hf("0123")


# ---- generation with a KV cache -------------------------------------------------------------------

def _step(hf_model, ids, cache):
    """One cached forward pass (transformers 5 calls the cache ``cache``, 4.x ``past_key_values``)."""
    name = "cache" if "cache" in inspect.signature(hf_model.forward).parameters else "past_key_values"
    out = hf_model(ids, use_cache=True, **({} if cache is None else {name: cache}))
    return out.logits, getattr(out, name)


def test_kv_cache_decoding_gives_the_same_logits_and_greedy_answers():
    pytest.importorskip("transformers")
    tok, task = CharTokenizer(), AdditionTask(digits=2)
    problems = task.sample(32, np.random.default_rng(0))
    prompts = tok.encode_batch([p.prompt for p in problems])  # (B, P)
    P, L = prompts.shape[1], task.max_answer_len
    answers, ended = set(), 0
    for seed in (0, 1):  # seed 0: 21 distinct greedy answers, no EOS; seed 1: EOS in 29 of 32 rows
        model = _random_tiny(seed=seed)
        hf_model = bridge.to_hf(model)
        with torch.no_grad():  # step by step with each library's cache: the same logits at every step
            z, past = model(prompts)
            hf_z, cache = _step(hf_model, prompts, None)
            for t in range(L):
                torch.testing.assert_close(hf_z[:, -1], z[:, -1], atol=1e-4, rtol=1e-5)
                nxt = z[:, -1].argmax(-1, keepdim=True)  # (B, 1)
                z, past = model(nxt, past=past, pos_offset=P + t)
                hf_z, cache = _step(hf_model, nxt, cache)
        ours, mask = generate(model, prompts, L, temperature=0.0)
        theirs = hf_model.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=L,
                                   do_sample=False, eos_token_id=tok.eos_id, pad_token_id=tok.pad_id)[:, P:]
        theirs = torch.nn.functional.pad(theirs, (0, L - theirs.shape[1]), value=tok.pad_id)
        assert torch.equal(theirs, ours)
        answers |= {tuple(row) for row in ours.tolist()}
        ended += int((~mask).any(1).sum())
    assert len(answers) > 20 and ended > 10  # varied answers, and EOS then padding are compared too


# ---- the tokenizer --------------------------------------------------------------------------------

def _all_task_texts():
    """Every 1- and 2-digit addition prompt, 3-digit and countdown prompts from seeded draws, and answers."""
    rng = np.random.default_rng(0)
    prompts = [f"{a:0{d}d}+{b:0{d}d}=" for d in (1, 2) for a in range(10 ** d) for b in range(10 ** d)]
    for task in (AdditionTask(digits=3), CountdownTask(n_numbers=3), CountdownTask(n_numbers=4)):
        prompts += [p.prompt for p in task.sample(500, rng, "train") + task.sample(200, rng, "eval")]
    answers = [p.answer for p in CountdownTask(n_numbers=3).sample(300, rng)] + [str(n) for n in range(2000)]
    return prompts, answers


def test_hf_tokenizer_gives_charTokenizer_ids_on_every_task_prompt():
    pytest.importorskip("transformers")
    tok = CharTokenizer()
    hf_tok = bridge.tokenizer_to_hf(tok)
    assert (hf_tok.pad_token_id, hf_tok.bos_token_id, hf_tok.eos_token_id) == (tok.pad_id, tok.bos_id, tok.eos_id)
    assert len(hf_tok) == tok.vocab_size
    prompts, answers = _all_task_texts()
    assert len(prompts) > 10_000
    assert hf_tok(prompts)["input_ids"] == [tok.encode(p) for p in prompts]
    want = [tok.encode(a, bos=False, eos=True) for a in answers]
    assert hf_tok(answers, add_special_tokens=False)["input_ids"] == [w[:-1] for w in want]
    assert hf_tok.batch_decode(want, skip_special_tokens=True) == [tok.decode(w) for w in want] == answers
    batch = hf_tok(prompts[:64], return_tensors="pt")["input_ids"]
    assert torch.equal(batch, tok.encode_batch(prompts[:64]))
    with pytest.raises(Exception, match="UNK"):  # no unknown token: a character outside the alphabet is an error
        hf_tok("1a")


# ---- our grpo_loss against TRL's GRPOTrainer loss -------------------------------------------------

B, L = 8, 5


@pytest.fixture(scope="module")
def trl_trainer(tmp_path_factory):
    """A real TRL GRPOTrainer around the converted tiny model (built once; no training is run)."""
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    model = _random_tiny(seed=5, n_layer=1, n_embd=16, n_head=2)
    args = trl.GRPOConfig(output_dir=str(tmp_path_factory.mktemp("trl")), per_device_train_batch_size=B,
                          num_generations=4, max_completion_length=L, bf16=False, gradient_checkpointing=False,
                          use_cpu=True, report_to=[], save_strategy="no", disable_tqdm=True,
                          use_bias_correction_kl=False, beta=0.0)  # β is set per test (β > 0 would load π_ref by name)
    trainer = trl.GRPOTrainer(model=bridge.to_hf(model), reward_funcs=lambda completions, **kw: [0.0] * len(completions),
                              args=args, train_dataset=datasets.Dataset.from_dict({"prompt": ["1+2="] * B}),
                              processing_class=bridge.tokenizer_to_hf(CharTokenizer()))
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); one micro-batch per step here
    trainer.model.train()
    return trainer, model


def _trl_setup(trainer, aggregation, clip_eps, clip_eps_high, beta):
    trainer.loss_type, trainer.beta = aggregation, beta
    trainer.epsilon_low, trainer.epsilon_high = clip_eps, clip_eps if clip_eps_high is None else clip_eps_high
    trainer.max_completion_length = L  # dr_grpo's constant L_max


def _batch(seed):
    """Log-probs [B, L] of a policy a few updates away from π_old (so some ratios clip), ragged mask."""
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, L, generator=g) * 2
    lp = old + 0.3 * torch.randn(B, L, generator=g)
    ref = old + 0.3 * torch.randn(B, L, generator=g)
    adv = torch.randn(B, generator=g)
    lengths = torch.randint(1, L + 1, (B,), generator=g)
    mask = torch.arange(L)[None, :] < lengths[:, None]  # (B, L)
    return lp, old, ref, adv, mask


AGG = list(AGGREGATIONS)  # grpo, bnpo, dr_grpo, dapo: each is also a TRL loss_type of the same name


def test_every_aggregation_of_ours_is_compared_with_trl():
    trl = pytest.importorskip("trl")
    assert set(AGG) == {"grpo", "bnpo", "dr_grpo", "dapo"}
    doc = inspect.getsource(trl.GRPOConfig)  # TRL documents its loss types in GRPOConfig's docstring
    assert all(f'`"{name}"`' in doc for name in AGG)


@pytest.mark.parametrize("aggregation", AGG)
@pytest.mark.parametrize("clip_eps_high, beta", [(None, 0.0), (None, 0.04), (0.28, 0.04)])
def test_grpo_loss_equals_trl_loss_and_gradient(trl_trainer, aggregation, clip_eps_high, beta):
    """TRL's own `_compute_loss`, fed our per-token log-probs in place of its model pass."""
    trainer, _ = trl_trainer
    lp, old, ref, adv, mask = _batch(seed=len(aggregation) + int(100 * beta))
    lp_ours, lp_trl = lp.clone().requires_grad_(), lp.clone().requires_grad_()
    loss, _ = grpo_loss(lp_ours, old, ref, adv, mask, clip_eps=0.2, clip_eps_high=clip_eps_high, beta=beta,
                        aggregation=aggregation)
    loss.backward()
    _trl_setup(trainer, aggregation, 0.2, clip_eps_high, beta)
    trainer._get_per_token_logps_and_entropies = lambda *a, **kw: (lp_trl, torch.zeros(B, L), None)
    try:
        m = mask.long()
        inputs = {"prompt_ids": torch.ones(B, 1, dtype=torch.long), "prompt_mask": torch.ones(B, 1, dtype=torch.long),
                  "completion_ids": torch.full((B, L), 3), "completion_mask": m, "advantages": adv,
                  "old_per_token_logps": old, "ref_per_token_logps": ref, "num_items_in_batch": m.sum()}
        trl_loss = trainer._compute_loss(trainer.model, inputs)
    finally:
        del trainer._get_per_token_logps_and_entropies
    trl_loss.backward()
    ratio = (lp - old).exp()[mask]
    assert ((ratio < 0.8) | (ratio > 1.2)).any()  # clipping is exercised
    torch.testing.assert_close(loss, trl_loss, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(lp_ours.grad, lp_trl.grad, atol=1e-7, rtol=1e-5)
    assert lp_ours.grad.abs().sum() > 0 and (lp_ours.grad[~mask] == 0).all()


@pytest.mark.parametrize("aggregation", AGG)
def test_grpo_step_through_both_models_gives_the_same_loss_and_weight_gradients(trl_trainer, aggregation):
    """End to end: TRL scores the answers with the converted model (its own log-prob pass), we with TinyGPT;
    every aggregation both libraries have (TRL's loss_type grpo, bnpo, dr_grpo, dapo = ours by name)."""
    trainer, model = trl_trainer
    policy = model.train()
    tok, task = CharTokenizer(), AdditionTask(digits=1)
    prompts = tok.encode_batch([p.prompt for p in task.sample(B, np.random.default_rng(2))])  # (B, P)
    completions, mask = generate(policy, prompts, L, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mask, completion_mask(completions))
    with torch.no_grad():
        old = completion_log_probs(policy, prompts, completions)["log_probs"] + 0.2 * torch.randn(B, L)
        ref = old + 0.1 * torch.randn(B, L)
    adv = torch.randn(B)
    policy.zero_grad()
    lp = completion_log_probs(policy, prompts, completions)["log_probs"]
    loss, _ = grpo_loss(lp, old, ref, adv, mask, clip_eps=0.2, beta=0.04, aggregation=aggregation)
    loss.backward()
    hf_model = trainer.model
    hf_model.load_state_dict(bridge.to_hf(policy).state_dict())
    hf_model.zero_grad()
    _trl_setup(trainer, aggregation, 0.2, None, 0.04)
    m = mask.long()
    inputs = {"prompt_ids": prompts, "prompt_mask": torch.ones_like(prompts), "completion_ids": completions,
              "completion_mask": m, "advantages": adv, "old_per_token_logps": old, "ref_per_token_logps": ref,
              "num_items_in_batch": m.sum()}
    trl_loss = trainer._compute_loss(hf_model, inputs)
    trl_loss.backward()
    torch.testing.assert_close(loss, trl_loss, atol=1e-5, rtol=1e-5)
    theirs = dict(hf_model.named_parameters())
    for name, (hf_name, transpose) in bridge._key_map(policy.cfg.n_layer).items():
        ours = dict(policy.named_parameters())[name].grad
        g = theirs[hf_name].grad
        torch.testing.assert_close(g.t() if transpose else g, ours, atol=1e-6, rtol=1e-4, msg=name)


# ---- a transformers causal LM inside our sampler and trainer ------------------------------------------

def test_adapter_runs_generate_log_probs_and_train_grpo_like_tinygpt(sft_one_digit):
    pytest.importorskip("transformers")
    from ppo_grpo_lab.llm import GRPOConfig, train_grpo

    tok, task, sft = sft_one_digit
    prompts = tok.encode_batch([p.prompt for p in task.sample(64, np.random.default_rng(0))])
    wrapped = bridge.CausalLMAdapter(bridge.to_hf(sft))
    ours = generate(sft, prompts, task.max_answer_len, 1.0, torch.Generator().manual_seed(0))
    theirs = generate(wrapped, prompts, task.max_answer_len, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])
    torch.testing.assert_close(completion_log_probs(wrapped, prompts, ours[0])["log_probs"],
                               completion_log_probs(sft, prompts, ours[0])["log_probs"], atol=1e-5, rtol=1e-5)
    cfg = GRPOConfig(batch_size=64, group_size=8, beta=0.04, seed=0, device="cpu", progress=False,
                     **{("num_updates" if "num_updates" in GRPOConfig.__dataclass_fields__ else "steps"): 3})
    runs = []
    for make in (lambda: copy.deepcopy(sft), lambda: bridge.CausalLMAdapter(bridge.to_hf(sft))):
        policy, ref = make(), make()
        hist = train_grpo(policy, ref, task, tok, cfg)
        runs.append((hist, policy))
    for key in ("reward/mean", "loss/policy", "stats/grad_norm", "stats/kl_ref"):
        np.testing.assert_allclose(runs[1][0].series(key)[1], runs[0][0].series(key)[1], rtol=1e-4, atol=1e-6)
    assert runs[0][0].series("stats/grad_norm")[1].min() > 0  # the policy was updated
    moved = bridge.from_hf(runs[1][1].model)
    ids = torch.cat([prompts, ours[0]], dim=1)
    torch.testing.assert_close(moved(ids)[0], runs[0][1](ids)[0], atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="causal LM"):
        bridge.CausalLMAdapter(torch.nn.Linear(2, 2))
