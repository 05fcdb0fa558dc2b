"""GRPOTrainer's hooks and options: reward hook, per-token advantages (process supervision), the μ = 1
fast path, DAPO's dynamic sampling."""
import copy

import pytest
import torch

from ppo_grpo_lab.group import group_advantages
from ppo_grpo_lab.llm import GRPOConfig, GRPOTrainer, Problem, accuracy, grpo_loss
from ppo_grpo_lab.llm import grpo as grpo_module
from ppo_grpo_lab.llm.grpo_batch import keep_groups
from ppo_grpo_lab.llm.process_hooks import process_advantage_fn
from ppo_grpo_lab.llm.tokenizer import EOS, PAD
from ppo_grpo_lab.process import process_advantages_loop

SMALL = dict(num_updates=2, batch_size=32, group_size=8, learning_rate=3e-4, seed=0, progress=False, eval_every=0)


def _trainer(fixture, **kw):
    tok, task, ref = fixture
    hooks = {k: kw.pop(k) for k in ("reward_fn", "advantage_fn") if k in kw}
    return GRPOTrainer(task, tok, GRPOConfig(**{**SMALL, **kw}), policy=copy.deepcopy(ref), reference=ref, **hooks)


def _params(trainer):
    return [p.detach().clone() for p in trainer.model.parameters()]


# ----------------------------------------------------------------- grpo_loss with per-token advantages
def test_per_token_advantages_equal_broadcast_answer_advantages():
    torch.manual_seed(0)
    lp, old, ref = (torch.randn(3, 4, dtype=torch.float64) * 0.3 for _ in range(3))
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    adv = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    for rule in ("grpo", "dr_grpo", "dapo", "bnpo"):
        a, sa = grpo_loss(lp, old, ref, adv, mask, 0.2, 0.28, 0.05, rule)
        b, sb = grpo_loss(lp, old, ref, adv[:, None].expand(3, 4), mask, 0.2, 0.28, 0.05, rule)
        assert a.item() == pytest.approx(b.item(), abs=1e-12) and sa["stats/clip_frac"] == sb["stats/clip_frac"]


def test_per_token_advantages_by_hand_and_shape_errors():
    # ratio 1, β = 0: the grpo loss is −mean over answers of the mean advantage over its tokens
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    adv = torch.tensor([[1.0, 3.0, 99.0], [0.0, -3.0, 0.0]])  # 99 sits on padding: ignored
    loss, _ = grpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), None, adv, mask, beta=0.0)
    assert loss.item() == pytest.approx(-((1 + 3) / 2 + (0 - 3 + 0) / 3) / 2)
    with pytest.raises(ValueError, match=r"advantages: expected shape \(2,\) .* or \(2, 3\) .*got \(2, 2\)"):
        grpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), None, torch.zeros(2, 2), mask, beta=0.0)


def test_reference_at_zero_beta_only_measures_the_kl():
    """β = 0 with π_ref's log-probs given (GRPOTrainer.measure_kl_ref): same loss and gradient, the KL logged."""
    torch.manual_seed(1)
    lp0, old, ref = (torch.randn(2, 3, dtype=torch.float64) * 0.3 for _ in range(3))
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    adv = torch.tensor([1.0, -1.0], dtype=torch.float64)
    out = []
    for given in (None, ref):
        lp = lp0.clone().requires_grad_(True)
        loss, stats = grpo_loss(lp, old, given, adv, mask, beta=0.0)
        loss.backward()
        out.append((loss.detach(), lp.grad, stats["stats/kl_ref"]))
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])
    assert out[0][2] == 0 and out[1][2] > 0
    log_rho = (ref - lp0)[mask]
    assert out[1][2].item() == pytest.approx((log_rho.exp() - 1 - log_rho).mean().item())


# ----------------------------------------------------------------- reward hook
def test_reward_hook_is_the_training_reward_and_the_checker_is_logged_as_gold(sft_one_digit):
    seen = []

    def inverted(problems, texts, finished):  # a proxy that rewards exactly the wrong answers
        seen.append(len(texts))
        return torch.tensor([float(f and t != p.answer) for p, t, f in zip(problems, texts, finished)])

    hist = _trainer(sft_one_digit, reward_fn=inverted).train()
    assert seen == [32, 32]
    for rec in hist.records[-2:]:
        assert rec["reward/gold"] == pytest.approx(rec["reward/gold_accuracy"])  # addition: reward = correct
        finished_frac = rec["reward/mean"] + rec["reward/gold"]  # wrong-and-finished + right
        assert 0.5 < finished_frac <= 1.0 + 1e-6 and rec["reward/mean"] != rec["reward/gold"]
    plain = _trainer(sft_one_digit).train()
    for rec in plain.records[-2:]:
        assert rec["reward/gold"] == rec["reward/mean"] and "reward/gold_accuracy" in rec


def test_reward_hook_with_a_wrong_shape_is_refused(sft_one_digit):
    trainer = _trainer(sft_one_digit, reward_fn=lambda p, t, f: torch.zeros(len(t) + 1))
    with pytest.raises(ValueError, match=r"reward_fn: expected a Tensor of shape \(32,\)"):
        trainer.train()


# ----------------------------------------------------------------- advantage hook
def test_advantage_hook_broadcasting_group_advantages_takes_the_same_steps(sft_one_digit):
    G = SMALL["group_size"]

    def per_token(problems, completions, mask, rewards):
        return group_advantages(rewards.view(-1, G)).view(-1, 1).expand(completions.shape) * mask

    a, b = _trainer(sft_one_digit, beta=0.04), _trainer(sft_one_digit, beta=0.04, advantage_fn=per_token)
    ha, hb = a.train(), b.train()
    assert ha.series("loss/policy")[1].tolist() == pytest.approx(hb.series("loss/policy")[1].tolist(), abs=1e-6)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(_params(a), _params(b)))
    bad = _trainer(sft_one_digit, advantage_fn=lambda p, c, m, r: r)
    with pytest.raises(ValueError, match=r"advantage_fn: expected per-token advantages of shape \(32, 3\)"):
        bad.train()


class CarryFirst:
    """A tiny worked-answer task: one-digit addition whose answer is graded digit by digit, the tens digit
    (the carry) first, then the whole answer."""

    def __init__(self, base):
        self.base, self.name, self.max_answer_len = base, "carry_first", base.max_answer_len

    def __getattr__(self, key):
        return getattr(self.base, key)

    def steps(self, problem, text):
        if len(text) < 2:
            return [(0, text == problem.answer)] if text else []
        return [(0, text[0] == problem.answer[0]), (len(text) - 1, text == problem.answer)]


def test_process_advantage_fn_by_hand():
    from ppo_grpo_lab.llm import AdditionTask, CharTokenizer
    tok, task = CharTokenizer(), CarryFirst(AdditionTask(digits=1))
    p = Problem("5+7=", "12")
    rows = [tok.encode("12", bos=False) + [EOS, PAD], tok.encode("13", bos=False) + [EOS, PAD]]
    comps = torch.tensor([r[:4] for r in rows])
    mask = comps != PAD
    adv = process_advantage_fn(task, tok, group_size=2)([p, p], comps, mask, torch.zeros(2))
    # step rewards [1, 1] and [1, 0]: mean 0.75, std 0.5 -> r~ [0.5, 0.5], [0.5, -1.5]; the 2nd step ends at EOS
    want = torch.tensor([[1.0, 0.5, 0.5, 0.0], [-1.0, -1.5, -1.5, 0.0]])
    assert torch.allclose(adv, want, atol=1e-3)
    r_steps = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])
    loop = process_advantages_loop(r_steps, torch.ones(1, 2, 2, dtype=torch.bool), torch.tensor([[[0, 2], [0, 2]]]), 4,
                                   mask)
    assert torch.allclose(adv, loop, atol=1e-6)
    with pytest.raises(ValueError, match="step protocol"):
        process_advantage_fn(AdditionTask(digits=1), tok, 2)


def test_process_supervised_grpo_learns(sft_one_digit):
    tok, task, ref = sft_one_digit
    problems = [Problem(f"{a}+{b}=", str(a + b)) for a in range(10) for b in range(10)]
    worked = CarryFirst(task)
    trainer = GRPOTrainer(worked, tok, GRPOConfig(**{**SMALL, "num_updates": 30, "batch_size": 64}),
                          policy=copy.deepcopy(ref), reference=ref,
                          advantage_fn=process_advantage_fn(worked, tok, group_size=8))
    before = accuracy(ref, task, tok, problems)
    trainer.train()
    after = accuracy(trainer.model, task, tok, problems)
    assert after >= before + 0.05, (before, after)  # measured: 0.55 -> 0.67 (seeds 0 and 1)


# ----------------------------------------------------------------- μ = 1 fast path
def _count_log_prob_passes(monkeypatch):
    calls = []
    real = grpo_module.completion_log_probs

    def counting(model, *a, **kw):
        calls.append(model)
        return real(model, *a, **kw)
    monkeypatch.setattr(grpo_module, "completion_log_probs", counting)
    return calls


@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_mu1_skips_the_old_pass_with_identical_steps(sft_one_digit, monkeypatch, beta):
    calls = _count_log_prob_passes(monkeypatch)
    slow = _trainer(sft_one_digit, beta=beta)
    slow.reuse_policy_log_probs = False
    hs = slow.train()
    n_slow = len(calls)
    fast = _trainer(sft_one_digit, beta=beta)
    hf = fast.train()
    n_fast = len(calls) - n_slow
    per_update = 1 + (beta > 0)  # the policy pass (+ the reference pass)
    assert n_fast == 2 * per_update and n_slow == 2 * (per_update + 1)
    assert sum(m is fast.reference for m in calls[n_slow:]) == (2 if beta > 0 else 0)  # β = 0: no reference pass
    assert hs.series("loss/policy")[1].tolist() == hf.series("loss/policy")[1].tolist()
    assert all(torch.equal(p, q) for p, q in zip(_params(slow), _params(fast)))


# ----------------------------------------------------------------- dynamic sampling
def test_keep_groups():
    t, f = True, False
    assert keep_groups(torch.tensor([f, t, f, t, t]), 2).tolist() == [1, 3]
    assert keep_groups(torch.tensor([f, t, f]), 2).tolist() == [0, 1]
    assert keep_groups(torch.tensor([t, f, t]), 3).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="spread"):
        keep_groups(torch.tensor([t]), 2)


def test_dynamic_sampling_trains_only_on_groups_with_spread(sft_one_digit):
    cold = dict(temperature=0.3)  # a confident policy: many groups all right (or all wrong)
    hist = _trainer(sft_one_digit, dynamic_sampling=True, max_resample_rounds=20, **cold).train()
    off = _trainer(sft_one_digit, **cold).train()
    for rec, plain in zip(hist.records[-2:], off.records[-2:]):
        assert rec["stats/batch_zero_std_frac"] == 0.0
        assert plain["stats/batch_zero_std_frac"] == plain["stats/zero_std_frac"] > 0.3
        assert plain["stats/resample_rounds"] == 0
    assert hist.records[-2]["stats/zero_std_frac"] > 0.3 and hist.records[-2]["stats/resample_rounds"] >= 1


def test_dynamic_sampling_without_extra_rounds_is_the_plain_update(sft_one_digit):
    a = _trainer(sft_one_digit, dynamic_sampling=True, max_resample_rounds=0)
    b = _trainer(sft_one_digit)
    ha, hb = a.train(), b.train()
    assert [r["loss/policy"] for r in ha.records] == [r["loss/policy"] for r in hb.records]
    assert all(torch.equal(p, q) for p, q in zip(_params(a), _params(b)))
    with pytest.raises(ValueError, match="max_resample_rounds"):
        GRPOConfig(max_resample_rounds=-1)
