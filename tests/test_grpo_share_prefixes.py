"""GRPOConfig.share_prefixes, the opt-in speed switch: off (the default) takes exactly the plain passes;
on, a GRPO run equals the plain one up to float rounding; the field round-trips and refuses what it cannot do."""
import copy
import json

import pytest
import torch

from ppo_grpo_lab.cli_support import build_config
from ppo_grpo_lab.llm import GRPOConfig, GRPOTrainer, completion_log_probs, generate, sampling
from ppo_grpo_lab.llm import grpo as grpo_module

SMALL = dict(num_updates=2, batch_size=32, group_size=8, learning_rate=3e-3, update_epochs=2, beta=0.04, seed=0,
             progress=False, eval_every=0)


def _run(fixture, share: bool, monkeypatch, **kw):
    """A 2-update GRPO run; returns the trained policy, how often each shared path ran, and the History."""
    tok, task, ref = fixture
    calls = {"generate": 0, "log_probs": 0}

    def spy(name, fn):
        def wrapped(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(sampling, "_generate_shared", spy("generate", sampling._generate_shared))
    monkeypatch.setattr(sampling, "_shared_prefix_logits", spy("log_probs", sampling._shared_prefix_logits))
    cfg = GRPOConfig(**{**SMALL, **kw, "share_prefixes": share})
    trainer = GRPOTrainer(task, tok, cfg, policy=copy.deepcopy(ref), reference=copy.deepcopy(ref))
    hist = trainer.train()
    monkeypatch.undo()
    return trainer.model, calls, hist


def test_the_switch_is_off_by_default_and_off_runs_only_the_plain_passes(sft_one_digit, monkeypatch):
    assert GRPOConfig().share_prefixes is False
    _, calls, _ = _run(sft_one_digit, False, monkeypatch)
    assert calls == {"generate": 0, "log_probs": 0}


def test_off_log_probs_are_exactly_the_one_pass_formula(sft_one_digit):
    tok, _, model = sft_one_digit
    prompts = tok.encode_batch(["3+4=", "5+9="]).repeat_interleave(3, dim=0)
    comps, _ = generate(model, prompts, 3, 1.0, torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(torch.cat([prompts, comps], 1)[:, :-1])[0][:, prompts.shape[1] - 1:].float()
        plain = torch.log_softmax(logits, -1).gather(-1, comps[..., None])[..., 0]
        assert torch.equal(completion_log_probs(model, prompts, comps)["log_probs"], plain)  # bit for bit


def test_a_run_with_shared_prefixes_equals_the_plain_run_up_to_rounding(sft_one_digit, monkeypatch):
    plain, _, h0 = _run(sft_one_digit, False, monkeypatch)
    shared, calls, h1 = _run(sft_one_digit, True, monkeypatch)
    # 2 updates: one generation each; per update the π_θold and π_ref passes, then μ = 2 policy passes
    assert calls == {"generate": 2, "log_probs": 2 * 4}
    tok = sft_one_digit[0]
    prompts = tok.encode_batch([f"{a}+{b}=" for a in range(10) for b in range(10)])  # every question
    comps, _ = generate(plain, prompts, 3, 1.0, torch.Generator().manual_seed(1))
    with torch.no_grad():  # the trained policies, compared by what they compute (parameters whose true gradient
        # is 0, the attention keys' bias, take Adam steps of size ~lr from rounding noise, as noted in grpo.py)
        torch.testing.assert_close(completion_log_probs(shared, prompts, comps)["log_probs"],
                                   completion_log_probs(plain, prompts, comps)["log_probs"], atol=1e-4, rtol=1e-4)
    for key in ("reward/mean", "stats/kl_ref", "stats/entropy"):
        assert h1.last(key) == pytest.approx(h0.last(key), abs=1e-4)


def test_the_field_round_trips_through_dict_json_cli_and_checkpoint(sft_one_digit, tmp_path):
    cfg = GRPOConfig(**{**SMALL, "share_prefixes": True})
    assert GRPOConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert build_config(GRPOConfig, None, {"share_prefixes": True}).share_prefixes is True
    old = cfg.to_dict()
    del old["share_prefixes"]  # a checkpoint written before the field existed
    assert GRPOConfig.from_dict(old).share_prefixes is False
    with pytest.raises(ValueError, match="share_prefixes: expected True or False, got 1"):
        GRPOConfig(share_prefixes=1)
    tok, task, ref = sft_one_digit
    trainer = GRPOTrainer(task, tok, GRPOConfig(**{**SMALL, "num_updates": 1, "share_prefixes": True}),
                          policy=copy.deepcopy(ref))
    trainer.train()
    trainer.save(tmp_path / "g.pt")
    assert GRPOTrainer.load(tmp_path / "g.pt", task, tok).config.share_prefixes is True


def test_a_transformers_policy_is_refused(sft_one_digit):
    transformers = pytest.importorskip("transformers")
    tok, task, _ = sft_one_digit
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=tok.vocab_size, n_positions=16, n_embd=16,
                                                                 n_layer=1, n_head=2))
    with pytest.raises(ValueError, match="share_prefixes: expected a TinyGPT policy and reference, got CausalLMAdapter"):
        GRPOTrainer(task, tok, GRPOConfig(**{**SMALL, "share_prefixes": True}), policy=model)
    assert grpo_module.GRPOConfig is GRPOConfig  # the config still lives under its old address too
