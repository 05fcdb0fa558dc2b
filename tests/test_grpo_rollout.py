"""sample_with_log_probs (ppo_grpo_lab/llm/rollout.py): sampling that keeps the policy's graph and π_ref's
log-probs, GRPO's fast path with share_prefixes=True and μ = 1. It must draw the answers generate draws, give
the plain passes' log-probs, entropies and gradients up to float rounding, and train like the plain run;
the default path must stay bit for bit what it was."""
import copy

import pytest
import torch

from ppo_grpo_lab.llm import GRPOConfig, GRPOTrainer, completion_log_probs, generate, grpo_batch
from ppo_grpo_lab.llm.rollout import sample_with_log_probs
from ppo_grpo_lab.llm.step_hook import StepHookGRPOTrainer


def _prompts(tok):
    return tok.encode_batch([f"{a}+{b}=" for a, b in [(3, 4), (5, 9), (8, 8), (0, 7)]]).repeat_interleave(8, dim=0)


@pytest.mark.parametrize("temperature", [0.0, 0.7, 1.0, 1.5])
def test_the_same_answers_log_probs_entropies_and_reference_as_the_plain_passes(sft_one_digit, temperature):
    tok, _, model = sft_one_digit
    ref = copy.deepcopy(model)
    with torch.no_grad():  # a reference that differs from the policy
        for p in ref.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    prompts = _prompts(tok)
    plain, mask = generate(model, prompts, 3, temperature, torch.Generator().manual_seed(7))
    out = sample_with_log_probs(model, prompts, 3, temperature, torch.Generator().manual_seed(7), reference=ref)
    assert torch.equal(out["completions"], plain) and torch.equal(out["mask"], mask)
    assert mask.all(1).logical_not().any() and mask[:, 1].any()  # some rows stop early, some go on
    want = completion_log_probs(model, prompts, plain, with_entropy=True)
    with torch.no_grad():
        want_ref = completion_log_probs(ref, prompts, plain)["log_probs"]
    for key, w in (("log_probs", want["log_probs"]), ("entropy", want["entropy"]), ("ref_log_probs", want_ref)):
        torch.testing.assert_close(out[key][mask], w.detach()[mask], atol=1e-5, rtol=1e-5)
        assert torch.all(out[key][~mask] == 0)  # after EOS: 0, whatever ran there
    assert out["log_probs"].requires_grad and not out["entropy"].requires_grad
    assert not out["ref_log_probs"].requires_grad


def test_gradients_equal_the_plain_pass(sft_one_digit):
    tok, _, model = sft_one_digit
    prompts = _prompts(tok)
    out = sample_with_log_probs(model, prompts, 3, 1.0, torch.Generator().manual_seed(3))
    weights = torch.randn(out["mask"].shape, generator=torch.Generator().manual_seed(1)) * out["mask"]
    grads = []
    for lp in (out["log_probs"], completion_log_probs(model, prompts, out["completions"])["log_probs"]):
        model.zero_grad()
        (lp * weights).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_bad_arguments_are_refused(sft_one_digit):
    tok, _, model = sft_one_digit
    with pytest.raises(ValueError, match="expected \\[N, P\\], >= 1 and >= 0, got \\(3,\\), 3 and 1.0"):
        sample_with_log_probs(model, torch.zeros(3, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="max_new_tokens, temperature: expected"):
        sample_with_log_probs(model, _prompts(tok), 0)
    with pytest.raises(ValueError, match="share_prefixes: expected a TinyGPT with prompt_mask=None"):
        sample_with_log_probs(model, _prompts(tok), 3, prompt_mask=torch.ones(32, 5, dtype=torch.bool))


SMALL = dict(num_updates=3, batch_size=32, group_size=8, learning_rate=3e-3, beta=0.04, seed=0, progress=False,
             eval_every=0)


def _train(fixture, monkeypatch, **kw):
    tok, task, ref = fixture
    calls = []
    real = grpo_batch.sample_with_log_probs
    monkeypatch.setattr(grpo_batch, "sample_with_log_probs", lambda *a, **k: calls.append(1) or real(*a, **k))
    trainer = GRPOTrainer(task, tok, GRPOConfig(**{**SMALL, **kw}), policy=copy.deepcopy(ref),
                          reference=copy.deepcopy(ref))
    hist = trainer.train()
    monkeypatch.undo()
    return trainer, hist, len(calls)


def test_a_grpo_run_on_the_fast_path_equals_the_plain_run_up_to_rounding(sft_one_digit, monkeypatch):
    plain, h0, n0 = _train(sft_one_digit, monkeypatch)
    fast, h1, n1 = _train(sft_one_digit, monkeypatch, share_prefixes=True)
    assert (n0, n1) == (0, 3)  # the fast path runs only when asked for, once per update
    assert fast.optimizer.param_groups[0]["fused"] and not plain.optimizer.param_groups[0]["fused"]
    for key in ("reward/mean", "stats/kl_ref", "stats/entropy", "loss/policy", "stats/grad_norm"):
        assert h1.series(key)[1] == pytest.approx(h0.series(key)[1], abs=1e-4), key
    assert h1.last("memory/activations_mb") > 0  # the sampling graph is measured
    tok = sft_one_digit[0]
    prompts = tok.encode_batch([f"{a}+{b}=" for a in range(10) for b in range(10)])
    comps, _ = generate(plain.model, prompts, 3, 1.0, torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(completion_log_probs(fast.model, prompts, comps)["log_probs"],
                                   completion_log_probs(plain.model, prompts, comps)["log_probs"], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kw", [dict(update_epochs=2), dict(dynamic_sampling=True), dict(beta=0.0)])
def test_the_fast_path_is_left_out_where_it_does_not_apply(sft_one_digit, monkeypatch, kw):
    trainer, _, n = _train(sft_one_digit, monkeypatch, share_prefixes=True, **kw)
    assert n == (3 if kw == dict(beta=0.0) else 0)  # β = 0: no reference to run beside
    tok, task, ref = sft_one_digit
    hook = StepHookGRPOTrainer(task, tok, lambda *a: None, GRPOConfig(**{**SMALL, "share_prefixes": True}),
                               policy=copy.deepcopy(ref))
    assert not hook.samples_with_graph()


def test_the_default_path_is_bit_for_bit_main_s(sft_one_digit):
    """Pinned with the code before the fast path existed (same torch): 3 default updates from the fixture.

    On this machine the values agree bit for bit; rel 1e-6 leaves room for another CPU's float rounding,
    so the sums catch any change beyond rounding, and the sampled rewards must match exactly.
    """
    tok, task, ref = sft_one_digit
    trainer = GRPOTrainer(task, tok, GRPOConfig(num_updates=3, batch_size=32, eval_every=0, seed=3, progress=False),
                          policy=copy.deepcopy(ref))
    hist = trainer.train()
    d = [(p.detach() - q.detach()).double() for p, q in zip(trainer.model.parameters(), ref.parameters())]
    assert list(hist.series("reward/mean")[1]) == [0.65625, 0.40625, 0.5625]
    assert float(sum(x.abs().sum() for x in d)) == pytest.approx(2.6422568102952937, rel=1e-6)
    assert float(sum((x * x).sum() for x in d)) == pytest.approx(0.0006189544682074143, rel=1e-6)
    assert float(hist.last("stats/kl_ref")) == pytest.approx(0.0023544838186353445, rel=1e-6)


def test_a_checkpoint_takes_adam_s_kernel_from_the_config_it_is_loaded_with(sft_one_digit, tmp_path):
    tok, task, ref = sft_one_digit
    trainer = GRPOTrainer(task, tok, GRPOConfig(**{**SMALL, "num_updates": 1, "share_prefixes": True}),
                          policy=copy.deepcopy(ref))
    trainer.train()
    trainer.save(tmp_path / "g.pt")
    off = GRPOTrainer.load(tmp_path / "g.pt", task, tok, share_prefixes=False, num_updates=2)
    on = GRPOTrainer.load(tmp_path / "g.pt", task, tok, num_updates=2)
    assert off.optimizer.param_groups[0]["fused"] is None and on.optimizer.param_groups[0]["fused"] is True
    for t in (off, on):
        t.train()  # both kernels continue from the saved moments
    prompts = tok.encode_batch([f"{a}+{b}=" for a in range(10) for b in range(10)])
    comps, _ = generate(off.model, prompts, 3, 1.0, torch.Generator().manual_seed(1))
    with torch.no_grad():  # compared by what they compute (see the GRPO run test above)
        torch.testing.assert_close(completion_log_probs(on.model, prompts, comps)["log_probs"],
                                   completion_log_probs(off.model, prompts, comps)["log_probs"], atol=1e-4, rtol=1e-4)


def test_the_layer_by_layer_pass_equals_the_model_s_hidden_pass_in_values_caches_and_gradients():
    """rollout._next_logits runs TinyGPT on its parameters (no nn.Module.__call__): a prompt step (T > 1,
    no cache) and a one-token step on a reindexed cache must give model.hidden + lm_head's logits, keys,
    values and parameter gradients (2 layers: a full block and a last-position block)."""
    from ppo_grpo_lab.llm import GPTConfig, TinyGPT
    from ppo_grpo_lab.llm.rollout import _extend, _next_logits, _weights

    torch.manual_seed(0)
    model = TinyGPT(GPTConfig(vocab_size=19, block_size=8, n_layer=2, n_head=4, n_embd=32))
    with torch.no_grad():  # nonzero biases and LayerNorm affines, so every parameter is exercised
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape))
    prompts = torch.randint(0, 19, (5, 6))
    parent, tokens = torch.tensor([0, 0, 3, 4, 2, 1, 1]), torch.randint(0, 19, (7,))
    weights = torch.randn(5, 19), torch.randn(7, 19)
    results = []
    for fast in (False, True):
        model.zero_grad()
        if fast:
            w = _weights(model)
            z0, past = _next_logits(w, prompts, None, 0)
            z1, past1 = _extend(w, past, parent, tokens, 6)
        else:
            h, past = model.hidden(prompts, last_only=True)
            z0 = model.lm_head(h[:, -1])
            past = [(k.index_select(0, parent), v.index_select(0, parent)) for k, v in past]
            h, past1 = model.hidden(tokens[:, None], past, 6, last_only=True)
            z1 = model.lm_head(h[:, -1])
        ((z0 * weights[0]).sum() + (z1 * weights[1]).sum()).backward()
        kvs = [t for kv in past1 for t in (kv.unbind(1) if fast else kv)]  # fast: one (U', 2, nh, S, hs) per layer
        results.append((z0, z1, kvs, [p.grad.clone() for p in model.parameters()]))
    (a0, a1, a_kv, a_g), (b0, b1, b_kv, b_g) = results
    assert z0.shape == (5, 19) and z1.shape == (7, 19) and b_kv[0].shape == (7, 4, 7, 8)
    for a, b in zip([a0, a1, *a_kv, *a_g], [b0, b1, *b_kv, *b_g]):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="expected at most block_size=8 positions, got 9"):
        _extend(_weights(model), [kv[:, :, :, :7] for kv in past1], parent[:2], tokens[:2], 8)
