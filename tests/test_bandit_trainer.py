"""Part I machinery: exact quantities, gradient estimates, the bandit trainer's config and learning."""
import numpy as np
import pytest
import torch

from ppo_grpo_lab.bandit import (
    BanditConfig,
    exact_kl,
    exact_policy_gradient,
    expected_reward,
    gradient_error,
    gradient_estimates,
    kl_regularized_optimum,
    optimal_reward,
    regularized_objective,
    reinforce_loss,
    sample_exams,
    state_values,
    train_bandit,
)
from ppo_grpo_lab.bandit.policy import TabularSoftmaxPolicy
from ppo_grpo_lab.envs.exam_bandit import ExamModel, default_exam_model

torch.set_num_threads(1)
MODEL = default_exam_model()


# ---------------------------------------------------------------- config validation
@pytest.mark.parametrize("kw, match", [
    ({"baseline": "median"}, "baseline"),
    ({"clip_eps": 0.0}, "clip_eps"),
    ({"clip_eps": float("nan")}, "clip_eps"),
    ({"clip_eps": None, "update_epochs": 4}, "clip_eps=0.2"),
    ({"beta": -0.1}, "beta"),
    ({"kl_estimator": "k4"}, "kl_estimator"),
    ({"baseline": "group", "group_size": 1}, "group_size"),
    ({"baseline": "group", "group_size": 8, "batch_size": 60}, "batch_size=56"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"critic_learning_rate": -1.0}, "critic_learning_rate"),
    ({"num_updates": 0}, "num_updates"),
    ({"adv_scale": "std"}, "adv_scale"),
    ({"init": "random"}, "init"),
])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        BanditConfig(**kw)


@pytest.mark.parametrize("old, new, value", [
    ("lr", "learning_rate", 0.02), ("critic_lr", "critic_learning_rate", 0.2), ("epochs", "update_epochs", 3),
    ("kl_beta", "beta", 0.5), ("group_scale", "adv_scale", "none"), ("steps", "num_updates", 7),
])
def test_config_old_names_warn_and_map_to_the_vocabulary(old, new, value):
    with pytest.warns(FutureWarning, match=old):
        cfg = BanditConfig(**{old: value})
    assert getattr(cfg, new) == value
    with pytest.warns(FutureWarning, match=new):
        assert getattr(cfg, old) == value


def test_config_old_names_still_validate():
    with pytest.raises(ValueError, match="beta"), pytest.warns(FutureWarning):
        BanditConfig(kl_beta=-0.1)
    with pytest.raises(ValueError, match="learning_rate"), pytest.warns(FutureWarning):
        BanditConfig(lr=0.0)
    with pytest.raises(ValueError, match="num_updates"), pytest.warns(FutureWarning):
        BanditConfig(steps=0)


def test_config_accepts_clip_eps_at_least_one_and_round_trips():
    cfg = BanditConfig(clip_eps=1.5, update_epochs=2, seed=4)
    assert cfg.clip_eps == 1.5
    assert BanditConfig.from_dict(cfg.to_dict()) == cfg


# ---------------------------------------------------------------- exact quantities
def test_exact_gradient_worked_example():
    m = ExamModel(("s",), ("a", "b"), np.array([1.0]), np.array([[0.2, 0.6]]), np.array([[0.1, 0.1]]),
                  np.array([[0.5, 0.5]]))
    g = exact_policy_gradient(torch.zeros(1, 2), m)
    assert torch.allclose(g, torch.tensor([[-0.1, 0.1]], dtype=torch.float64))
    assert float(expected_reward(torch.tensor([[0.5, 0.5]]), m)) == pytest.approx(0.4)


def test_exact_gradient_matches_autograd_and_finite_differences():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    J = expected_reward(torch.softmax(logits, -1), MODEL)
    (auto,) = torch.autograd.grad(J, logits)
    exact = exact_policy_gradient(logits, MODEL)
    assert torch.allclose(auto, exact, atol=1e-12)
    h = 1e-6
    fd = torch.zeros_like(exact)
    with torch.no_grad():
        for i in range(2):
            for j in range(4):
                e = torch.zeros_like(logits)
                e[i, j] = h
                fd[i, j] = (expected_reward(torch.softmax(logits + e, -1), MODEL)
                            - expected_reward(torch.softmax(logits - e, -1), MODEL)) / (2 * h)
    assert torch.allclose(fd, exact, atol=1e-8)


def test_exact_kl_hand_case_and_properties():
    p = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    q = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    kl = exact_kl(p, q)
    assert kl[0] == pytest.approx(0.5 * np.log(2) + 0.5 * np.log(0.5 / 0.75))
    assert kl[1] == pytest.approx(np.log(2))
    assert float(exact_kl(q, q).abs().max()) == 0.0
    with pytest.raises(ValueError, match="ref_probs"):
        exact_kl(q, p)  # p has a zero where q does not


def test_kl_regularized_optimum_is_the_maximiser():
    beta = 0.3
    star = kl_regularized_optimum(MODEL, beta)
    best = float(regularized_objective(star, MODEL, beta))
    gen = torch.Generator().manual_seed(1)
    for _ in range(50):
        other = torch.softmax(star.log() + 0.3 * torch.randn(2, 4, generator=gen, dtype=torch.float64), -1)
        assert float(regularized_objective(other, MODEL, beta)) < best
    assert optimal_reward(MODEL) == pytest.approx(0.5 * 0.95 + 0.5 * 0.90)
    assert optimal_reward(MODEL, exclude=("cheat",)) == pytest.approx(0.5 * 0.86 + 0.5 * 0.50)
    assert torch.allclose(state_values(torch.tensor(MODEL.reference_probs), MODEL),
                          torch.tensor((MODEL.reference_probs * MODEL.mean).sum(1)))


# ---------------------------------------------------------------- gradient estimates
def test_gradient_estimate_equals_autograd_of_reinforce_loss():
    logits = torch.tensor(np.log(MODEL.reference_probs))
    est = gradient_estimates(logits, MODEL, batch_size=16, n_batches=1, rng=np.random.default_rng(5))[0]
    s, a, r = sample_exams(torch.softmax(logits, -1), MODEL, 16, 1, np.random.default_rng(5))
    pol = TabularSoftmaxPolicy(2, 4, torch.tensor(MODEL.reference_probs))
    obs = torch.nn.functional.one_hot(torch.as_tensor(s), 2).float()
    loss = reinforce_loss(pol.log_prob(obs, torch.as_tensor(a)), torch.as_tensor(r).float())
    loss.backward()
    assert torch.allclose(-pol.logits.grad.double(), est, atol=1e-6)


def test_reinforce_loss_hand_value_and_errors():
    lp = torch.log(torch.tensor([0.5, 0.25]))
    assert float(reinforce_loss(lp, torch.tensor([1.0, 2.0]))) == pytest.approx(-(np.log(0.5) + 2 * np.log(0.25)) / 2)
    with pytest.raises(ValueError, match="advantages"):
        reinforce_loss(lp, torch.ones(3))


def test_estimates_unbiased_and_baseline_lowers_variance():
    logits = torch.tensor(np.log(MODEL.reference_probs))
    exact = exact_policy_gradient(logits, MODEL)
    v = state_values(torch.softmax(logits, -1), MODEL)
    rng = np.random.default_rng(0)
    none = gradient_error(gradient_estimates(logits, MODEL, 32, 4000, "none", rng=rng), exact)
    critic = gradient_error(gradient_estimates(logits, MODEL, 32, 4000, "critic", values=v, rng=rng), exact)
    assert none["rel_bias"] < 0.05 and critic["rel_bias"] < 0.05
    assert none["variance"] > 3 * critic["variance"]
    with pytest.raises(ValueError, match="values"):
        gradient_estimates(logits, MODEL, 32, 2, "critic")


# ---------------------------------------------------------------- the trainer
def test_tiny_budget_moves_parameters():
    cfg = BanditConfig(baseline="critic", num_updates=2, batch_size=16, progress=False)
    policy, critic, hist = train_bandit(cfg)
    assert not torch.allclose(policy.probs(), torch.tensor(MODEL.reference_probs, dtype=torch.float32))
    assert float(critic.values.detach().abs().sum()) > 0
    assert len(hist) == 2 and {"reward/mean", "loss/policy", "loss/value", "stats/clip_frac",
                               "stats/kl_ref", "policy/younger/cheat"} <= set(hist.keys())


@pytest.fixture(scope="module")
def no_kl_run():
    return train_bandit(BanditConfig(baseline="critic", clip_eps=0.2, update_epochs=4, num_updates=150, progress=False))


def test_learning_reaches_optimum(no_kl_run):
    # The env does not penalise cheating (the score is the hackable signal), so the true optimum includes it.
    _, _, hist = no_kl_run
    start = float(expected_reward(torch.tensor(MODEL.reference_probs), MODEL))
    assert start < 0.6
    assert hist.last("reward/expected") >= 0.95 * optimal_reward(MODEL)


def test_kl_penalty_keeps_cheating_low(no_kl_run):
    policy_free = no_kl_run[0]
    policy_kl, _, _ = train_bandit(BanditConfig(baseline="critic", clip_eps=0.2, update_epochs=4, num_updates=150,
                                                beta=1.0, kl_estimator="k3", progress=False))
    assert float(policy_free.probs()[:, 3].min()) > 0.9
    assert float(policy_kl.probs()[:, 3].max()) < 0.05


def test_k2_penalty_reaches_regularised_optimum():
    beta = 0.3
    policy, _, _ = train_bandit(BanditConfig(baseline="critic", clip_eps=0.2, update_epochs=4, num_updates=150,
                                             beta=beta, kl_estimator="k2", progress=False))
    best = float(regularized_objective(kl_regularized_optimum(MODEL, beta), MODEL, beta))
    ref = float(regularized_objective(torch.tensor(MODEL.reference_probs), MODEL, beta))
    got = float(regularized_objective(policy.probs().double() / policy.probs().double().sum(-1, keepdim=True),
                                      MODEL, beta))
    assert best - got < 0.1 * (best - ref)


def test_group_baseline_learns():
    _, _, hist = train_bandit(BanditConfig(baseline="group", group_size=8, batch_size=64, clip_eps=0.2, update_epochs=4,
                                           num_updates=100, progress=False))
    assert hist.last("reward/expected") >= 0.95 * optimal_reward(MODEL)
    assert "stats/zero_std_frac" in hist.keys()


def test_same_seed_same_history_and_auto_device():
    cfg = dict(baseline="group", group_size=4, batch_size=16, num_updates=3, progress=False, device="auto")
    h1 = train_bandit(BanditConfig(seed=3, **cfg))[2]
    h2 = train_bandit(BanditConfig(seed=3, **cfg))[2]
    h3 = train_bandit(BanditConfig(seed=4, **cfg))[2]
    assert h1.records == h2.records
    assert h1.records != h3.records


def test_group_mean_shrinks_gradient_by_one_minus_one_over_g():
    logits = torch.tensor(np.log(MODEL.reference_probs))
    exact = exact_policy_gradient(logits, MODEL)
    for G in (2, 4):
        est = gradient_estimates(logits, MODEL, 64, 3000, "group", group_size=G, group_scale="none",
                                 rng=np.random.default_rng(G))
        scale = float((est.mean(0) * exact).sum() / (exact ** 2).sum())
        assert abs(scale - (1 - 1 / G)) < 0.05, (G, scale)


def test_group_members_share_a_student():
    import gymnasium as gym

    from ppo_grpo_lab.bandit.trainer import _sit_exams

    cfg = BanditConfig(baseline="group", group_size=4, batch_size=16, progress=False)
    envs = [gym.make("ppo_grpo_lab/ExamBandit-v0") for _ in range(16)]
    for i, e in enumerate(envs):
        e.reset(seed=i)
    pol = TabularSoftmaxPolicy(2, 4)
    obs, actions, rewards = _sit_exams(envs, pol, cfg, torch.Generator().manual_seed(0), torch.device("cpu"))
    students = obs.argmax(1).view(4, 4)
    assert (students == students[:, :1]).all()
    assert len(set(students[:, 0].tolist())) == 2  # with 4 groups of seeded draws both students appear
    assert rewards.shape == (16,) and actions.shape == (16,)


def test_bad_inputs_of_package_pieces():
    pol = TabularSoftmaxPolicy(2, 4)
    with pytest.raises(ValueError, match="obs"):
        pol(torch.ones(3, 5))
    with pytest.raises(ValueError, match="actions"):
        pol.log_prob(torch.eye(2), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="init_probs"):
        TabularSoftmaxPolicy(2, 4, torch.zeros(2, 4))
    logits = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="batch_size"):
        gradient_estimates(logits, MODEL, 30, 2, "group", group_size=8)
    with pytest.raises(ValueError, match="logits"):
        gradient_estimates(torch.zeros(3, 4), MODEL, 32, 2)
    with pytest.raises(ValueError, match="probs"):
        expected_reward(torch.ones(2, 4), MODEL)       # rows do not sum to 1
    with pytest.raises(ValueError, match="beta"):
        kl_regularized_optimum(MODEL, 0.0)
    with pytest.raises(ValueError, match="exclude"):
        optimal_reward(MODEL, exclude=MODEL.actions)


def test_trainer_accepts_a_custom_model():
    m = ExamModel(("solo",), ("low", "high"), np.array([1.0]), np.array([[0.3, 0.7]]), np.array([[0.1, 0.1]]),
                  np.array([[0.5, 0.5]]))
    policy, _, hist = train_bandit(BanditConfig(num_updates=30, batch_size=32, progress=False), model=m)
    assert hist.last("policy/solo/high") > 0.8
    assert hist.last("reward/expected") > 0.6
