"""TorchWeeklyExamsVectorEnv samples the WeeklyExams model: same statistics as the Gymnasium env."""
import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

import ppo_grpo_lab.envs  # noqa: F401  (registers the ids)
from ppo_grpo_lab.envs.torch_weekly_exams import TorchWeeklyExamsVectorEnv
from ppo_grpo_lab.envs.weekly_exams import FATIGUE_LEVELS, SKILL_LEVELS, student_policy
from ppo_grpo_lab.mdp import policy_evaluation


def _run_ours(pi, n_envs, weeks, seed=0, **kw):
    """One semester for n_envs students under pi; returns per-episode returns, final skill, (s, a, s') counts."""
    env = TorchWeeklyExamsVectorEnv(n_envs, n_weeks=weeks, device="cpu", seed=seed, **kw)
    obs, info = env.reset()
    gen = torch.Generator().manual_seed(seed + 1)
    S, A = pi.shape
    ret = torch.zeros(n_envs, dtype=torch.float64)
    counts = torch.zeros(S, A, S + 1, dtype=torch.float64)  # last column: terminated
    s = info["state"]
    for t in range(weeks):
        a = torch.multinomial(pi[s], 1, generator=gen).squeeze(1)
        obs, rew, term, trunc, info = env.step(a)
        ret += rew.double()
        s_next = torch.where(info["final_state"] < 0, S, info["final_state"])
        counts.index_put_((s, a, s_next), torch.ones(n_envs, dtype=torch.float64), accumulate=True)
        s = info["state"]
    assert bool(term.all()), "every semester ends after n_weeks steps"
    final_skill = info["final_obs"][:, :SKILL_LEVELS].argmax(1)
    return ret, final_skill, counts


def _run_gymnasium(pi, episodes, weeks, seed=0):
    env = gym.make("ppo_grpo_lab/WeeklyExams-v0", n_weeks=weeks)
    rng = np.random.default_rng(seed)
    returns, final_skill = [], []
    pi = pi.numpy()
    for ep in range(episodes):
        obs, info = env.reset(seed=seed * 100_000 + ep)
        total, done = 0.0, False
        while not done:
            a = int(rng.choice(pi.shape[1], p=pi[info["state"]]))
            obs, r, term, trunc, info = env.step(a)
            total, done = total + r, term or trunc
        returns.append(total)
        final_skill.append(int(np.argmax(obs[:SKILL_LEVELS])))
    return np.array(returns), np.array(final_skill)


def test_returns_and_final_skill_match_the_gymnasium_env_and_the_exact_value():
    weeks = 8
    model = TorchWeeklyExamsVectorEnv(1, n_weeks=weeks, device="cpu").model
    pi = student_policy(model, eps=0.3)
    ours, ours_skill, _ = _run_ours(pi, 20_000, weeks)
    ref, ref_skill = _run_gymnasium(pi, 1_500, weeks)
    # mean return: ours vs the Gymnasium env (4 standard errors) and vs the exact V(mu0)
    se = np.sqrt(ours.var().item() / len(ours) + ref.var() / len(ref))
    assert abs(ours.mean().item() - ref.mean()) < 4 * se
    exact = float(model.mdp.mu0 @ policy_evaluation(model.mdp, pi, 1.0).V)
    assert abs(ours.mean().item() - exact) < 4 * ours.std().item() / np.sqrt(len(ours))
    assert abs(ours.std().item() - ref.std()) < 0.1 * ref.std()
    # distribution of the final skill level (total variation)
    p_ours = torch.bincount(ours_skill, minlength=SKILL_LEVELS).double() / len(ours_skill)
    p_ref = np.bincount(ref_skill, minlength=SKILL_LEVELS) / len(ref_skill)
    assert 0.5 * np.abs(p_ours.numpy() - p_ref).sum() < 0.04


def test_transition_frequencies_match_P():
    weeks = 4
    model = TorchWeeklyExamsVectorEnv(1, n_weeks=weeks, device="cpu").model
    S, A = model.mdp.R.shape
    pi = torch.full((S, A), 1.0 / A, dtype=torch.float64)
    _, _, counts = _run_ours(pi, 40_000, weeks, seed=3)
    visits = counts.sum(-1)
    often = visits >= 400
    assert int(often.sum()) >= 40
    freq = counts[often] / visits[often, None]
    expected = torch.cat([model.mdp.P, model.mdp.p_terminate[..., None]], -1)[often]
    assert (freq - expected).abs().max().item() < 0.08  # ~4 standard errors at 400 visits
    # never a transition the model forbids
    assert bool(((counts > 0) <= (torch.cat([model.mdp.P, model.mdp.p_terminate[..., None]], -1) > 0)).all())


def test_noise_free_rewards_are_exactly_R():
    env = TorchWeeklyExamsVectorEnv(64, n_weeks=3, reward_noise=0.0, device="cpu", seed=0)
    _, info = env.reset()
    R = env.model.mdp.R
    for t in range(7):
        s = info["state"]
        a = torch.arange(64) % 4
        _, rew, _, _, info = env.step(a)
        assert torch.equal(rew, R[s, a].float())


def test_observations_final_obs_and_autoreset():
    W = 5
    env = TorchWeeklyExamsVectorEnv(256, n_weeks=W, device="cpu", seed=1)
    obs, info = env.reset()
    assert torch.equal(obs, env.model.obs[info["state"]])
    for t in range(1, 2 * W + 1):
        obs, rew, term, trunc, info = env.step(torch.randint(0, 4, (256,)))
        assert not trunc.any()
        assert bool(term.all()) == (t % W == 0) and bool(term.any()) == (t % W == 0)
        assert torch.equal(info["_final_obs"], term)
        week_frac = info["final_obs"][:, -1]
        assert torch.allclose(week_frac, torch.full((256,), (W if t % W == 0 else t % W) / W))
        assert torch.equal(info["final_obs"][:, :SKILL_LEVELS].sum(1), torch.ones(256))
        assert torch.equal(info["final_obs"][:, SKILL_LEVELS:-1].sum(1), torch.ones(256))
        assert torch.equal(obs, env.model.obs[info["state"]])
        if t % W == 0:  # fresh semester: week 0, fatigue 0, skill in {0, 1, 2}
            assert (info["final_state"] == -1).all()
            assert (obs[:, -1] == 0).all() and (obs[:, SKILL_LEVELS] == 1).all()
            assert (obs[:, 3:SKILL_LEVELS] == 0).all()
        else:
            assert torch.equal(obs, info["final_obs"])


def test_time_limit_truncates():
    env = TorchWeeklyExamsVectorEnv(8, n_weeks=8, device="cpu", max_episode_steps=3, seed=0)
    env.reset()
    for t in range(1, 7):
        obs, _, term, trunc, info = env.step(torch.zeros(8, dtype=torch.long))
        assert not term.any()
        assert bool(trunc.all()) == (t % 3 == 0)
        if t % 3 == 0:
            assert (info["final_obs"][:, -1] == 3 / 8).all() and (obs[:, -1] == 0).all()
            assert (info["final_state"] >= 0).all()


def test_seeding_and_api():
    a = TorchWeeklyExamsVectorEnv(32, device="cpu", seed=5)
    b = TorchWeeklyExamsVectorEnv(32, device="cpu", seed=5)
    assert isinstance(a, VectorEnv) and a.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert a.observation_space.shape == (32, SKILL_LEVELS + FATIGUE_LEVELS + 1)
    assert a.single_action_space == gym.spaces.Discrete(4)
    assert torch.equal(a.reset()[0], b.reset()[0])
    acts = np.arange(32) % 4  # numpy actions are accepted
    for _ in range(10):
        ra, rb = a.step(acts), b.step(acts)
        assert torch.equal(ra[0], rb[0]) and torch.equal(ra[1], rb[1])
    c = TorchWeeklyExamsVectorEnv(32, device="cpu", seed=6)
    c.reset()
    assert not torch.equal(c.step(acts)[1], a.step(acts)[1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_envs=0), "num_envs"),
    (dict(num_envs=2, n_weeks=0), "n_weeks"),
    (dict(num_envs=2, reward_noise=-1.0), "reward_noise"),
    (dict(num_envs=2, max_episode_steps=0), "max_episode_steps"),
    (dict(num_envs=2, seed=-3), "seed"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TorchWeeklyExamsVectorEnv(**{"device": "cpu", **kwargs})


def test_bad_step_inputs():
    env = TorchWeeklyExamsVectorEnv(3, device="cpu", seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.zeros(3, dtype=torch.long))
    env.reset()
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        env.step(torch.zeros(3))


def test_works_with_the_ppo_trainer():
    ppo = pytest.importorskip("ppo_grpo_lab.ppo")
    env = TorchWeeklyExamsVectorEnv(16, device="cpu", seed=0)
    cfg = ppo.PPOConfig(num_envs=16, num_steps=32, total_timesteps=512, progress=False, seed=0, device="cpu")
    trainer = ppo.PPOTrainer(env, cfg)
    history = trainer.train()
    steps, returns = history.series("charts/episode_return")
    assert len(returns) == 512 // 8  # every semester lasts exactly 8 weeks
