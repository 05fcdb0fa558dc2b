"""Returns, TD residuals and GAE: hand-computed cases, properties, loop == fast path."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppo_grpo_lab import discounted_returns, gae, gae_loop, td_residuals


def col(*xs, dtype=torch.float32):
    """A [T, 1] column from a list of numbers."""
    return torch.tensor(xs, dtype=dtype).reshape(-1, 1)


def random_rollout(T, N, seed, p_term=0.1, p_trunc=0.1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(T, N, generator=g, dtype=dtype)
    v = torch.randn(T, N, generator=g, dtype=dtype)
    nv = torch.randn(T, N, generator=g, dtype=dtype)
    term = torch.rand(T, N, generator=g) < p_term
    trunc = (torch.rand(T, N, generator=g) < p_trunc) & ~term
    # a real rollout is consistent: within an episode, V(s_{t+1}) is the next row's V(s_t);
    # only at episode ends (final observation) and after the last row does next_values differ
    done = term | trunc
    nv[:-1] = torch.where(done[:-1], nv[:-1], v[1:])
    return r, v, nv, term, trunc


# ---------- hand-computed ----------

def test_returns_hand_computed_termination():
    G = discounted_returns(col(1, 1, 1), col(0, 0, 1).bool(), gamma=0.5)
    assert torch.allclose(G, col(1.75, 1.5, 1.0))


def test_returns_hand_computed_two_episodes_and_bootstrap_at_end():
    # episode 1: steps 0-1 (terminated at 1); episode 2: steps 2-3 unfinished, V(s_4)=10
    r = col(1, 2, 3, 4)
    term = col(0, 1, 0, 0).bool()
    nv = col(0, 0, 0, 10)
    G = discounted_returns(r, term, next_values=nv, gamma=0.5)
    assert torch.allclose(G, col(1 + 0.5 * 2, 2, 3 + 0.5 * (4 + 0.5 * 10), 4 + 0.5 * 10))


def test_returns_truncation_bootstraps_from_final_value():
    r = col(1, 1, 1)
    term = col(0, 0, 0).bool()
    trunc = col(0, 1, 0).bool()
    nv = col(0, 8, 2)  # V(final obs of episode 1) = 8; V(s_3) = 2
    G = discounted_returns(r, term, trunc, nv, gamma=0.5)
    assert torch.allclose(G, col(1 + 0.5 * (1 + 0.5 * 8), 1 + 0.5 * 8, 1 + 0.5 * 2))
    # treating the time limit as termination loses exactly γ·V(final) at the truncated step
    G_wrong = discounted_returns(r, term | trunc, None, nv, gamma=0.5)
    assert torch.allclose(G[1] - G_wrong[1], torch.tensor([0.5 * 8]))


def test_returns_truncated_without_next_values_is_an_error():
    with pytest.raises(ValueError, match="next_values"):
        discounted_returns(col(1, 1), col(0, 0).bool(), col(1, 0).bool())


def test_td_residual_hand_computed():
    d = td_residuals(col(1.0), col(2.0), col(3.0), col(0).bool(), gamma=0.9)
    assert torch.allclose(d, col(1.7))
    d = td_residuals(col(1.0), col(2.0), col(3.0), col(1).bool(), gamma=0.9)
    assert torch.allclose(d, col(-1.0))


def test_gae_hand_computed():
    # γ = 1, λ = 0.5, V = 0 everywhere: δ = r, A_1 = 2, A_0 = 1 + 0.5·2 = 2
    r = col(1, 2)
    z = torch.zeros(2, 1)
    adv, targ = gae(r, z, z, col(0, 1).bool(), gamma=1.0, lam=0.5)
    assert torch.allclose(adv, col(2.0, 2.0))
    assert torch.allclose(targ, adv)


@pytest.mark.parametrize("fn", [gae, gae_loop])
def test_gae_truncation_vs_termination_differ_exactly_by_bootstrap(fn):
    r, v, nv, term, _ = random_rollout(6, 1, seed=0, p_term=0.0, p_trunc=0.0)
    cut_at = 2
    term_mask = torch.zeros(6, 1, dtype=torch.bool)
    term_mask[cut_at] = True
    a_term, _ = fn(r, v, nv, term_mask, None, 0.9, 0.8)
    a_trunc, _ = fn(r, v, nv, torch.zeros_like(term_mask), term_mask, 0.9, 0.8)
    diff = a_trunc - a_term
    # δ_cut gains γ V(s'_cut); it propagates backwards with weight (γλ)^k; nothing after the cut changes
    expected = torch.zeros(6, 1, dtype=r.dtype)
    for t in range(cut_at + 1):
        expected[t] = (0.9 * 0.8) ** (cut_at - t) * 0.9 * nv[cut_at]
    assert torch.allclose(diff, expected)


# ---------- properties ----------

@pytest.mark.parametrize("fn", [gae, gae_loop])
def test_lambda_zero_gives_td_residual(fn):
    r, v, nv, term, trunc = random_rollout(20, 5, seed=1)
    adv, _ = fn(r, v, nv, term, trunc, gamma=0.97, lam=0.0)
    assert torch.allclose(adv, td_residuals(r, v, nv, term, gamma=0.97))


@pytest.mark.parametrize("fn", [gae, gae_loop])
def test_lambda_one_gives_mc_return_minus_value(fn):
    r, v, nv, term, trunc = random_rollout(30, 4, seed=2)
    adv, targets = fn(r, v, nv, term, trunc, gamma=0.95, lam=1.0)
    G = discounted_returns(r, term, trunc, nv, gamma=0.95)
    assert torch.allclose(adv, G - v)
    assert torch.allclose(targets, G)


def test_value_targets_are_advantages_plus_values():
    r, v, nv, term, trunc = random_rollout(10, 3, seed=3)
    adv, targ = gae(r, v, nv, term, trunc, 0.99, 0.95)
    assert torch.allclose(targ, adv + v)


def test_gae_on_a_perfect_critic_is_zero():
    # deterministic chain, V exact: every δ is 0, so every advantage is 0
    gamma = 0.9
    r = torch.ones(5, 1, dtype=torch.float64)
    term = col(0, 0, 0, 0, 1).bool()
    G = discounted_returns(r, term, gamma=gamma)
    nv = torch.cat([G[1:], torch.zeros(1, 1, dtype=torch.float64)])
    adv, _ = gae(r, G, nv, term, None, gamma, 0.7)
    assert torch.allclose(adv, torch.zeros_like(adv))


@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 40), N=st.integers(1, 6), seed=st.integers(0, 10_000),
       gamma=st.floats(0.0, 1.0), lam=st.floats(0.0, 1.0))
def test_fast_gae_equals_reference_loop(T, N, seed, gamma, lam):
    r, v, nv, term, trunc = random_rollout(T, N, seed)
    a1, t1 = gae(r, v, nv, term, trunc, gamma, lam)
    a2, t2 = gae_loop(r, v, nv, term, trunc, gamma, lam)
    assert torch.allclose(a1, a2, atol=1e-10)
    assert torch.allclose(t1, t2, atol=1e-10)


def test_gae_accepts_numpy_and_float_masks_and_keeps_dtype():
    import numpy as np
    r, v, nv, term, trunc = random_rollout(8, 2, seed=4, dtype=torch.float32)
    a, _ = gae(r.numpy(), v, nv, term.float(), trunc.int(), 0.99, 0.9)
    assert a.dtype == torch.float32 and a.shape == (8, 2)
    b, _ = gae(r, v, nv, np.asarray(term), trunc, 0.99, 0.9)
    assert torch.allclose(a, b)


# ---------- bad input ----------

GOOD = dict(rewards=torch.zeros(4, 2), values=torch.zeros(4, 2), next_values=torch.zeros(4, 2),
            terminated=torch.zeros(4, 2, dtype=torch.bool))


@pytest.mark.parametrize("fn", [gae, gae_loop])
@pytest.mark.parametrize("field,bad,msg", [
    ("rewards", torch.zeros(4), "rewards: expected a 2-D tensor"),
    ("values", torch.zeros(3, 2), "values: expected shape \\(4, 2\\)"),
    ("next_values", torch.zeros(4, 3), "next_values: expected shape"),
    ("terminated", torch.full((4, 2), 2), "terminated: expected a boolean or 0/1"),
    ("rewards", torch.tensor([[float("nan"), 0]] * 4), "rewards: expected finite values"),
    ("values", torch.tensor([[0, float("inf")]] * 4), "values: expected finite values"),
])
def test_gae_bad_inputs(fn, field, bad, msg):
    kw = dict(GOOD, **{field: bad})
    with pytest.raises(ValueError, match=msg):
        fn(**kw)


@pytest.mark.parametrize("gamma,lam,msg", [(1.5, 0.9, "gamma"), (-0.1, 0.9, "gamma"), (0.9, 1.1, "lam")])
def test_gae_bad_hyperparameters(gamma, lam, msg):
    with pytest.raises(ValueError, match=msg):
        gae(**GOOD, gamma=gamma, lam=lam)


def test_returns_and_td_bad_inputs():
    with pytest.raises(ValueError, match="terminated: expected shape"):
        discounted_returns(torch.zeros(3, 2), torch.zeros(3, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="gamma"):
        discounted_returns(torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.bool), gamma=2.0)
    with pytest.raises(ValueError, match="rewards: expected a 2-D tensor"):
        td_residuals(torch.zeros(3), torch.zeros(3), torch.zeros(3), torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="truncated: expected shape"):
        gae(**GOOD, truncated=torch.zeros(5, 2, dtype=torch.bool))
