"""GRPO: config validation, the loss against hand computation, and a learning test."""
import copy
import math

import pytest
import torch

from ppo_grpo_lab.checkpoint import CheckpointError
from ppo_grpo_lab.llm import GRPOConfig, GRPOTrainer, accuracy, grpo_loss, is_collapsed, train_grpo

LP = [[-1.0, -0.5, -2.0], [-0.2, -1.5, -0.7]]
OLD = [[-1.2, -0.5, -1.0], [-0.2, -1.0, -0.7]]
REF = [[-1.0, -0.8, -1.0], [-0.5, -1.5, -0.3]]
ADV = [1.0, -0.5]
MASK = [[1, 1, 0], [1, 1, 1]]


def _per_token_by_hand(eps, eps_high, beta):
    """Plain-Python GRPO terms: min(r A, clip(r) A) − β (ρ − 1 − log ρ), ρ = π_ref / π_θ."""
    out = []
    for lp_row, old_row, ref_row, a in zip(LP, OLD, REF, ADV):
        row = []
        for lp, old, ref in zip(lp_row, old_row, ref_row):
            r = math.exp(lp - old)
            obj = min(r * a, min(max(r, 1 - eps), 1 + eps_high) * a)
            k3 = math.exp(ref - lp) - 1 - (ref - lp)
            row.append(obj - beta * k3)
        out.append(row)
    return out


@pytest.mark.parametrize("eps_high", [None, 0.3])
def test_grpo_loss_equals_hand_computation(eps_high):
    eps, beta = 0.2, 0.1
    x = _per_token_by_hand(eps, eps if eps_high is None else eps_high, beta)
    lens = [sum(m) for m in MASK]
    sums = [sum(v for v, m in zip(row, mrow) if m) for row, mrow in zip(x, MASK)]
    want = {
        "grpo": -(sums[0] / lens[0] + sums[1] / lens[1]) / 2,  # 1/G Σ_i 1/|o_i| Σ_t
        "dr_grpo": -(sums[0] + sums[1]) / (2 * 3),  # constant B · L_max
        "dapo": -(sums[0] + sums[1]) / (lens[0] + lens[1]),  # token-level mean
    }
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in dict(lp=LP, old=OLD, ref=REF, adv=ADV).items()}
    mask = torch.tensor(MASK, dtype=torch.bool)
    for rule, value in want.items():
        loss, stats = grpo_loss(t["lp"], t["old"], t["ref"], t["adv"], mask, eps, eps_high, beta, rule)
        assert loss.item() == pytest.approx(value, abs=1e-10), rule
    # stats: token (0,0) has r = e^0.2 = 1.22 > 1.2 with A > 0 (high clip); (0,2) is padding
    # token (1,1) has r = e^-0.5 = 0.61 < 0.8 with A < 0 (low clip)
    high = 1 / 5 if eps_high is None else 0.0  # 1.22 > 1.3 is false with eps_high = 0.3
    assert stats["stats/clip_frac_high"].item() == pytest.approx(high)
    assert stats["stats/clip_frac_low"].item() == pytest.approx(1 / 5)
    assert stats["stats/kl_ref"].item() > 0


def test_grpo_loss_simple_numbers():
    # ratio 1, β = 0: the loss is −(aggregated advantages); lengths 1 and 3
    lp = torch.zeros(2, 3)
    mask = torch.tensor([[1, 0, 0], [1, 1, 1]], dtype=torch.bool)
    adv = torch.tensor([1.0, -1.0])
    grpo, _ = grpo_loss(lp, lp, lp, adv, mask, beta=0.0, aggregation="grpo")
    dapo, _ = grpo_loss(lp, lp, lp, adv, mask, beta=0.0, aggregation="dapo")
    dr, _ = grpo_loss(lp, lp, lp, adv, mask, beta=0.0, aggregation="dr_grpo")
    assert grpo.item() == pytest.approx(0.0)  # (1 − 1)/2: equal weight per answer
    assert dapo.item() == pytest.approx(0.5)  # −(1 − 3)/4: the long answer's tokens dominate
    assert dr.item() == pytest.approx(2 / 6)  # −(1 − 3)/(2·3)


def test_zero_loss_nonzero_gradient():
    torch.manual_seed(0)
    logits = torch.randn(4, 3, 5, requires_grad=True)
    tokens = torch.randint(0, 5, (4, 3))
    lp = torch.log_softmax(logits, -1).gather(-1, tokens[..., None]).squeeze(-1)
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])  # centred
    mask = torch.ones(4, 3, dtype=torch.bool)
    loss, _ = grpo_loss(lp, lp.detach(), lp.detach(), adv, mask, beta=0.04)
    loss.backward()
    assert abs(loss.item()) < 1e-6
    assert logits.grad.norm().item() > 0.1


def test_config_validation_messages():
    with pytest.raises(ValueError, match=r"multiple of group_size=8, got 100; use 96 or 104"):
        GRPOConfig(batch_size=100, group_size=8)
    with pytest.raises(ValueError, match="G >= 2"):
        GRPOConfig(group_size=1)
    with pytest.raises(ValueError, match="aggregation"):
        GRPOConfig(aggregation="mean")
    with pytest.raises(ValueError, match="adv_scale"), pytest.warns(FutureWarning, match="'scale' is deprecated"):
        GRPOConfig(scale="std")
    with pytest.raises(ValueError, match="clip_eps"):
        GRPOConfig(clip_eps=0.0)
    assert GRPOConfig(clip_eps=1.5).clip_eps == 1.5  # ε >= 1 is allowed: the lower bound then never binds
    with pytest.raises(ValueError, match="beta"):
        GRPOConfig(beta=-0.1)
    with pytest.raises(ValueError, match="advantages"):
        grpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3), torch.ones(2, 3))


def test_short_grpo_run_raises_accuracy(sft_one_digit):
    tok, task, ref = sft_one_digit
    from ppo_grpo_lab.llm import Problem
    problems = [Problem(f"{a}+{b}=", str(a + b)) for a in range(10) for b in range(10)]
    before = accuracy(ref, task, tok, problems)
    policy = copy.deepcopy(ref)
    hist = train_grpo(policy, ref, task, tok, GRPOConfig(num_updates=40, batch_size=64, group_size=8, learning_rate=3e-4,
                                                         seed=0, progress=False, eval_every=0))
    after = accuracy(policy, task, tok, problems)
    assert after >= before + 0.1, (before, after)  # measured: 0.55 -> 0.76
    r = hist.series("reward/mean")[1]
    assert r[-5:].mean() > r[:5].mean()
    for k in ["stats/zero_std_frac", "stats/clip_frac", "stats/kl_ref", "stats/entropy", "completion/length",
              "memory/state_mb", "model/params"]:
        assert k in hist.keys()


def test_old_names_are_aliases():
    with pytest.warns(FutureWarning, match="'lr' is deprecated, use 'learning_rate'"):
        cfg = GRPOConfig(lr=3e-4, mu=2, steps=7)
    assert (cfg.learning_rate, cfg.update_epochs, cfg.num_updates) == (3e-4, 2, 7)
    assert GRPOConfig.from_dict(cfg.to_dict()) == cfg


def _tiny(**kw):
    return GRPOConfig(**{**dict(num_updates=4, batch_size=16, group_size=4, update_epochs=2, eval_every=0,
                                progress=False, device="cpu"), **kw})


def test_resume_from_checkpoint_equals_one_run(sft_one_digit, tmp_path):
    """2 updates, save, load, 2 more == 4 updates in one go (weights, Adam state, RNG streams restored)."""
    tok, task, ref = sft_one_digit
    one = GRPOTrainer(task, tok, _tiny(), policy=copy.deepcopy(ref), reference=copy.deepcopy(ref))
    one.train()
    two = GRPOTrainer(task, tok, _tiny(), policy=copy.deepcopy(ref), reference=copy.deepcopy(ref))
    two.train(num_updates=2)
    assert two.step == 2
    two.save(tmp_path / "g.pt")
    ckpt = torch.load(tmp_path / "g.pt", weights_only=True)  # plain data only
    assert ckpt["kind"] == "grpo" and ckpt["step"] == 2 and set(ckpt["models"]) == {"policy", "reference"}
    resumed = GRPOTrainer.load(tmp_path / "g.pt", task, tok)
    resumed.train()
    assert resumed.step == 4 and [r["step"] for r in resumed.history.records] == [1, 2, 3, 4]
    for p, q in zip(one.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    for a, b in zip(one.history.records, resumed.history.records):
        assert a["reward/mean"] == b["reward/mean"] and a["loss/policy"] == b["loss/policy"]
    with pytest.raises(ValueError, match="task"):
        GRPOTrainer.load(tmp_path / "g.pt", type("Other", (), {"name": "countdown"})(), tok)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        GRPOTrainer.load(tmp_path / "bad.pt", task, tok)


def test_watchdog_flags_the_collapse_of_a_too_large_step(sft_one_digit):
    assert is_collapsed(0.0, 0.41, 3.05, 1.0) and not is_collapsed(0.5, 0.41, 0.1, 0.1)
    assert not is_collapsed(0.0, 0.0, 3.0, 1.0)  # no reward from the start: nothing was lost
    tok, task, ref = sft_one_digit
    trainer = GRPOTrainer(task, tok, _tiny(num_updates=8, batch_size=64, update_epochs=1, learning_rate=3e-2),
                          policy=copy.deepcopy(ref), reference=copy.deepcopy(ref))
    with pytest.warns(RuntimeWarning, match="lower learning_rate"):
        trainer.train()
    assert trainer.collapsed_at is not None and "learning_rate" in trainer.collapse_message
    assert trainer.history.last("watchdog/collapse") == 1.0
    calm = GRPOTrainer(task, tok, _tiny(num_updates=8, batch_size=64, update_epochs=1),
                       policy=copy.deepcopy(ref), reference=copy.deepcopy(ref))
    calm.train()
    assert calm.collapsed_at is None and calm.history.series("watchdog/collapse")[1].max() == 0.0
