"""TorchCartPoleVectorEnv: step-for-step equal to Gymnasium's CartPole-v1 (+ TimeLimit).

On the CPU the env steps with numpy (``numpy_on_cpu=True``, the default); ``numpy_on_cpu=False``
runs the pure-torch step a GPU runs. Both are checked against Gymnasium and against each other.
"""
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


def _run_against_gymnasium(num_envs, steps, max_episode_steps=500, dtype=torch.float64, atol=0.0,
                           numpy_on_cpu=True):
    """Step ours and N Gymnasium envs from the same states with the same actions.

    Half of the envs follow the balancing controller (they get truncated), half act
    at random (they terminate). Returns (terminations, truncations, max |obs diff|).
    """
    env = TorchCartPoleVectorEnv(num_envs, device="cpu", max_episode_steps=max_episode_steps,
                                 seed=3, dtype=dtype, numpy_on_cpu=numpy_on_cpu)
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


PATHS = pytest.mark.parametrize("numpy_on_cpu", [True, False], ids=["numpy-path", "torch-path"])


@PATHS
def test_equal_to_gymnasium_across_terminations_and_truncation_at_500(numpy_on_cpu):
    n_term, n_trunc, max_diff = _run_against_gymnasium(num_envs=4, steps=1100, numpy_on_cpu=numpy_on_cpu)
    assert n_term >= 50, "random envs should terminate many times"
    assert n_trunc >= 4, "controlled envs should hit the 500-step limit"
    assert max_diff == 0.0  # float64 physics: bit-for-bit the same float32 observations


@PATHS
def test_equal_to_gymnasium_with_short_time_limit(numpy_on_cpu):
    n_term, n_trunc, _ = _run_against_gymnasium(num_envs=4, steps=200, max_episode_steps=30,
                                                numpy_on_cpu=numpy_on_cpu)
    assert n_term > 0 and n_trunc >= 12


@PATHS
def test_float32_physics_stays_close_to_gymnasium(numpy_on_cpu):
    # float32 integration drifts slowly; over short episodes it stays within 1e-4.
    _, _, max_diff = _run_against_gymnasium(num_envs=2, steps=60, max_episode_steps=30,
                                            dtype=torch.float32, atol=1e-4, numpy_on_cpu=numpy_on_cpu)
    assert max_diff < 1e-4


@PATHS
def test_same_step_autoreset_obs_is_a_fresh_initial_state(numpy_on_cpu):
    env = TorchCartPoleVectorEnv(64, device="cpu", seed=0, numpy_on_cpu=numpy_on_cpu)
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
        assert torch.equal(obs, env.state.float()) and torch.equal(env.elapsed[done], torch.zeros_like(env.elapsed[done]))
    assert seen_done


@PATHS
def test_random_policy_episode_length_matches_gymnasium_statistics(numpy_on_cpu):
    # CartPole under uniformly random actions lasts ~22 steps on average.
    env = TorchCartPoleVectorEnv(512, device="cpu", seed=1, numpy_on_cpu=numpy_on_cpu)
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


@PATHS
def test_seeding_is_reproducible(numpy_on_cpu):
    a, b, c = (TorchCartPoleVectorEnv(8, device="cpu", seed=s, numpy_on_cpu=numpy_on_cpu) for s in (42, 42, 43))
    oa, ob, oc = a.reset()[0], b.reset()[0], c.reset()[0]
    assert torch.equal(oa, ob) and not torch.equal(oa, oc)
    assert torch.equal(a.reset(seed=7)[0], c.reset(seed=7)[0])
    acts = torch.tensor([0, 1] * 4)
    for _ in range(50):
        ra, rb = a.step(acts), c.step(acts)
        assert torch.equal(ra[0], rb[0]) and torch.equal(ra[2], rb[2])
    assert oa.abs().max() <= 0.05


@PATHS
def test_vector_env_api(numpy_on_cpu):
    env = TorchCartPoleVectorEnv(5, device="auto", seed=0, numpy_on_cpu=numpy_on_cpu)
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


@PATHS
def test_bad_step_inputs(numpy_on_cpu):
    env = TorchCartPoleVectorEnv(3, device="cpu", seed=0, numpy_on_cpu=numpy_on_cpu)
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


def _pair(num_envs, seed=0, **kwargs):
    """The numpy path and the torch path (what a GPU runs) of one env, both reset with ``seed``."""
    fast = TorchCartPoleVectorEnv(num_envs, device="cpu", seed=seed, **kwargs)
    slow = TorchCartPoleVectorEnv(num_envs, device="cpu", seed=seed, numpy_on_cpu=False, **kwargs)
    assert fast._numpy and not slow._numpy
    return fast, slow


@pytest.mark.parametrize("num_envs, max_episode_steps", [(257, 40), (16, None), (3, 500)])
def test_numpy_path_steps_like_the_torch_path_from_the_same_states(num_envs, max_episode_steps):
    # Each step both start from the same state and elapsed steps and get the same actions; they must
    # agree on everything but the fresh initial states (drawn differently, see the module docstring).
    fast, slow = _pair(num_envs, max_episode_steps=max_episode_steps)
    assert torch.equal(fast.reset()[0], slow.reset()[0])
    gen = torch.Generator().manual_seed(0)
    n_term = n_trunc = 0
    for t in range(300):
        slow.state, slow.elapsed = fast.state.clone(), fast.elapsed.clone()
        ctrl = torch.as_tensor(_balancing_actions(fast.state.numpy()))
        acts = torch.where(torch.arange(num_envs) % 2 == 0, ctrl, torch.randint(0, 2, (num_envs,), generator=gen))
        (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) = fast.step(acts), slow.step(acts)
        # float64 states: equal to the last bits up to torch's vectorised cos/sin (1 ulp, chaotic growth)
        torch.testing.assert_close(i1["final_obs"], i2["final_obs"], rtol=0, atol=1e-6)
        assert torch.equal(r1, r2) and torch.equal(te1, te2) and torch.equal(tr1, tr2)
        assert torch.equal(i1["_final_obs"], i2["_final_obs"]) and torch.equal(fast.elapsed, slow.elapsed)
        done = te1 | tr1
        torch.testing.assert_close(o1[~done], o2[~done], rtol=0, atol=1e-6)
        assert o1[done].abs().max() <= 0.05 if done.any() else True
        for x, y in ((o1, o2), (r1, r2), (te1, te2), (tr1, tr2), (i1["final_obs"], i2["final_obs"])):
            assert x.dtype == y.dtype and x.shape == y.shape and x.device == y.device
        n_term, n_trunc = n_term + int(te1.sum()), n_trunc + int(tr1.sum())
    assert n_term > 0 and (n_trunc > 0) == (max_episode_steps is not None and max_episode_steps < 300)


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 0.0), (torch.float32, 1e-5)])
def test_numpy_path_trajectory_equals_the_torch_path_until_the_first_episode_end(dtype, atol):
    fast, slow = _pair(64, seed=5, dtype=dtype)
    fast.reset()
    slow.reset()
    gen = torch.Generator().manual_seed(1)
    for t in range(8):  # no pole falls within 8 steps from |θ| <= 0.05
        acts = torch.randint(0, 2, (64,), generator=gen)
        (o1, _, te1, tr1, _), (o2, _, te2, tr2, _) = fast.step(acts), slow.step(acts)
        assert not (te1 | tr1).any() and not (te2 | tr2).any()
        torch.testing.assert_close(o1, o2, rtol=0, atol=atol)
        torch.testing.assert_close(fast.state, slow.state, rtol=0, atol=max(atol, 1e-15))


def test_numpy_path_honours_state_assignment_and_state_dict():
    env = TorchCartPoleVectorEnv(8, device="cpu", seed=0)
    env.reset()
    acts = torch.tensor([0, 1] * 4)
    for _ in range(30):
        env.step(acts)
    saved = env.state_dict()
    after = [env.step(acts) for _ in range(40)]
    other = TorchCartPoleVectorEnv(8, device="cpu", seed=99)
    other.reset()
    other.step(acts)  # builds its numpy views, which load_state_dict must replace
    other.load_state_dict(saved)
    for (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) in zip(after, (other.step(acts) for _ in range(40))):
        assert torch.equal(o1, o2) and torch.equal(te1, te2) and torch.equal(i1["final_obs"], i2["final_obs"])
    # a checkpoint of the torch path (no pool of fresh states) loads into the numpy path
    fast, slow = _pair(8, seed=3)
    slow.reset()
    slow.step(acts)
    fast.load_state_dict(slow.state_dict())
    o1, o2 = fast.step(acts)[4]["final_obs"], slow.step(acts)[4]["final_obs"]
    torch.testing.assert_close(o1, o2, rtol=0, atol=1e-6)
    # an assigned state is the state the next step starts from. At rest, pushed right (F = 10):
    # temp = 10 / 1.1, θ̈ = -temp / (0.5 (4/3 - 0.1 / 1.1)) = -14.634, ẍ = temp - 0.05 θ̈ / 1.1 = 9.7561
    env.state = torch.zeros(8, 4, dtype=torch.float64)
    obs, *_ = env.step(torch.ones(8, dtype=torch.long))
    expected = torch.tensor([0.0, 0.02 * 9.7561, 0.0, 0.02 * -14.634]).expand(8, 4)
    torch.testing.assert_close(obs, expected, rtol=0, atol=1e-5)


def test_numpy_path_only_on_the_cpu_and_on_request():
    assert TorchCartPoleVectorEnv(2, device="cpu")._numpy
    assert not TorchCartPoleVectorEnv(2, device="cpu", numpy_on_cpu=False)._numpy
    if torch.cuda.is_available():
        assert not TorchCartPoleVectorEnv(2, device="cuda")._numpy
