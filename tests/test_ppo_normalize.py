"""Observation and reward normalisation: running mean/var by hand, the trainer's switches, checkpoints."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from ppo_grpo_lab.ppo import PPOConfig, PPOTrainer
from ppo_grpo_lab.ppo.normalize import Normalizer, RunningMeanStd, make_normalizer

torch.set_num_threads(1)

SMALL = dict(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 3, update_epochs=2, num_minibatches=2,
             progress=False, device="cpu")


def test_running_mean_std_by_hand_two_batches():
    rms = RunningMeanStd((), count=0.0)  # no prior: the plain mean and population variance of all samples
    rms.update(torch.tensor([1.0, 3.0]))  # mean 2, var 1
    assert float(rms.mean) == pytest.approx(2.0) and float(rms.var) == pytest.approx(1.0) and rms.count == 2
    rms.update(torch.tensor([5.0, 7.0, 9.0]))  # all five: mean 5, var (16+4+0+4+16)/5 = 8
    assert float(rms.mean) == pytest.approx(5.0) and float(rms.var) == pytest.approx(8.0) and rms.count == 5


def test_running_mean_std_with_the_default_prior_count():
    rms = RunningMeanStd((2,))  # prior μ = 0, σ² = 1 with count 1e-4
    rms.update(torch.tensor([[0.0, 10.0], [2.0, 10.0]]))
    # μ = (1e-4·0 + 2·[1, 10]) / 2.0001; σ² = (1e-4·1 + 2·[1, 0] + [1, 100]·1e-4·2/2.0001) / 2.0001
    n = 2.0001
    mean = np.array([2 / n, 20 / n])
    var = (1e-4 + 2 * np.array([1.0, 0.0]) + np.array([1.0, 100.0]) * 2e-4 / n) / n
    np.testing.assert_allclose(rms.mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(rms.var.numpy(), var, rtol=1e-12)


def test_running_mean_std_equals_the_whole_stream_statistics():
    x = torch.randn(1000, 3, dtype=torch.float64) * torch.tensor([1.0, 10.0, 0.1]) + 5
    rms = RunningMeanStd((3,), count=0.0)
    for chunk in x.split(37):
        rms.update(chunk)
    torch.testing.assert_close(rms.mean, x.mean(0))
    torch.testing.assert_close(rms.var, x.var(0, unbiased=False))


def test_running_mean_std_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match=r"expected a batch of shape \[B, 3\]"):
        RunningMeanStd((3,)).update(torch.zeros(4, 2))


def test_reward_is_divided_by_the_std_of_the_discounted_return_and_resets_at_episode_ends():
    norm = Normalizer(1, 2, gamma=0.5, norm_obs=False, norm_reward=True, eps=0.0)
    norm.ret_rms = RunningMeanStd((), count=0.0)
    r1 = norm.reward(torch.tensor([1.0, 3.0]), torch.tensor([False, True]))
    # G = [1, 3]: var 1, so r/1; env 1 ended, its G resets to 0
    torch.testing.assert_close(r1, torch.tensor([1.0, 3.0]))
    assert norm.returns.tolist() == [1.0, 0.0]
    r2 = norm.reward(torch.tensor([2.0, 2.0]), torch.tensor([False, False]))
    # G = [0.5·1 + 2, 0 + 2] = [2.5, 2]; all four G's: 1, 3, 2.5, 2: mean 2.125, var 0.546875
    torch.testing.assert_close(r2, torch.tensor([2.0, 2.0]) / 0.546875 ** 0.5)
    assert norm.returns.tolist() == [2.5, 2.0]


def test_observations_are_standardised_clipped_and_next_obs_reuses_the_statistics():
    norm = Normalizer(2, 3, gamma=0.99, norm_obs=True, norm_reward=False, clip=1.5)
    obs = torch.tensor([[0.0, 100.0], [1.0, 200.0], [2.0, 300.0]])
    rew, no = torch.ones(3), torch.zeros(3, dtype=torch.bool)
    final = torch.tensor([[4.0, 200.0], [1.0, 200.0], [2.0, 300.0]])
    z, r, _, _, z_next = norm.step(obs, rew, no, no, final)
    assert torch.equal(r, rew)  # rewards untouched when norm_reward is off
    sd = (2 / 3) ** 0.5
    torch.testing.assert_close(z[:, 0], torch.tensor([-1 / sd, 0.0, 1 / sd]), atol=1e-4, rtol=0)
    assert z_next[0, 0] == pytest.approx(1.5)  # (4 − 1)/0.816 = 3.67, clipped to 1.5
    torch.testing.assert_close(z_next[1:], z[1:])  # same state, same statistics


def test_make_normalizer_follows_the_switches_and_refuses_several_processes():
    box = gym.spaces.Box(-1, 1, (3,))
    assert make_normalizer(PPOConfig(**SMALL), box, 4, torch.device("cpu")) is None
    cfg = PPOConfig(**SMALL, norm_obs=True)
    assert isinstance(make_normalizer(cfg, box, 4, torch.device("cpu")), Normalizer)
    with pytest.raises(ValueError, match="single process"):
        make_normalizer(cfg, box, 4, torch.device("cpu"), world_size=2)
    with pytest.raises(ValueError, match="norm_reward"):
        PPOConfig(**SMALL, norm_reward=1)


def test_episode_returns_are_logged_in_raw_rewards_while_the_agent_sees_scaled_ones():
    cfg = PPOConfig(**SMALL, norm_obs=True, norm_reward=True)
    trainer = PPOTrainer("CartPole-v1", cfg)
    trainer.train(num_updates=1)
    _, lengths = trainer.history.series("charts/episode_length")
    _, returns = trainer.history.series("charts/episode_return")
    np.testing.assert_array_equal(returns, lengths)  # CartPole pays 1 per step, before scaling
    assert trainer.env.normalizer.obs_rms.count == pytest.approx(4 * 33 + 1e-4)  # the reset and 32 steps of 4 envs
    assert float(trainer.env.normalizer.ret_rms.var) > 1.0  # returns grew past 1: rewards are scaled down


def test_normaliser_state_is_saved_and_a_resumed_run_continues_exactly(tmp_path):
    cfg = PPOConfig(**SMALL, norm_obs=True, norm_reward=True)
    full = PPOTrainer("Pendulum-v1", cfg).train()
    first = PPOTrainer("Pendulum-v1", cfg)
    first.train(num_updates=1)
    first.save(tmp_path / "n.pt")
    ckpt = torch.load(tmp_path / "n.pt", weights_only=True)
    torch.testing.assert_close(ckpt["normalizer"]["obs_rms"]["mean"], first.env.normalizer.obs_rms.mean)
    assert ckpt["normalizer"]["ret_rms"]["count"] == first.env.normalizer.ret_rms.count
    resumed = PPOTrainer.load(tmp_path / "n.pt")
    torch.testing.assert_close(resumed.env.normalizer.returns, first.env.normalizer.returns)
    resumed.train()
    drop = lambda h: [{k: v for k, v in r.items() if k != "charts/SPS"} for r in h.records]
    assert drop(resumed.history) == drop(full)
    plain = PPOTrainer("Pendulum-v1", PPOConfig(**SMALL)).train()
    assert drop(plain) != drop(full)  # the switches change the run


def test_the_sample_efficient_preset_is_sb3s_update_with_normalisation_and_takes_overrides():
    cfg = PPOConfig.sample_efficient(total_timesteps=4096, num_envs=4)
    assert (cfg.batch_size, cfg.num_envs, cfg.minibatch_size, cfg.update_epochs) == (1024, 4, 32, 10)
    assert cfg.norm_obs and cfg.norm_reward and cfg.learning_rate == 3e-4 and cfg.ent_coef == 0.0
    assert PPOConfig.sample_efficient().minibatch_size == 64
