"""The WeeklyExams environment and its exact tabular model."""
import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import ppo_grpo_lab.envs  # noqa: F401  (registers the ids)
from ppo_grpo_lab.envs.weekly_exams import (
    ACTIONS,
    FATIGUE_LEVELS,
    SKILL_LEVELS,
    WeeklyExams,
    expected_score,
    outcomes,
    student_policy,
)
from ppo_grpo_lab.mdp import policy_evaluation, value_iteration

ENV_ID = "ppo_grpo_lab/WeeklyExams-v0"


def test_check_env_passes():
    check_env(gym.make(ENV_ID).unwrapped, skip_render_check=True)
    check_env(WeeklyExams(n_weeks=3, reward_noise=0.0), skip_render_check=True)


def rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        out += [obs, r, term, trunc]
    return out


def test_seeded_determinism():
    acts = [0, 3, 2, 1, 0, 3, 2, 3]
    a = rollout(gym.make(ENV_ID), 7, acts)
    b = rollout(gym.make(ENV_ID), 7, acts)
    c = rollout(gym.make(ENV_ID), 8, acts)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_semester_terminates_after_last_week():
    env = WeeklyExams(n_weeks=4)
    obs, info = env.reset(seed=0)
    assert obs[-1] == 0.0 and info["week"] == 0 and info["fatigue"] == 0 and info["skill"] in (0, 1, 2)
    for t in range(4):
        obs, r, term, trunc, info = env.step(1)
        assert term == (t == 3) and trunc is False
    assert obs[-1] == 1.0 and env.observation_space.contains(obs)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_time_limit_truncates_not_terminates():
    env = gym.make(ENV_ID, max_episode_steps=3)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_observation_and_state_index_agree_with_model():
    env = WeeklyExams()
    model = env.tabular_model()
    obs, info = env.reset(seed=3)
    for a in [0, 3, 3, 2, 1, 0, 1]:
        s = env.state_index()
        assert s == info["state"] == env.encode(info["skill"], info["fatigue"], info["week"])
        assert np.array_equal(model.obs[s].numpy(), obs)
        assert (model.skill[s], model.fatigue[s], model.week[s]) == (info["skill"], info["fatigue"], info["week"])
        obs, _, _, _, info = env.step(a)


def test_model_structure():
    env = WeeklyExams(n_weeks=6)
    model = env.tabular_model()
    mdp = model.mdp
    assert mdp.P.shape == (SKILL_LEVELS * FATIGUE_LEVELS * 6, len(ACTIONS), SKILL_LEVELS * FATIGUE_LEVELS * 6)
    rows = mdp.P.sum(-1)
    torch.testing.assert_close(rows[~model.terminal], torch.ones_like(rows[~model.terminal]))
    assert bool((rows[model.terminal] == 0).all()) and bool((mdp.p_terminate[model.terminal] == 1).all())
    # transitions only go to the next week
    s, a, s2 = mdp.P.nonzero(as_tuple=True)
    assert bool((model.week[s2] == model.week[s] + 1).all())
    assert mdp.mu0.sum().item() == pytest.approx(1.0) and bool((model.week[mdp.mu0 > 0] == 0).all())
    # hand-computed entries: skill 2, fatigue 0, cram: score 0.35 + 0.2 + 0.25 = 0.8; learns w.p. 0.2, fatigue +2
    s0 = env.encode(2, 0, 0)
    assert mdp.R[s0, 3].item() == pytest.approx(0.80)
    assert mdp.P[s0, 3, env.encode(3, 2, 1)].item() == pytest.approx(0.2)
    assert mdp.P[s0, 3, env.encode(2, 2, 1)].item() == pytest.approx(0.8)
    # resting at fatigue 3 with skill 0: score 0.35 − 0.24 − 0.05, fatigue 1, cannot forget below 0
    s1 = env.encode(0, 3, 2)
    assert mdp.R[s1, 2].item() == pytest.approx(0.06)
    assert mdp.P[s1, 2, env.encode(0, 1, 3)].item() == pytest.approx(1.0)
    for k in range(SKILL_LEVELS):
        for f in range(FATIGUE_LEVELS):
            for a in range(len(ACTIONS)):
                assert sum(p for p, _, _ in outcomes(k, f, a)) == pytest.approx(1.0)
                assert 0.0 <= expected_score(k, f, a) <= 1.0 + 1e-12


def test_env_samples_match_model_statistically():
    """Empirical next-state frequencies and mean rewards of the env agree with P and R."""
    env = WeeklyExams(n_weeks=8)
    model = env.tabular_model()
    rng = np.random.default_rng(0)
    counts = torch.zeros_like(model.mdp.P)
    rsum = torch.zeros_like(model.mdp.R)
    for ep in range(3000):
        obs, info = env.reset(seed=ep)
        done = False
        while not done:
            s, a = env.state_index(), int(rng.integers(4))
            obs, r, done, _, info = env.step(a)
            rsum[s, a] += r
            if not done:
                counts[s, a, info["state"]] += 1
            else:
                counts[s, a].add_(0)  # terminal: no next state
    n_sa = counts.sum(-1)
    busy = n_sa >= 150
    assert int(busy.sum()) >= 12
    freq = counts[busy] / n_sa[busy][:, None]
    p = model.mdp.P[busy]
    se = (p * (1 - p) / n_sa[busy][:, None]).sqrt()
    assert bool(((freq - p).abs() <= 5 * se + 1e-12).all())
    # mean reward per pair: R ± 5 standard errors (σ = 0.1)
    assert bool(((rsum[busy] / n_sa[busy] - model.mdp.R[busy]).abs() <= 5 * 0.1 / n_sa[busy].sqrt()).all())


def test_mean_reward_and_return_match_exact_values():
    env = WeeklyExams()
    model = env.tabular_model()
    pi = student_policy(model, eps=0.2)
    rng = np.random.default_rng(1)
    returns = []
    for ep in range(2000):
        env.reset(seed=1000 + ep)
        done, g = False, 0.0
        while not done:
            a = int(rng.choice(4, p=pi[env.state_index()].numpy()))
            _, r, done, _, _ = env.step(a)
            g += r
        returns.append(g)
    returns = np.array(returns)
    exact = (model.mdp.mu0 @ policy_evaluation(model.mdp, pi, gamma=1.0).V).item()
    assert abs(returns.mean() - exact) < 4 * returns.std() / len(returns) ** 0.5


def test_cramming_pays_now_and_costs_later():
    model = WeeklyExams().tabular_model()
    opt, pi_star = value_iteration(model.mdp, gamma=1.0)
    best = pi_star.argmax(-1)
    cram, klass = ACTIONS.index("cram"), ACTIONS.index("class")
    # cramming has the largest immediate reward in every state ...
    assert bool((model.mdp.R.argmax(-1) == cram).all())
    # ... yet a fresh, low-skill student in week 0 should go to class, and everyone crams in the last week
    for k in range(3):
        assert best[WeeklyExams().encode(k, 0, 0)] == klass
    assert bool((best[model.terminal] == cram).all())
    # the hand-written student policy is decent but not optimal
    v_student = (model.mdp.mu0 @ policy_evaluation(model.mdp, student_policy(model), 1.0).V).item()
    v_opt = (model.mdp.mu0 @ opt.V).item()
    assert 0.8 * v_opt < v_student < v_opt


def test_ansi_render():
    env = WeeklyExams(n_weeks=3, render_mode="ansi")
    env.reset(seed=0)
    env.step(3)
    assert env.render().startswith("week 1/3") and "fatigue 2" in env.render()
    assert WeeklyExams().render() is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_weeks"):
        WeeklyExams(n_weeks=0)
    with pytest.raises(ValueError, match="render_mode"):
        WeeklyExams(render_mode="human")
    with pytest.raises(ValueError, match="reward_noise"):
        WeeklyExams(reward_noise=-1.0)
    env = WeeklyExams()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(4)
    with pytest.raises(ValueError, match="eps"):
        student_policy(env.tabular_model(), eps=2.0)
