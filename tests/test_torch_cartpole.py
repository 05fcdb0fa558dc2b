"""TorchCartPoleVectorEnv: step-for-step equal to Gymnasium's CartPole-v1 (+ TimeLimit)."""
import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

from ppo_grpo_lab.envs.torch_cartpole import TorchCartPoleVectorEnv


def _balancing_actions(state: np.ndarray) -> np.ndarray:
    """A linear controller that keeps the pole up for 500 steps (to reach truncation)."""
    x, x_dot, theta, theta_dot = state.T
    return (10 * theta + 2 * theta_dot + 0.1 * x + 0.5 * x_dot > 0).astype(np.int64)


def _run_against_gymnasium(num_envs, steps, max_episode_steps=500, dtype=torch.float64, atol=0.0):
    """Step ours and N Gymnasium envs from the same states with the same actions.

    Half of the envs follow the balancing controller (they get truncated), half act
    at random (they terminate). Returns (terminations, truncations, max |obs diff|).
    """
    env = TorchCartPoleVectorEnv(num_envs, device="cpu", max_episode_steps=max_episode_steps,
                                 seed=3, dtype=dtype)
    obs, _ = env.reset()
    refs = [gym.make("CartPole-v1", max_episode_steps=max_episode_steps) for _ in range(num_envs)]
    for i, ref in enumerate(refs):
        ref.reset(seed=i)
        ref.unwrapped.state = env.state[i].double().numpy().copy()
    rng = np.random.default_rng(0)
    n_term = n_trunc = 0
    max_diff = 0.0
    for _ in range(steps):
        ctrl = _balancing_actions(env.state.double().numpy())
        actions = np.where(np.arange(num_envs) < num_envs // 2, ctrl, rng.integers(0, 2, num_envs))
        obs, rew, term, trunc, info = env.step(torch.as_tensor(actions))
        assert obs.dtype == torch.float32 and rew.dtype == torch.float32
        assert term.dtype == torch.bool and trunc.dtype == torch.bool
        for i, ref in enumerate(refs):
            r_obs, r_rew, r_term, r_trunc, _ = ref.step(int(actions[i]))
            assert (r_term, r_trunc) == (bool(term[i]), bool(trunc[i]))
            assert r_rew == float(rew[i])
            diff = float(np.abs(info["final_obs"][i].numpy() - r_obs).max())
            assert diff <= atol, f"env {i}: final_obs differs from gymnasium by {diff}"
            max_diff = max(max_diff, diff)
            assert bool(info["_final_obs"][i]) == (r_term or r_trunc)
            if r_term or r_trunc:
                n_term += r_term
                n_trunc += r_trunc
                ref.reset()
                ref.unwrapped.state = env.state[i].double().numpy().copy()
            else:
                assert torch.equal(obs[i], info["final_obs"][i])
    return n_term, n_trunc, max_diff


def test_equal_to_gymnasium_across_terminations_and_truncation_at_500():
    n_term, n_trunc, max_diff = _run_against_gymnasium(num_envs=4, steps=1100)
    assert n_term >= 50, "random envs should terminate many times"
    assert n_trunc >= 4, "controlled envs should hit the 500-step limit"
    assert max_diff == 0.0  # float64 physics: bit-for-bit the same float32 observations


def test_equal_to_gymnasium_with_short_time_limit():
    n_term, n_trunc, _ = _run_against_gymnasium(num_envs=4, steps=200, max_episode_steps=30)
    assert n_term > 0 and n_trunc >= 12


def test_float32_physics_stays_close_to_gymnasium():
    # float32 integration drifts slowly; over short episodes it stays within 1e-4.
    _, _, max_diff = _run_against_gymnasium(num_envs=2, steps=60, max_episode_steps=30,
                                            dtype=torch.float32, atol=1e-4)
    assert max_diff < 1e-4


def test_same_step_autoreset_obs_is_a_fresh_initial_state():
    env = TorchCartPoleVectorEnv(64, device="cpu", seed=0)
    env.reset()
    ones = torch.ones(64, dtype=torch.long)
    seen_done = False
    for _ in range(60):  # always pushing right: every pole falls within ~10-40 steps
        obs, _, term, trunc, info = env.step(ones)
        done = term | trunc
        assert torch.equal(info["_final_obs"], done)
        if done.any():
            seen_done = True
            assert obs[done].abs().max() <= 0.05  # reset obs ~ U(-0.05, 0.05)
            final = info["final_obs"][done]
            assert ((final[:, 0].abs() > 2.4) | (final[:, 2].abs() > 12 * 2 * np.pi / 360)).all()
        assert torch.equal(obs[~done], info["final_obs"][~done])
    assert seen_done


def test_random_policy_episode_length_matches_gymnasium_statistics():
    # CartPole under uniformly random actions lasts ~22 steps on average.
    env = TorchCartPoleVectorEnv(512, device="cpu", seed=1)
    env.reset()
    gen = torch.Generator().manual_seed(0)
    lengths, counter = [], torch.zeros(512, dtype=torch.long)
    for _ in range(200):
        _, _, term, trunc, _ = env.step(torch.randint(0, 2, (512,), generator=gen))
        counter += 1
        lengths.append(counter[term | trunc].clone())
        counter[term | trunc] = 0
    ours = torch.cat(lengths).double().mean().item()
    ref_env = gym.make("CartPole-v1")
    rng = np.random.default_rng(0)
    ref = []
    for ep in range(1500):
        ref_env.reset(seed=ep)
        n, done = 0, False
        while not done:
            _, _, te, tr, _ = ref_env.step(int(rng.integers(0, 2)))
            n, done = n + 1, te or tr
        ref.append(n)
    assert abs(ours - np.mean(ref)) < 1.5, (ours, np.mean(ref))


def test_seeding_is_reproducible():
    a = TorchCartPoleVectorEnv(8, device="cpu", seed=42)
    b = TorchCartPoleVectorEnv(8, device="cpu", seed=42)
    c = TorchCartPoleVectorEnv(8, device="cpu", seed=43)
    oa, ob, oc = a.reset()[0], b.reset()[0], c.reset()[0]
    assert torch.equal(oa, ob) and not torch.equal(oa, oc)
    assert torch.equal(a.reset(seed=7)[0], c.reset(seed=7)[0])
    acts = torch.tensor([0, 1] * 4)
    for _ in range(50):
        ra, rb = a.step(acts), c.step(acts)
        assert torch.equal(ra[0], rb[0]) and torch.equal(ra[2], rb[2])
    assert oa.abs().max() <= 0.05


def test_vector_env_api():
    env = TorchCartPoleVectorEnv(5, device="auto", seed=0)
    assert isinstance(env, VectorEnv)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert env.num_envs == 5
    assert env.observation_space.shape == (5, 4) and env.single_observation_space.shape == (4,)
    assert env.single_action_space == gym.spaces.Discrete(2)
    assert env.action_space.shape == (5,)
    obs, info = env.reset(seed=0)
    assert obs.shape == (5, 4) and obs.device == env.device and info == {}
    assert env.single_observation_space.contains(obs[0].cpu().numpy())
    # numpy actions and bool tensors are accepted too
    out = env.step(np.array([0, 1, 0, 1, 1]))
    assert out[0].shape == (5, 4) and out[1].shape == (5,)
    env.step(torch.tensor([True, False, True, False, True]))
    env.close()


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_envs=0), "num_envs"),
    (dict(num_envs=2, max_episode_steps=0), "max_episode_steps"),
    (dict(num_envs=2, dtype=torch.int32), "dtype"),
    (dict(num_envs=2, seed=-1), "seed"),
    (dict(num_envs=2, device="tpu9"), "device"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TorchCartPoleVectorEnv(**{"device": "cpu", **kwargs})


def test_bad_step_inputs():
    env = TorchCartPoleVectorEnv(3, device="cpu", seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.zeros(3, dtype=torch.long))
    env.reset()
    with pytest.raises(ValueError, match=r"expected shape \(3,\)"):
        env.step(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        env.step(torch.zeros(3))
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"low": -0.1})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    cpu = TorchCartPoleVectorEnv(16, device="cpu", seed=0)
    gpu = TorchCartPoleVectorEnv(16, device="cuda", seed=0)
    cpu.reset()
    gpu.reset()
    gpu.state = cpu.state.to("cuda")
    acts = torch.randint(0, 2, (16,), generator=torch.Generator().manual_seed(0))
    o_cpu = cpu.step(acts)[0]
    o_gpu = gpu.step(acts.cuda())[0]
    assert o_gpu.device.type == "cuda"
    assert torch.allclose(o_cpu, o_gpu.cpu(), atol=1e-6)


def test_works_with_the_ppo_trainer_and_bootstraps_from_final_obs():
    ppo = pytest.importorskip("ppo_grpo_lab.ppo")
    env = TorchCartPoleVectorEnv(16, device="cpu", seed=0)
    cfg = ppo.PPOConfig(num_envs=16, num_steps=64, total_timesteps=2048, progress=False, seed=0, device="cpu")
    trainer = ppo.PPOTrainer(env, cfg)
    before = [p.detach().clone() for p in trainer.agent.parameters()]
    trainer.train(num_updates=1)
    assert any(not torch.equal(b, p) for b, p in zip(before, trainer.agent.parameters()))
    # one rollout through the adapter: next_obs is the true s_{t+1}, also at episode ends
    adapter = ppo.VecEnvAdapter(env, torch.device("cpu"))
    obs = adapter.reset(seed=1)
    tracker = ppo.EpisodeTracker(16, torch.device("cpu"))
    ro, _, _ = ppo.collect_rollout(adapter, trainer.agent, obs, 200, tracker)
    done = ro.terminated | ro.truncated
    assert done.any()
    ended = ro.next_obs[done]
    assert ((ended[:, 0].abs() > 2.4) | (ended[:, 2].abs() > 12 * 2 * np.pi / 360)).all()
    assert torch.equal(ro.next_obs[:-1][~done[:-1]], ro.obs[1:][~done[:-1]])
