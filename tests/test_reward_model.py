"""Reward model: the Bradley–Terry loss by hand, the scalar read at the last real token, and learning."""
import dataclasses
import math
import time

import numpy as np
import pytest
import torch

from ppo_grpo_lab import History
from ppo_grpo_lab.llm import AdditionTask, CharTokenizer, GPTConfig, SFTConfig, TinyGPT, train_sft
from ppo_grpo_lab.llm.preferences import FlawedLabeller, demo_answers, make_pairs, sample_answers
from ppo_grpo_lab.llm.reward_model import (
    RewardModel,
    RewardModelConfig,
    bradley_terry_loss,
    pairwise_accuracy,
    reward_fn,
    train_reward_model,
)


def test_bradley_terry_by_hand():
    # margins [2, 0, -1]: -log σ(m) = log(1 + e^{-m}) = [0.12693, 0.69315, 1.31326], mean 0.71111
    loss, stats = bradley_terry_loss(torch.tensor([3.0, 1.0, -0.5]), torch.tensor([1.0, 1.0, 0.5]))
    by_hand = (math.log(1 + math.exp(-2)) + math.log(2) + math.log(1 + math.exp(1))) / 3
    assert by_hand == pytest.approx(0.71111, abs=1e-5)
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    assert stats["stats/accuracy"].item() == pytest.approx(0.5)  # (1 + ½ + 0) / 3
    assert stats["stats/margin"].item() == pytest.approx(1 / 3)
    assert stats["loss/bradley_terry"].item() == pytest.approx(by_hand, rel=1e-6)


def test_bradley_terry_gradient_and_stability():
    rc = torch.tensor([0.0, 100.0, -100.0], requires_grad=True)
    loss, _ = bradley_terry_loss(rc, torch.zeros(3))
    loss.backward()
    # d/dm log(1 + e^{-m}) = -σ(-m): -1/2, ~0, ~-1, each divided by N = 3
    torch.testing.assert_close(rc.grad, torch.tensor([-0.5, 0.0, -1.0]) / 3)
    assert loss.item() == pytest.approx((math.log(2) + 0.0 + 100.0) / 3, rel=1e-6)  # finite at |m| = 100
    shifted, _ = bradley_terry_loss(rc.detach() + 5, torch.full((3,), 5.0))
    assert shifted.item() == pytest.approx(loss.item())  # only differences matter


def test_bradley_terry_bad_inputs():
    with pytest.raises(ValueError, match=r"r_chosen: expected a 1-D tensor"):
        bradley_terry_loss(torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="r_rejected: expected shape"):
        bradley_terry_loss(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="r_chosen: expected finite"):
        bradley_terry_loss(torch.tensor([float("nan")]), torch.zeros(1))


def _small():
    tok = CharTokenizer()
    return tok, GPTConfig(vocab_size=tok.vocab_size, block_size=12, n_layer=1, n_head=2, n_embd=16)


def test_reads_the_last_real_token():
    tok, cfg = _small()
    torch.manual_seed(0)
    rm = RewardModel(cfg)
    prompts = tok.encode_batch(["47+85=", "47+85="])
    comps = torch.tensor([[4, 6, 5, 2, 0], [5, 5, 2, 0, 0]])  # "132" EOS PAD, "22" EOS PAD PAD
    assert torch.equal(rm(prompts, comps), torch.zeros(2))  # the head starts at zero
    torch.nn.init.normal_(rm.trunk.value_head.weight)
    r = rm(prompts, comps)
    h, _ = rm.trunk.hidden(torch.cat([prompts, comps], 1))
    by_hand = torch.stack([rm.trunk.value_head(h[0, 7 + 3]), rm.trunk.value_head(h[1, 7 + 2])]).squeeze(-1)
    torch.testing.assert_close(r, by_hand)  # index P + |o| - 1: the EOS
    junk = comps.clone()
    junk[1, 3:] = 7  # tokens after EOS: causal attention never shows them to the EOS position
    torch.testing.assert_close(rm(prompts, junk), r)
    other = comps.clone()
    other[0, 0] = 5  # "232": a different answer, a different score
    assert rm(prompts, other)[0] != r[0]
    assert rm(prompts, comps).shape == (2,)


def test_init_from_copies_the_trunk():
    _, cfg = _small()
    torch.manual_seed(0)
    lm = TinyGPT(cfg)
    rm = RewardModel(cfg, init_from=lm)
    torch.testing.assert_close(rm.trunk.blocks[0].qkv.weight, lm.blocks[0].qkv.weight)
    with pytest.raises(ValueError, match="init_from: expected a model with config"):
        RewardModel(dataclasses.replace(cfg, n_embd=32), init_from=lm)


def test_reward_fn_matches_forward():
    tok, cfg = _small()
    torch.manual_seed(1)
    rm = RewardModel(cfg)
    torch.nn.init.normal_(rm.trunk.value_head.weight)
    task = AdditionTask(2)
    probs = task.sample(3, np.random.default_rng(0))
    fn = reward_fn(rm, tok, task.max_answer_len)
    out = fn(probs, ["12", "3", "1234"], [True, True, False])  # the last: no EOS, 4 tokens
    comps = torch.tensor([[4, 5, 2, 0], [6, 2, 0, 0], [4, 5, 6, 7]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    torch.testing.assert_close(out, rm(tok.encode_batch([p.prompt for p in probs]), comps, mask))


def test_config_vocabulary_and_checks():
    cfg = RewardModelConfig(num_updates=5, learning_rate=1e-3, batch_size=8, seed=3, progress=False)
    assert RewardModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="learning_rate"):
        RewardModelConfig(learning_rate=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        RewardModelConfig(batch_size=0)
    with pytest.raises(TypeError):
        RewardModelConfig(5)  # keyword-only


def _sft_kwargs(num_updates, learning_rate):
    """SFTConfig's names before and after the vocabulary change (num_updates/learning_rate; steps/lr)."""
    names = {f.name for f in dataclasses.fields(SFTConfig)}
    if "num_updates" in names:
        return {"num_updates": num_updates, "learning_rate": learning_rate}
    return {"steps": num_updates, "lr": learning_rate}


@pytest.fixture(scope="module")
def addition_pools():
    """An SFT policy for 2-digit addition (imperfect: 50% carry-forgetting demos), and answer pools for
    2000 training and 500 held-out questions: 4 samples at τ = 1 plus 2 demonstrations each."""
    tok, task = CharTokenizer(), AdditionTask(digits=2)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=12, n_layer=2, n_head=2, n_embd=32)
    policy, _ = train_sft(task, tok, cfg, SFTConfig(batch_size=128, error_rate=0.5, seed=0, progress=False,
                                                    **_sft_kwargs(300, 3e-3)))
    rng, gen = np.random.default_rng(1), torch.Generator().manual_seed(1)

    def pools(split, n):
        problems = task.sample(n, rng, split)
        sampled = sample_answers(policy, tok, task, problems, 4, 1.0, gen)
        demos = demo_answers(task, problems, 2, rng, error_rate=0.5)
        return problems, [a + b for a, b in zip(sampled, demos)]

    return tok, task, cfg, policy, pools("train", 2000), pools("eval", 500)


@pytest.mark.slow
def test_reward_model_learns_the_gold_and_the_flaw(addition_pools):
    """Held-out pairwise accuracy against the checker for p = 0, 0.3, 0.9 (labeller flaw: prefers answers
    ending in 0), RM seed 0. Measured here: gold 0.753 / 0.716 / 0.569 (chance 0.5); the labels agree with
    the checker on 100% / 85% / 55% of training pairs; on the ~77 held-out pairs whose surface differs the
    model prefers the answer ending in 0 in 47% / 27% / 100% of them (noisy at small p: 33% and 48–60% with
    seeds 10, 11): at p = 0.9 it has learned the flaw, and the gold pays for it."""
    tok, task, cfg, policy, train_pool, eval_pool = addition_pools
    result = {}
    for p in (0.0, 0.3, 0.9):
        labeller = FlawedLabeller(p, "ends_in_zero")
        train = make_pairs(task, *train_pool, labeller, np.random.default_rng(2))
        held_out = make_pairs(task, *eval_pool, labeller, np.random.default_rng(3))
        assert len(train) > 1000 and len(held_out) > 300
        assert sum(labeller.score(a) != labeller.score(b) for a, b in zip(held_out.chosen, held_out.rejected)) >= 50
        rm = RewardModel(cfg, init_from=policy)
        assert pairwise_accuracy(rm, tok, held_out, task.max_answer_len)["gold"] == 0.5  # zero head: all ties, ½
        t0 = time.perf_counter()
        hist = train_reward_model(rm, tok, train, RewardModelConfig(num_updates=300, batch_size=64,
                                                                    learning_rate=1e-3, seed=0, progress=False),
                                  task.max_answer_len, held_out)
        assert isinstance(hist, History) and len(hist) == 300
        loss = hist.series("loss/bradley_terry")[1]
        assert loss[-50:].mean() < loss[:50].mean()
        result[p] = pairwise_accuracy(rm, tok, held_out, task.max_answer_len, labeller)
        result[p]["seconds"] = time.perf_counter() - t0
        assert result[p]["gold"] == pytest.approx(hist.last("eval/gold_accuracy"))
    msg = f"held-out accuracies by p: {result}"
    assert result[0.0]["gold"] > 0.7 and result[0.3]["gold"] > 0.65, msg  # well above chance (0.5)
    assert result[0.9]["gold"] < result[0.0]["gold"] - 0.1, msg  # the flaw costs gold accuracy
    assert result[0.9]["surface"] > max(0.9, result[0.0]["surface"] + 0.3), msg  # ... because the model learned it
