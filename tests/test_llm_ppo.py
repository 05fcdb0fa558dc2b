"""PPO for the language model: token rewards, token-level GAE, loss, config, a learning run."""
import copy

import pytest
import torch

from ppo_grpo_lab import clipped_surrogate, value_loss
from ppo_grpo_lab.llm import (
    PPOLMConfig,
    PPOLMTrainer,
    Problem,
    SFTConfig,
    SFTTrainer,
    accuracy,
    make_critic,
    ppo_lm_loss,
    token_gae,
    token_rewards,
    train_ppo_lm,
)


def test_token_rewards_by_hand():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.bool)
    old = torch.tensor([[-0.1, -0.2, -0.3, -0.4], [-1.0, -1.0, -1.0, -1.0]])
    ref = torch.tensor([[-0.3, -0.2, -0.1, -9.0], [-0.5, -1.0, -1.0, -1.0]])
    r = token_rewards(torch.tensor([1.0, 0.0]), old, ref, mask, beta=0.5)
    want = torch.tensor([[-0.1, 0.0, 0.1 + 1.0, 0.0], [0.25, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(r, want)
    with pytest.raises(ValueError, match="at least one real token"):
        token_rewards(torch.zeros(1), old[:1], ref[:1], torch.zeros(1, 4, dtype=torch.bool), 0.1)


def test_token_gae_by_hand_and_padding_does_not_leak():
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)
    r = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    v = torch.tensor([[0.5, 0.6, 0.7, 9.0]])  # 9.0 sits on padding
    adv, ret = token_gae(r, v, mask, gamma=1.0, lam=1.0)  # Monte Carlo: 1 − V(s_t)
    torch.testing.assert_close(adv, torch.tensor([[0.5, 0.4, 0.3, 0.0]]))
    torch.testing.assert_close(ret, torch.tensor([[1.0, 1.0, 1.0, 0.0]]))
    adv0, _ = token_gae(r, v, mask, gamma=1.0, lam=0.0)  # one-step δ_t; no bootstrap after the last token
    torch.testing.assert_close(adv0, torch.tensor([[0.1, 0.1, 0.3, 0.0]]))
    v2 = v.clone()
    v2[0, 3] = -100.0
    torch.testing.assert_close(token_gae(r, v2, mask, 1.0, 0.95)[0], token_gae(r, v, mask, 1.0, 0.95)[0])


def test_ppo_lm_loss_is_policy_plus_value():
    torch.manual_seed(0)
    lp, old, adv = torch.randn(3, 4) * 0.3 - 1, torch.randn(3, 4) * 0.3 - 1, torch.randn(3, 4)
    v, old_v, ret = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    loss, stats = ppo_lm_loss(lp, old, adv, v, old_v, ret, mask, 0.2, 0.2, 0.5)
    pl, _ = clipped_surrogate(lp, old, adv, 0.2, mask=mask)
    vl, _ = value_loss(v, ret, old_v, 0.2, mask)
    assert loss.item() == pytest.approx((pl + 0.5 * vl).item())
    assert {"loss/policy", "loss/value", "stats/clip_frac", "loss/total"} <= set(stats)


def test_config_validation():
    with pytest.raises(ValueError, match="gae_lambda"):
        PPOLMConfig(gae_lambda=1.5)
    with pytest.raises(ValueError, match="gae_lambda"), pytest.warns(FutureWarning, match="'lam' is deprecated"):
        PPOLMConfig(lam=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        PPOLMConfig(batch_size=0)
    with pytest.raises(ValueError, match="vf_coef"):
        PPOLMConfig(vf_coef=0.0)


def test_make_critic_copies_the_trunk(sft_one_digit):
    _, _, model = sft_one_digit
    critic = make_critic(model)
    torch.testing.assert_close(critic.tok_emb.weight, model.tok_emb.weight)
    assert critic.tok_emb.weight.data_ptr() != model.tok_emb.weight.data_ptr()
    assert critic.num_params() == model.num_params() + model.cfg.n_embd + 1


def test_short_ppo_run_raises_accuracy(sft_one_digit):
    tok, task, ref = sft_one_digit
    problems = [Problem(f"{a}+{b}=", str(a + b)) for a in range(10) for b in range(10)]
    before = accuracy(ref, task, tok, problems)
    policy = copy.deepcopy(ref)
    hist = train_ppo_lm(policy, ref, task, tok, PPOLMConfig(num_updates=40, batch_size=64, learning_rate=3e-4, seed=0,
                                                            progress=False, eval_every=0))
    after = accuracy(policy, task, tok, problems)
    assert after >= before + 0.1, (before, after)  # measured: 0.55 -> 0.71
    assert hist.last("model/params") == 3 * ref.num_params() + ref.cfg.n_embd + 1


@pytest.mark.parametrize("kind", ["ppo_lm", "sft"])
def test_checkpoint_resume_equals_one_run(sft_one_digit, tmp_path, kind):
    """PPO-LM and SFT: 2 updates, save (plain data, weights_only=True), load, 1 more == 3 in one go."""
    tok, task, ref = sft_one_digit
    if kind == "ppo_lm":
        cfg = PPOLMConfig(num_updates=3, batch_size=16, eval_every=0, progress=False, device="cpu")
        make = lambda: PPOLMTrainer(task, tok, cfg, policy=copy.deepcopy(ref), reference=copy.deepcopy(ref))  # noqa: E731
        cls = PPOLMTrainer
    else:
        cfg = SFTConfig(num_updates=3, batch_size=16, progress=False, device="cpu")
        make = lambda: SFTTrainer(task, tok, cfg, ref.cfg)  # noqa: E731
        cls = SFTTrainer
    one = make()
    one.train()
    two = make()
    two.train(num_updates=2)
    two.save(tmp_path / "c.pt")
    assert torch.load(tmp_path / "c.pt", weights_only=True)["kind"] == kind
    resumed = cls.load(tmp_path / "c.pt", task, tok)
    resumed.train()
    assert resumed.step == 3
    for p, q in zip(one.policy.parameters(), resumed.policy.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
