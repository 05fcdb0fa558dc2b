"""Full PPO: config validation, the combined loss by hand, truncation bootstrapping,
determinism, checkpoint resume, NaN guard, unsupported spaces, parameters move."""
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from ppo_grpo_lab.envs.torch_cartpole import TorchCartPoleVectorEnv
from ppo_grpo_lab.ppo import (
    ActorCritic,
    EpisodeTracker,
    PPOConfig,
    PPOTrainer,
    VecEnvAdapter,
    collect_rollout,
    compute_advantages,
    make_vec_env,
    ppo_loss,
    train_ppo,
)

torch.set_num_threads(1)  # tiny MLPs: one thread is fastest and avoids contention on shared CPUs

SMALL = dict(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 4, update_epochs=2, num_minibatches=2,
             progress=False, device="cpu")


def _records_without_sps(history):
    return [{k: v for k, v in r.items() if k != "charts/SPS"} for r in history.records]


# ------------------------------------------------------------------ config
@pytest.mark.parametrize("field, value", [
    ("num_envs", 0), ("num_steps", -1), ("gamma", 1.5), ("gae_lambda", -0.1), ("learning_rate", 0.0),
    ("clip_eps", 0.0), ("clip_eps", -0.5), ("ent_coef", -0.01), ("vf_coef", float("inf")), ("max_grad_norm", 0.0),
    ("target_kl", -1.0), ("hidden_sizes", ()), ("activation", "gelu"), ("num_minibatches", 3),
    ("total_timesteps", 10), ("anneal_lr", 1), ("value_clip_eps", 0.0), ("seed", -3), ("gamma", "0.9"),
])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field}: expected"):
        PPOConfig(**{field: value})


def test_config_accepts_clip_eps_of_one_or_more():
    # ε ≥ 1: the ratio's lower bound 1 − ε ≤ 0 never binds (ratios are positive), only 1 + ε does
    assert PPOConfig(clip_eps=1.0).clip_eps == 1.0 and PPOConfig(clip_eps=3.0).clip_eps == 3.0


def test_config_deprecated_value_clip_names_map_to_value_clip_eps():
    with pytest.warns(FutureWarning, match="value_clip_eps=10.0"):
        assert PPOConfig(clip_vloss=True, vf_clip=10.0).value_clip_eps == 10.0
    with pytest.warns(FutureWarning):
        assert PPOConfig(clip_vloss=True).value_clip_eps == 0.2  # the old vf_clip default
    with pytest.warns(FutureWarning):
        assert PPOConfig(clip_vloss=False, vf_clip=5.0).value_clip_eps is None
    with pytest.warns(FutureWarning):
        assert PPOConfig.from_dict({"clip_vloss": True, "vf_clip": 3.0, "num_envs": 4}).value_clip_eps == 3.0
    cfg = PPOConfig(value_clip_eps=0.5)
    with pytest.warns(FutureWarning):
        assert (cfg.clip_vloss, cfg.vf_clip) == (True, 0.5)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="^value_clip_eps: expected"):
        PPOConfig(clip_vloss=True, vf_clip=0.0)
    assert PPOConfig().value_clip_eps is None


def test_config_is_a_trainer_config_and_round_trips_through_a_dict():
    from ppo_grpo_lab.config import TrainerConfig
    cfg = PPOConfig(num_envs=4, hidden_sizes=(32, 16), value_clip_eps=0.3)
    assert isinstance(cfg, TrainerConfig) and cfg.seed == 1
    assert PPOConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(TypeError):
        PPOConfig(8)  # keyword-only


def test_learning_rate_schedule_is_linear_from_alpha_to_alpha_over_K():
    cfg = PPOConfig(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 4, learning_rate=1e-3)
    assert [cfg.learning_rate_at(k) for k in (1, 2, 4)] == pytest.approx([1e-3, 0.75e-3, 0.25e-3])
    assert PPOConfig(anneal_lr=False, learning_rate=1e-3).learning_rate_at(7) == 1e-3


def test_config_derived_sizes():
    cfg = PPOConfig(num_envs=8, num_steps=128, num_minibatches=4, total_timesteps=150_000)
    assert (cfg.batch_size, cfg.minibatch_size, cfg.num_updates) == (1024, 256, 146)
    assert PPOConfig(max_grad_norm=None, target_kl=None).max_grad_norm is None


# ------------------------------------------------------------------ loss
def test_ppo_loss_on_a_hand_computed_batch():
    # ratios r = (1.5, 0.5), A = (1, -2), ε = 0.2:
    #   min(1.5·1, 1.2·1) = 1.2 ;  min(0.5·(-2), 0.8·(-2)) = -1.6  → −L^CLIP = −(1.2 − 1.6)/2 = 0.2
    # V = (3, 0), V^targ = (1, 1) → L^VF = (4 + 1)/2 = 2.5 ; uniform logits over 2 actions → H = ln 2
    old = torch.log(torch.tensor([0.2, 0.4]))
    new = old + torch.log(torch.tensor([1.5, 0.5]))
    loss, stats = ppo_loss(new, old, torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.0]), torch.tensor([1.0, 1.0]),
                           logits=torch.zeros(2, 2), clip_eps=0.2, vf_coef=0.5, ent_coef=0.01)
    assert stats["loss/policy"].item() == pytest.approx(0.2, abs=1e-6)
    assert stats["loss/value"].item() == pytest.approx(2.5, abs=1e-6)
    assert stats["stats/entropy"].item() == pytest.approx(math.log(2), abs=1e-6)
    assert loss.item() == pytest.approx(0.2 + 0.5 * 2.5 - 0.01 * math.log(2), abs=1e-6)
    # both samples sit on the clipped branch: r > 1+ε with A > 0, and r < 1−ε with A < 0
    assert stats["stats/clip_frac_high"].item() == pytest.approx(0.5)
    assert stats["stats/clip_frac"].item() == pytest.approx(1.0)


def test_ppo_loss_value_clipping_by_hand():
    # V_old = (2.5, 3), V = (3, 1.5), V^targ = 1, ε_v = 0.2: clipped V = (2.7, 2.8)
    # max((V−1)², (V_clip−1)²) = max(4, 2.89), max(0.25, 3.24) → mean (4 + 3.24)/2 = 3.62
    z = torch.zeros(2)
    _, stats = ppo_loss(z, z, z, torch.tensor([3.0, 1.5]), torch.ones(2), logits=torch.zeros(2, 3),
                        old_values=torch.tensor([2.5, 3.0]), vf_clip=0.2)
    assert stats["loss/value"].item() == pytest.approx(3.62, abs=1e-5)
    assert stats["stats/value_clip_frac"].item() == pytest.approx(0.5)


def test_ppo_loss_gradients_flow_to_all_three_terms():
    logits = torch.randn(5, 3, requires_grad=True)
    values = torch.randn(5, requires_grad=True)
    actions = torch.tensor([0, 1, 2, 1, 0])
    log_probs = torch.log_softmax(logits, -1).gather(-1, actions[:, None]).squeeze(-1)
    loss, _ = ppo_loss(log_probs, log_probs.detach(), torch.randn(5), values, torch.randn(5), logits=logits)
    loss.backward()
    assert logits.grad.abs().sum() > 0 and values.grad.abs().sum() > 0


def test_ppo_loss_needs_exactly_one_entropy_source():
    z = torch.zeros(3)
    with pytest.raises(ValueError, match="exactly one of logits"):
        ppo_loss(z, z, z, z, z)
    with pytest.raises(ValueError, match="exactly one of logits"):
        ppo_loss(z, z, z, z, z, logits=torch.zeros(3, 2), entropies=z)


# ------------------------------------------------------------------ truncation
@pytest.mark.parametrize("kind", ["gymnasium", "torch"])
def test_truncated_steps_bootstrap_with_the_final_observation(kind):
    """An episode cut by a time limit of 3 steps: A_t (λ = 0) must be r + γ V(final obs) − V(s_t),
    not r − V(s_t) (CleanRL's truncation-as-termination) nor r + γ V(reset obs)."""
    N, T, gamma = 2, 5, 0.9
    if kind == "torch":
        raw = TorchCartPoleVectorEnv(N, device="cpu", max_episode_steps=3, seed=0)
    else:
        raw = make_vec_env("CartPole-v1", N, max_episode_steps=3)
    env = VecEnvAdapter(raw, torch.device("cpu"))
    torch.manual_seed(0)
    agent = ActorCritic(raw.single_observation_space, raw.single_action_space)
    obs = env.reset(seed=0)
    ro, _, _ = collect_rollout(env, agent, obs, T, EpisodeTracker(N, torch.device("cpu")), torch.Generator().manual_seed(0))
    assert ro.truncated[2].all() and not ro.terminated[2].any() and not ro.truncated[:2].any()
    # the final observation is the true s_3, not the reset observation stored as obs[3]
    assert not torch.allclose(ro.next_obs[2], ro.obs[3])
    assert torch.equal(ro.next_obs[1], ro.obs[2])  # ordinary steps: next obs is the next stored obs
    adv, targets, next_values = compute_advantages(agent, ro, gamma, lam=0.0)
    with torch.no_grad():
        v_final, v_reset, v_t = agent.value(ro.next_obs[2]), agent.value(ro.obs[3]), agent.value(ro.obs[2])
    torch.testing.assert_close(next_values[2], v_final)
    torch.testing.assert_close(adv[2], ro.rewards[2] + gamma * v_final - v_t)
    assert (adv[2] - (ro.rewards[2] - v_t)).abs().min() > 1e-4  # differs from treating it as terminal
    assert (adv[2] - (ro.rewards[2] + gamma * v_reset - v_t)).abs().min() > 1e-6
    torch.testing.assert_close(targets, adv + ro.values)


def test_trainer_works_with_the_torch_env_and_a_terminated_step_bootstraps_zero():
    raw = TorchCartPoleVectorEnv(4, device="cpu", seed=1)
    trainer = PPOTrainer(raw, PPOConfig(**SMALL))
    trainer.train(num_updates=1)
    ro, _, _ = collect_rollout(trainer.env, trainer.agent, trainer.obs, 64, trainer.tracker, trainer.generator)
    assert ro.terminated.any()
    adv, _, nv = compute_advantages(trainer.agent, ro, 0.99, 0.0)
    term = ro.terminated
    torch.testing.assert_close(adv[term], ro.rewards[term] - ro.values[term])


# ------------------------------------------------------------------ trainer
def test_parameters_move_after_one_update_and_metrics_are_logged():
    trainer = PPOTrainer("CartPole-v1", PPOConfig(**SMALL))
    before = [p.detach().clone() for p in trainer.agent.parameters()]
    history = trainer.train(num_updates=1)
    assert all(not torch.equal(b, p) for b, p in zip(before, trainer.agent.parameters()))
    for key in ["loss/policy", "loss/value", "stats/entropy", "stats/approx_kl", "stats/clip_frac",
                "stats/explained_variance", "charts/episode_return", "charts/episode_length", "charts/SPS",
                "charts/learning_rate"]:
        assert key in history.keys(), key
    assert trainer.global_step == 4 * 32 and history.last("charts/learning_rate") == pytest.approx(2.5e-3)
    assert 0 < history.last("stats/entropy") <= math.log(2) + 1e-6


def test_same_seed_gives_identical_metrics_and_another_seed_does_not():
    runs = [PPOTrainer("CartPole-v1", PPOConfig(**SMALL, seed=s)).train() for s in (3, 3, 4)]
    assert _records_without_sps(runs[0]) == _records_without_sps(runs[1])
    assert _records_without_sps(runs[0]) != _records_without_sps(runs[2])


@pytest.mark.parametrize("make_env", [lambda: "CartPole-v1", lambda: TorchCartPoleVectorEnv(4, device="cpu", seed=0)],
                         ids=["gymnasium", "torch"])
def test_resume_from_checkpoint_gives_the_same_curve(tmp_path, make_env):
    cfg = PPOConfig(**SMALL)
    full = PPOTrainer(make_env(), cfg).train()
    first = PPOTrainer(make_env(), cfg)
    first.train(num_updates=2)
    first.save(tmp_path / "ckpt.pt")
    env = make_env()
    resumed = PPOTrainer.load(tmp_path / "ckpt.pt", env=None if isinstance(env, str) else env)
    assert resumed.update == 2
    resumed.train()
    assert _records_without_sps(resumed.history) == _records_without_sps(full)
    with pytest.raises(ValueError, match="num_envs: the checkpoint ran 4 envs"):
        PPOTrainer.load(tmp_path / "ckpt.pt", env=None if isinstance(env, str) else make_env(), num_envs=2)


def test_nan_gradient_stops_training_naming_update_and_quantity():
    trainer = PPOTrainer("CartPole-v1", PPOConfig(**SMALL))
    trainer.train(num_updates=1)
    next(trainer.agent.actor.parameters()).register_hook(lambda g: g * float("nan"))
    with pytest.raises(FloatingPointError, match=r"update 2/4 .*epoch 1, minibatch 1.*grad_norm is nan"):
        trainer.train()


def test_nan_critic_stops_training_naming_the_values():
    trainer = PPOTrainer("CartPole-v1", PPOConfig(**SMALL))
    with torch.no_grad():
        trainer.agent.critic[-1].bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"update 1/4 .*values V\(s\) contain NaN"):
        trainer.train()


def test_unsupported_action_space_raises_naming_the_space():
    obs_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    with pytest.raises(ValueError, match="action space: .*MultiBinary"):
        ActorCritic(obs_space, gym.spaces.MultiBinary(3))
    with pytest.raises(ValueError, match="observation space"):
        ActorCritic(gym.spaces.Discrete(4), gym.spaces.Discrete(2))


def test_env_must_match_config_and_use_same_step_autoreset():
    with pytest.raises(ValueError, match="num_envs = 4"):
        PPOTrainer(TorchCartPoleVectorEnv(3, device="cpu"), PPOConfig(**SMALL))
    env = gym.make_vec("CartPole-v1", num_envs=4, vectorization_mode="sync")  # default NEXT_STEP autoreset
    with pytest.raises(ValueError, match="SAME_STEP"):
        PPOTrainer(env, PPOConfig(**SMALL))


def test_continuous_actions_gaussian_policy_runs_and_learns_something():
    trainer = PPOTrainer("Pendulum-v1", PPOConfig(**SMALL))
    before = trainer.agent.log_std.detach().clone()
    history = trainer.train(num_updates=1)
    assert not torch.equal(before, trainer.agent.log_std)
    assert math.isfinite(history.last("loss/total"))
    assert trainer.agent.act(trainer.obs)[0].shape == (4, 1)


def test_policy_log_probs_and_entropies_match_torch_distributions():
    obs_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    torch.manual_seed(0)
    obs = torch.randn(6, 3)
    disc = ActorCritic(obs_space, gym.spaces.Discrete(4))
    actions, log_prob, value = disc.act(obs, torch.Generator().manual_seed(0))
    logits = disc.actor(obs)
    ref = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(log_prob, ref.log_prob(actions))
    torch.testing.assert_close(disc.entropy(logits), ref.entropy())
    cont = ActorCritic(obs_space, gym.spaces.Box(-2, 2, (2,), np.float32))
    with torch.no_grad():
        cont.log_std.copy_(torch.tensor([-0.5, 0.3]))
    actions, log_prob, _ = cont.act(obs, torch.Generator().manual_seed(0))
    mean = cont.actor(obs)
    ref = torch.distributions.Normal(mean, cont.log_std.exp())
    torch.testing.assert_close(log_prob, ref.log_prob(actions).sum(-1))
    torch.testing.assert_close(cont.entropy(mean), ref.entropy().sum(-1))
    assert value.shape == (6,)


def test_orthogonal_initialisation_gains():
    agent = ActorCritic(gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Discrete(2), (64, 64))
    w = agent.critic[0].weight  # [64, 4], gain √2: orthonormal columns scaled by √2
    torch.testing.assert_close(w.T @ w, 2 * torch.eye(4), atol=1e-5, rtol=0)
    head = agent.actor[-1].weight  # [2, 64], gain 0.01: orthonormal rows scaled by 0.01
    torch.testing.assert_close(head @ head.T, 1e-4 * torch.eye(2), atol=1e-8, rtol=0)
    assert all(float(m.bias.detach().abs().max()) == 0 for m in agent.modules() if isinstance(m, torch.nn.Linear))


def test_train_ppo_one_call_api_returns_a_history():
    history = train_ppo("CartPole-v1", PPOConfig(**{**SMALL, "total_timesteps": 4 * 32}))
    assert [r["step"] for r in history.records if "loss/policy" in r] == [128]


def test_target_kl_stops_epochs_early_and_value_clipping_runs():
    cfg = PPOConfig(**{**SMALL, "update_epochs": 4, "target_kl": 1e-9, "value_clip_eps": 0.01})
    history = PPOTrainer("CartPole-v1", cfg).train(num_updates=2)
    assert history.series("stats/epochs")[1].tolist() == [1.0, 1.0]  # KL > 1e-9 after the first epoch
    assert history.series("stats/value_clip_frac")[1].max() > 0  # a tiny ε_v clips some samples
    full = PPOTrainer("CartPole-v1", PPOConfig(**{**SMALL, "update_epochs": 4})).train(num_updates=1)
    assert full.last("stats/epochs") == 4


def test_non_finite_loss_inputs_are_caught_by_type_and_other_errors_pass_through():
    trainer = PPOTrainer("CartPole-v1", PPOConfig(**SMALL))
    evaluate = trainer.agent.evaluate

    def nan_log_probs(obs, actions):
        log_probs, values, out = evaluate(obs, actions)
        return log_probs * float("nan"), values, out

    trainer.agent.evaluate = nan_log_probs  # the rollout is finite; the loss's inputs are not
    with pytest.raises(FloatingPointError, match=r"update 1/4 .*epoch 1, minibatch 1: log_probs: expected finite"):
        trainer.train(num_updates=1)

    def wrong_shape(obs, actions):
        log_probs, values, out = evaluate(obs, actions)
        return log_probs[:-1], values, out

    trainer = PPOTrainer("CartPole-v1", PPOConfig(**SMALL))
    trainer.agent.evaluate = wrong_shape  # a ValueError that is not about finiteness is not rewrapped
    with pytest.raises(ValueError, match="shape") as info:
        trainer.train(num_updates=1)
    assert not isinstance(info.value, FloatingPointError)
