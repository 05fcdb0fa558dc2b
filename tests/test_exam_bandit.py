"""The exam environment: Gymnasium's checker, seeding, spaces, declared reward tables, bad input."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import ppo_grpo_lab.envs  # noqa: F401
from ppo_grpo_lab.envs.exam_bandit import ExamBandit, ExamModel, default_exam_model

ENV_ID = "ppo_grpo_lab/ExamBandit-v0"


def test_check_env_passes_without_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(ENV_ID).unwrapped, skip_render_check=True)


def test_spaces_and_one_step_episode():
    env = gym.make(ENV_ID)
    assert env.action_space == gym.spaces.Discrete(4)
    assert env.observation_space.shape == (2,) and env.observation_space.dtype == np.float32
    obs, info = env.reset(seed=3)
    assert obs.sum() == 1.0 and obs[info["student"]] == 1.0 and env.observation_space.contains(obs)
    obs2, r, terminated, truncated, info2 = env.step(1)
    assert terminated is True and truncated is False
    assert 0.0 <= r <= 1.0 and info2["score"] == pytest.approx(100 * r)
    assert np.array_equal(obs, obs2) and info2["student"] == info["student"]


def _rollout(seed, n=40):
    env = gym.make(ENV_ID)
    out = []
    obs, _ = env.reset(seed=seed)
    for t in range(n):
        a = t % 4
        _, r, *_ = env.step(a)
        out.append((tuple(obs), a, r))
        obs, _ = env.reset()
    return out


def test_seeded_determinism():
    assert _rollout(7) == _rollout(7)
    assert _rollout(7) != _rollout(8)


def test_student_frequencies_match_model():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    n = 4000
    students = [env.reset()[1]["student"] for _ in range(n)]
    p = env.unwrapped.model.student_probs
    freq = np.bincount(students, minlength=len(p)) / n
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / n))


def test_reward_statistics_match_declared_tables():
    env = gym.make(ENV_ID)
    model = env.unwrapped.model
    env.reset(seed=123)
    n = 1500
    for s in range(model.n_students):
        for a in range(model.n_actions):
            rewards = []
            for _ in range(n):
                env.reset(options={"student": s})
                rewards.append(env.step(a)[1])
            rewards = np.array(rewards)
            mu, sd = model.mean[s, a], model.std[s, a]
            assert abs(rewards.mean() - mu) < 4 * sd / np.sqrt(n), (s, a, rewards.mean(), mu)
            assert abs(rewards.std() - sd) < 0.1 * sd, (s, a, rewards.std(), sd)
            assert rewards.min() >= 0 and rewards.max() <= 1


def test_declared_story_numbers():
    m = default_exam_model()
    assert m.students == ("older", "younger") and m.actions == ("review", "practice", "cram", "cheat")
    assert m.mean[0, 0] == pytest.approx(0.80) and m.mean[1, 0] == pytest.approx(0.30)
    assert m.std[:, 2].min() > m.std[:, [0, 1, 3]].max()  # cramming is the noisiest strategy
    assert np.all(m.mean[:, 3] == m.mean.max(1))           # cheating scores highest...
    assert np.all(m.reference_probs[:, 3] <= 0.01)          # ...but the honest habits almost never cheat


@pytest.mark.parametrize("action", [4, -1, 1.5, "review"])
def test_bad_action_raises(action):
    env = ExamBandit()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_step_before_reset_and_after_end_raise():
    env = ExamBandit()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_bad_options_raise():
    env = ExamBandit()
    with pytest.raises(ValueError, match="student"):
        env.reset(seed=0, options={"student": 2})
    with pytest.raises(ValueError, match="only the key"):
        env.reset(seed=0, options={"teacher": 0})
    with pytest.raises(ValueError, match="render_mode"):
        ExamBandit(render_mode="human")


def test_bad_model_tables_raise():
    m = default_exam_model()
    kw = dict(students=m.students, actions=m.actions, student_probs=m.student_probs, mean=m.mean, std=m.std,
              reference_probs=m.reference_probs)
    with pytest.raises(ValueError, match="mean"):
        ExamModel(**{**kw, "mean": m.mean * 100})
    with pytest.raises(ValueError, match="std"):
        ExamModel(**{**kw, "std": m.std * 10})
    with pytest.raises(ValueError, match="reference_probs"):
        ExamModel(**{**kw, "reference_probs": m.reference_probs * 2})
    with pytest.raises(ValueError, match="student_probs"):
        ExamModel(**{**kw, "student_probs": np.array([0.5, 0.6])})
    with pytest.raises(ValueError, match=r"expected shape \(2, 4\)"):
        ExamModel(**{**kw, "mean": m.mean[:, :3]})
    with pytest.raises(ValueError, match="actions"):
        m.sample_rewards([0, 1], [0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="actions"):
        m.sample_rewards([0], [9], np.random.default_rng(0))
