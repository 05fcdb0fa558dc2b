"""Exact policy evaluation, value iteration and the tabular sampler (ppo_grpo_lab.mdp)."""
import pytest
import torch

from ppo_grpo_lab.envs.weekly_exams import WeeklyExams, student_policy
from ppo_grpo_lab.mdp import (
    TabularMDP,
    gather_values,
    policy_evaluation,
    policy_evaluation_loop,
    q_from_v,
    sample_rollout,
    value_iteration,
)
from ppo_grpo_lab.returns import discounted_returns


def random_mdp(S=6, A=3, seed=0, p_end=0.2):
    g = torch.Generator().manual_seed(seed)
    P = torch.rand(S, A, S, generator=g, dtype=torch.float64)
    P = (1 - p_end) * P / P.sum(-1, keepdim=True)
    R = torch.randn(S, A, generator=g, dtype=torch.float64)
    mu0 = torch.full((S,), 1.0 / S, dtype=torch.float64)
    pi = torch.softmax(torch.randn(S, A, generator=g, dtype=torch.float64), -1)
    return TabularMDP(P, R, mu0), pi


def test_geometric_episode_hand_computed():
    # one state, one action, reward 1, continue with probability 0.5: V = 1 + 0.5 V = 2
    mdp = TabularMDP(torch.tensor([[[0.5]]]), torch.tensor([[1.0]]), torch.tensor([1.0]))
    pv = policy_evaluation(mdp, torch.tensor([[1.0]]), gamma=1.0)
    assert pv.V.item() == pytest.approx(2.0)
    # with γ = 0.5: V = 1 + 0.25 V = 4/3
    assert policy_evaluation(mdp, torch.tensor([[1.0]]), gamma=0.5).V.item() == pytest.approx(4 / 3)
    assert mdp.p_terminate.item() == pytest.approx(0.5)


def test_two_state_chain_hand_computed():
    # s0 --a0 (r=1)--> s1 --(r=2)--> end;  s0 --a1 (r=0)--> end.  π(a0|s0) = 0.25, γ = 0.9
    P = torch.zeros(2, 2, 2, dtype=torch.float64)
    P[0, 0, 1] = 1.0
    R = torch.tensor([[1.0, 0.0], [2.0, 2.0]])
    mdp = TabularMDP(P, R, torch.tensor([1.0, 0.0]))
    pi = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    pv = policy_evaluation(mdp, pi, gamma=0.9)
    assert pv.V[1].item() == pytest.approx(2.0)
    assert pv.Q[0, 0].item() == pytest.approx(1 + 0.9 * 2)   # 2.8
    assert pv.Q[0, 1].item() == pytest.approx(0.0)
    assert pv.V[0].item() == pytest.approx(0.25 * 2.8)       # 0.7
    assert pv.A[0].tolist() == pytest.approx([2.1, -0.7])
    opt, pi_star = value_iteration(mdp, gamma=0.9)
    assert opt.V[0].item() == pytest.approx(2.8)
    assert pi_star[0].tolist() == [1.0, 0.0]


def test_q_from_v_hand_computed():
    P = torch.tensor([[[0.5, 0.5]], [[0.0, 0.0]]], dtype=torch.float64)  # [S=2, A=1, S=2]
    R = torch.tensor([[1.0], [3.0]], dtype=torch.float64)
    V = torch.tensor([2.0, 4.0], dtype=torch.float64)
    Q = q_from_v(P, R, V, gamma=0.5)
    assert Q[:, 0].tolist() == pytest.approx([1 + 0.5 * 3.0, 3.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
def test_solve_equals_loop_and_bellman(seed, gamma):
    mdp, pi = random_mdp(seed=seed)
    fast, ref = policy_evaluation(mdp, pi, gamma), policy_evaluation_loop(mdp, pi, gamma)
    torch.testing.assert_close(fast.V, ref.V, atol=1e-9, rtol=0)
    torch.testing.assert_close(fast.Q, ref.Q, atol=1e-9, rtol=0)
    # V = Σ_a π Q and E_π[A] = 0
    torch.testing.assert_close((pi * fast.Q).sum(-1), fast.V, atol=1e-10, rtol=0)
    torch.testing.assert_close((pi * fast.A).sum(-1), torch.zeros_like(fast.V), atol=1e-10, rtol=0)


def test_value_iteration_dominates_every_policy():
    mdp, pi = random_mdp(seed=3)
    opt, pi_star = value_iteration(mdp, gamma=0.95)
    assert bool((opt.A <= 1e-10).all())
    assert bool((opt.V >= policy_evaluation(mdp, pi, 0.95).V - 1e-10).all())
    torch.testing.assert_close(policy_evaluation(mdp, pi_star, 0.95).V, opt.V, atol=1e-8, rtol=0)


def test_monte_carlo_matches_exact_values_on_weekly_exams():
    model = WeeklyExams().tabular_model()
    pi, gamma, W = student_policy(model), 0.9, model.n_weeks
    g = torch.Generator().manual_seed(0)
    ro = sample_rollout(model.mdp, pi, n_envs=4000, n_steps=W, generator=g)
    assert bool(ro.terminated[-1].all()) and not bool(ro.terminated[:-1].any())  # one semester per column
    G = discounted_returns(ro.rewards, ro.terminated, gamma=gamma)
    pv = policy_evaluation(model.mdp, pi, gamma)
    # E[G_0] = Σ μ0 V; check within 4 standard errors
    se = G[0].std() / G.shape[1] ** 0.5
    assert abs(G[0].mean() - model.mdp.mu0 @ pv.V) < 4 * se
    # E[G_t | s_t, a_t] = Q(s_t, a_t) for the most visited pairs at week 3
    t = 3
    keys = ro.states[t] * model.mdp.n_actions + ro.actions[t]
    for key in torch.bincount(keys).argsort(descending=True)[:3]:
        sel = keys == key
        s, a = divmod(int(key), model.mdp.n_actions)
        se = G[t][sel].std() / sel.sum() ** 0.5
        assert abs(G[t][sel].mean() - pv.Q[s, a]) < 4 * se + 1e-9


def test_sample_rollout_time_limit_and_next_states():
    model = WeeklyExams(n_weeks=5).tabular_model()
    pi = student_policy(model)
    ro = sample_rollout(model.mdp, pi, n_envs=7, n_steps=12, generator=torch.Generator().manual_seed(1), time_limit=3)
    assert ro.rewards.shape == (12, 7) and ro.rewards.dtype == torch.float64
    # a time limit of 3 < 5 weeks: every episode is truncated after 3 steps, never terminated
    assert not bool(ro.terminated.any())
    assert ro.truncated[2::3].all() and ro.truncated.sum() == 4 * 7
    assert bool((ro.next_states >= 0).all())
    # after a truncation the env resets to week 0
    assert bool((model.week[ro.states[3]] == 0).all())
    ro2 = sample_rollout(model.mdp, pi, n_envs=3, n_steps=6, generator=torch.Generator().manual_seed(2))
    assert bool(ro2.terminated[4].all()) and bool((ro2.next_states[4] == -1).all())
    V = torch.arange(model.mdp.n_states, dtype=torch.float64) + 1
    assert bool((gather_values(V, ro2.next_states[4]) == 0).all())
    assert bool((gather_values(V, ro2.states) == ro2.states + 1).all())


def test_sampler_is_seeded():
    model = WeeklyExams(n_weeks=3).tabular_model()
    pi = student_policy(model)
    a = sample_rollout(model.mdp, pi, 4, 6, generator=torch.Generator().manual_seed(5))
    b = sample_rollout(model.mdp, pi, 4, 6, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.rewards, b.rewards) and torch.equal(a.states, b.states)


def test_to_device_keeps_values():
    mdp, pi = random_mdp(seed=4)
    moved = mdp.to("cpu")
    assert torch.equal(moved.P, mdp.P) and moved.reward_std.shape == mdp.R.shape
    torch.testing.assert_close(policy_evaluation(moved, pi, 0.9).V, policy_evaluation(mdp, pi, 0.9).V)


def test_bad_inputs_raise():
    mdp, pi = random_mdp()
    with pytest.raises(ValueError, match="P"):
        TabularMDP(torch.ones(2, 2, 3), torch.zeros(2, 2), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="at most 1"):
        TabularMDP(torch.ones(2, 1, 2), torch.zeros(2, 1), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="mu0"):
        TabularMDP(torch.zeros(2, 1, 2), torch.zeros(2, 1), torch.tensor([0.5, 0.0]))
    with pytest.raises(ValueError, match="R"):
        TabularMDP(torch.zeros(2, 1, 2), torch.zeros(2, 2), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="pi"):
        policy_evaluation(mdp, pi[:, :2], 0.9)
    with pytest.raises(ValueError, match="pi"):
        policy_evaluation(mdp, pi * 2, 0.9)
    with pytest.raises(ValueError, match="gamma"):
        policy_evaluation(mdp, pi, 1.5)
    with pytest.raises(ValueError, match="shapes"):
        q_from_v(mdp.P, mdp.R, torch.zeros(3, dtype=torch.float64), 0.9)
    never_ends = TabularMDP(torch.ones(1, 1, 1), torch.ones(1, 1), torch.ones(1))
    with pytest.raises(ValueError, match="invertible"):
        policy_evaluation(never_ends, torch.ones(1, 1), gamma=1.0)
    with pytest.raises(ValueError, match="time_limit"):
        sample_rollout(mdp, pi, 2, 2, time_limit=0)
