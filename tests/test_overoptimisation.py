"""GRPO against a learned reward model: the proxy rises, the gold is only logged, iterative RL retrains.

The GRPO is GRPOTrainer's (with the reward model as its reward hook): the same updates as a plain
GRPOTrainer run with that hook."""
import pytest
import torch

from ppo_grpo_lab.llm import (
    AdditionTask,
    CharTokenizer,
    GPTConfig,
    GRPOConfig,
    GRPOTrainer,
    PPOLMConfig,
    PPOLMTrainer,
    SFTConfig,
    train_sft,
)
from ppo_grpo_lab.llm.overoptimisation import (
    OveroptConfig,
    beta_sweep,
    fit_reward_model,
    grpo_against_reward_model,
    ppo_against_reward_model,
    preference_data,
)
from ppo_grpo_lab.llm.preferences import FlawedLabeller
from ppo_grpo_lab.llm.reward_model import RewardModelConfig, pairwise_accuracy, reward_fn


@pytest.fixture(scope="module")
def setup():
    torch.set_num_threads(1)
    tok, task = CharTokenizer(), AdditionTask(digits=1)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=16)
    policy, _ = train_sft(task, tok, cfg, SFTConfig(batch_size=64, error_rate=0.5, seed=0, progress=False,
                                                    num_updates=150, learning_rate=3e-3))
    lab = FlawedLabeller(0.3, "ends_in_zero")
    tr, te = preference_data(policy, task, tok, lab, 400, 100, samples=4, seed=1)
    rmc = RewardModelConfig(num_updates=150, batch_size=64, learning_rate=3e-3, seed=0, progress=False)
    rm = fit_reward_model(policy, tok, tr, rmc, task.max_answer_len)
    return tok, task, policy, lab, tr, te, rmc, rm


def test_preference_data_and_reward_model(setup):
    tok, task, policy, lab, tr, te, rmc, rm = setup
    assert len(tr) > 100 and len(te) > 20
    assert bool((tr.chosen_correct != tr.rejected_correct).all())  # mixed pairs only
    acc = pairwise_accuracy(rm, tok, te, task.max_answer_len)
    assert acc["gold"] > 0.6  # better than a coin on held-out pairs


def test_grpo_against_reward_model_raises_the_proxy(setup):
    tok, task, policy, lab, tr, te, rmc, rm = setup
    import copy
    pol = copy.deepcopy(policy)
    before = [p.detach().clone() for p in pol.parameters()]
    cfg = OveroptConfig(num_updates=40, batch_size=128, group_size=8, learning_rate=1e-3, beta=0.0, eval_every=20,
                        seed=0, progress=False)
    h = grpo_against_reward_model(pol, task, tok, rm, cfg, task.eval_set(50), lab)
    assert any(not torch.equal(a, b) for a, b in zip(before, pol.parameters()))
    assert [r["step"] for r in h.records if "eval/gold" in r] == [0, 20, 40]
    _, proxy = h.series("reward/proxy")
    assert proxy[-10:].mean() > proxy[:10].mean()  # the policy climbs the reward model (noisy per batch)
    _, ev = h.series("eval/proxy")
    assert ev[-1] > ev[0] + 1.0  # greedy answers on held-out questions: −0.73 → 1.95 when written
    for key in ("reward/gold", "reward/surface", "stats/kl_ref"):
        assert len(h.series(key)[1]) == 40
    assert h.series("stats/kl_ref")[1][-1] > 0  # it moved away from π_ref
    # the reward model itself is not changed without retraining
    assert pairwise_accuracy(rm, tok, te, task.max_answer_len) == pairwise_accuracy(rm, tok, te, task.max_answer_len)


def test_it_is_grpo_trainer_with_the_reward_model_as_hook(setup):
    tok, task, policy, lab, tr, te, rmc, rm = setup
    import copy
    kw = dict(num_updates=3, batch_size=32, group_size=4, learning_rate=1e-3, beta=0.05, seed=3, progress=False)
    pol_a, pol_b = copy.deepcopy(policy), copy.deepcopy(policy)
    h = grpo_against_reward_model(pol_a, task, tok, rm, OveroptConfig(**kw, eval_every=0), task.eval_set(10))
    plain = GRPOTrainer(task, tok, GRPOConfig(**kw, eval_every=0), policy=pol_b,
                        reward_fn=reward_fn(rm, tok, task.max_answer_len)).train()
    for key, plain_key in (("reward/proxy", "reward/mean"), ("stats/kl_ref", "stats/kl_ref"),
                           ("reward/gold", "reward/accuracy")):
        assert h.series(key)[1].tolist() == plain.series(plain_key)[1].tolist(), key
    assert all(torch.equal(a, b) for a, b in zip(pol_a.parameters(), pol_b.parameters()))
    assert isinstance(OveroptConfig(), GRPOConfig)


def test_ppo_reward_hook_is_the_training_reward_and_the_checker_the_gold(setup):
    tok, task, policy, lab, tr, te, rmc, rm = setup
    import copy
    seen = []

    def inverted(problems, texts, finished):  # rewards exactly the wrong answers
        r = torch.tensor([float(f and t != p.answer) for p, t, f in zip(problems, texts, finished)])
        seen.append(r)
        return r
    cfg = PPOLMConfig(num_updates=2, batch_size=32, seed=0, progress=False, eval_every=0)
    h = PPOLMTrainer(task, tok, cfg, policy=copy.deepcopy(policy), reward_fn=inverted).train()
    assert len(seen) == 2
    _, mean = h.series("reward/mean")
    _, gold = h.series("reward/gold")
    _, acc = h.series("reward/accuracy")
    assert mean.tolist() == [float(r.mean()) for r in seen]
    assert gold.tolist() == acc.tolist() and all(m + g <= 1 + 1e-6 for m, g in zip(mean, gold))  # never both
    assert gold.sum() > 0


def test_ppo_against_reward_model_raises_the_proxy(setup):
    tok, task, policy, lab, tr, te, rmc, rm = setup
    import copy
    cfg = PPOLMConfig(num_updates=30, batch_size=64, learning_rate=1e-3, beta=0.0, eval_every=15, seed=0,
                      progress=False)
    h = ppo_against_reward_model(copy.deepcopy(policy), task, tok, rm, cfg, task.eval_set(50), lab)
    assert [r["step"] for r in h.records if "eval/gold" in r] == [0, 15, 30]
    _, ev = h.series("eval/proxy")
    assert ev[-1] > ev[0] + 1.0, ev  # the reward model's score of greedy answers to held-out questions
    for key in ("reward/proxy", "reward/gold", "reward/surface", "stats/kl_ref", "loss/value"):
        assert len(h.series(key)[1]) == 30
    assert h.series("stats/kl_ref")[1][-5:].mean() > 0


def test_iterative_rl_retrains_with_replay(setup):
    tok, task, policy, lab, tr, te, rmc, rm = setup
    import copy
    rm2, pol = copy.deepcopy(rm), copy.deepcopy(policy)
    w0 = rm2.trunk.value_head.weight.detach().clone()
    cfg = OveroptConfig(num_updates=6, batch_size=32, group_size=4, retrain_every=3, retrain_problems=60,
                        retrain_samples=4, retrain_updates=5, eval_every=0, seed=0)
    h = grpo_against_reward_model(pol, task, tok, rm2, cfg, task.eval_set(20), lab, tr, rmc)
    steps, n_new = h.series("rm/new_pairs")
    assert steps.tolist() == [3] and n_new[0] > 0  # retrained at 3, not at the last update
    static = grpo_against_reward_model(copy.deepcopy(policy), task, tok, copy.deepcopy(rm),
                                       OveroptConfig(**{**cfg.to_dict(), "retrain_every": 0}), task.eval_set(20))
    _, a = h.series("reward/proxy")
    _, b = static.series("reward/proxy")
    assert a[:3].tolist() == b[:3].tolist() and a[3:].tolist() != b[3:].tolist()  # the same run until it retrains
    assert not torch.equal(w0, rm2.trunk.value_head.weight)
    with pytest.raises(ValueError, match="retrain_every > 0"):
        grpo_against_reward_model(pol, task, tok, rm2, cfg, task.eval_set(20))


def test_beta_sweep_leaves_inputs_alone(setup):
    tok, task, policy, lab, tr, te, rmc, rm = setup
    w0 = [p.detach().clone() for p in policy.parameters()]
    out = beta_sweep(policy, task, tok, rm, [0.0, 0.5], OveroptConfig(num_updates=3, batch_size=16, group_size=4,
                                                                        eval_every=0), task.eval_set(10))
    assert sorted(out) == [0.0, 0.5] and all(len(h.series("reward/proxy")[1]) == 3 for h in out.values())
    assert all(torch.equal(a, b) for a, b in zip(w0, policy.parameters()))


def test_config_errors():
    with pytest.raises(ValueError, match="batch_size"):
        OveroptConfig(batch_size=30, group_size=8)
    with pytest.raises(ValueError, match="replay_frac"):
        OveroptConfig(replay_frac=1.0)
