"""The torch vector-env base class: seeding, reset, time limit, same-step autoreset and state_dict,
on a hand-checkable counter env and on both envs built on it."""
import numpy as np
import pytest
import torch
from gymnasium import spaces

from ppo_grpo_lab.envs.torch_cartpole import TorchCartPoleVectorEnv
from ppo_grpo_lab.envs.torch_vector import TorchVectorEnv
from ppo_grpo_lab.envs.torch_weekly_exams import TorchWeeklyExamsVectorEnv


class Counter(TorchVectorEnv):
    """State: an integer that starts at a random 0-9 and grows by the action; terminates past 20."""

    def __init__(self, num_envs, max_episode_steps=None, seed=None):
        super().__init__(num_envs, spaces.Box(0, np.inf, (1,), np.float32), spaces.Discrete(3), "cpu",
                         max_episode_steps, seed)

    def _initial_states(self):
        return torch.randint(0, 10, (self.num_envs,), generator=self.generator)

    def _observe(self, state):
        return state.to(torch.float32).unsqueeze(1)

    def _transition(self, a):
        new = self.state + a.long()
        return new, a.to(torch.float32), new > 20, self._observe(new), {}


def test_time_limit_autoreset_and_final_obs_by_hand():
    env = Counter(2, max_episode_steps=3, seed=0)
    obs, info = env.reset()
    start = obs[:, 0].clone()
    for t in range(1, 4):
        obs, rew, term, trunc, info = env.step(torch.tensor([0, 2]))
        assert not term.any() and bool(trunc.all()) == (t == 3)
    # after 3 steps: truncated; final_obs is the true s_3, obs already a fresh start
    torch.testing.assert_close(info["final_obs"][:, 0], start + torch.tensor([0.0, 6.0]))
    assert info["_final_obs"].all() and env.elapsed.tolist() == [0, 0]
    assert rew.tolist() == [0.0, 2.0]


def test_termination_resets_only_the_ended_env():
    env = Counter(2, seed=1)
    env.reset()
    env.state = torch.tensor([20, 5])
    obs, _, term, trunc, info = env.step(torch.tensor([1, 1]))
    assert term.tolist() == [True, False] and not trunc.any()
    assert info["final_obs"][:, 0].tolist() == [21.0, 6.0] and obs[1, 0] == 6.0 and obs[0, 0] < 10
    assert env.elapsed.tolist() == [0, 1]


def test_seeding_reset_errors_and_state_dict_round_trip():
    a, b = Counter(4, seed=3), Counter(4, seed=3)
    assert torch.equal(a.reset()[0], b.reset()[0])
    assert torch.equal(a.reset(seed=9)[0], Counter(4).reset(seed=9)[0])
    with pytest.raises(RuntimeError, match="reset"):
        Counter(2).step(torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="options: Counter accepts no options"):
        a.reset(options={"x": 1})
    with pytest.raises(ValueError, match="seed"):
        Counter(2, seed=-1)
    with pytest.raises(ValueError, match="max_episode_steps"):
        Counter(2, max_episode_steps=0)
    for _ in range(7):
        a.step(torch.full((4,), 2))
    c = Counter(4, seed=100)
    c.load_state_dict(a.state_dict())
    for _ in range(20):  # includes resets, drawn from the restored generator
        out_a, out_c = a.step(torch.full((4,), 2)), c.step(torch.full((4,), 2))
        assert all(torch.equal(x, y) for x, y in zip(out_a[:4], out_c[:4]))


@pytest.mark.parametrize("make", [lambda s: TorchCartPoleVectorEnv(6, device="cpu", seed=s),
                                  lambda s: TorchWeeklyExamsVectorEnv(6, device="cpu", seed=s, max_episode_steps=5)],
                         ids=["cartpole", "weekly_exams"])
def test_both_envs_continue_exactly_from_their_state_dict(make):
    a, b = make(0), make(1)
    assert isinstance(a, TorchVectorEnv)
    a.reset()
    g = torch.Generator().manual_seed(0)
    acts = [torch.randint(0, 2, (6,), generator=g) for _ in range(120)]
    for x in acts[:30]:
        a.step(x)
    b.load_state_dict(a.state_dict())
    ended = 0
    for x in acts[30:]:
        out_a, out_b = a.step(x), b.step(x)
        assert all(torch.equal(u, v) for u, v in zip(out_a[:4], out_b[:4]))
        ended += int(out_a[4]["_final_obs"].sum())
    assert ended > 0  # autoresets happened after the restore
