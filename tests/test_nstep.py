"""n-step advantages (ppo_grpo_lab.nstep)."""
import pytest
import torch

from ppo_grpo_lab.gae import gae
from ppo_grpo_lab.nstep import n_step_advantages, n_step_advantages_loop
from ppo_grpo_lab.returns import discounted_returns
from ppo_grpo_lab.td import td_residuals


def col(*xs, dtype=torch.float64):
    return torch.tensor(xs, dtype=dtype)[:, None]


def random_rollout(T=9, N=4, seed=0, p_term=0.15, p_trunc=0.1, consistent=True):
    """Random rollout; ``consistent``: next_values[t] = values[t + 1] inside an episode, as in real data."""
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(T, N, generator=g, dtype=torch.float64)
    v = torch.randn(T, N, generator=g, dtype=torch.float64)
    nv = torch.randn(T, N, generator=g, dtype=torch.float64)
    term = torch.rand(T, N, generator=g) < p_term
    trunc = (torch.rand(T, N, generator=g) < p_trunc) & ~term
    if consistent:
        inside = ~(term | trunc)[:-1]
        nv[:-1] = torch.where(inside, v[1:], nv[:-1])
    return r, v, nv, term, trunc


def test_docstring_example():
    r, v, nv = col(1.0, 2.0, 3.0), col(0.0, 0.0, 0.0), col(0.0, 0.0, 5.0)
    term = torch.zeros(3, 1, dtype=torch.bool)
    for f in (n_step_advantages, n_step_advantages_loop):
        assert f(r, v, nv, term, gamma=1.0, n=2)[:, 0].tolist() == [3.0, 10.0, 8.0]


def test_hand_computed_with_termination_and_truncation():
    # γ = 0.5. Episode A: steps 0-1, terminated at 1. Episode B: steps 2-3, truncated at 3 (V(final) = 8).
    r = col(1.0, 2.0, 4.0, 4.0)
    v = col(1.0, 1.0, 2.0, 2.0)
    nv = col(1.0, 7.0, 2.0, 8.0)  # next_values[t] = values[t + 1] inside an episode
    term = col(0, 1, 0, 0, dtype=torch.bool)
    trunc = col(0, 0, 0, 1, dtype=torch.bool)
    # n = 3: A_0 = 1 + 0.5·2 − 1 = 1 (terminated, no bootstrap); A_1 = 2 − 1 = 1;
    # A_2 = 4 + 0.5·4 + 0.25·8 − 2 = 6; A_3 = 4 + 0.5·8 − 2 = 6
    for f in (n_step_advantages, n_step_advantages_loop):
        assert f(r, v, nv, term, trunc, gamma=0.5, n=3)[:, 0].tolist() == pytest.approx([1.0, 1.0, 6.0, 6.0])
    # n = 1 at step 0 bootstraps V(s_1) = 1: 1 + 0.5 − 1 = 0.5
    assert n_step_advantages(r, v, nv, term, trunc, gamma=0.5, n=1)[0, 0].item() == pytest.approx(0.5)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("consistent", [True, False])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 9, 20])
def test_loop_equals_vectorised(seed, consistent, n):
    r, v, nv, term, trunc = random_rollout(seed=seed, consistent=consistent)
    torch.testing.assert_close(n_step_advantages(r, v, nv, term, trunc, 0.9, n),
                               n_step_advantages_loop(r, v, nv, term, trunc, 0.9, n), atol=1e-12, rtol=0)


@pytest.mark.parametrize("seed", range(3))
def test_n1_is_td_and_large_n_is_monte_carlo(seed):
    r, v, nv, term, trunc = random_rollout(seed=seed)
    torch.testing.assert_close(n_step_advantages(r, v, nv, term, trunc, 0.95, 1),
                               td_residuals(r, v, nv, term, 0.95))
    # as a sum of n shifted TD residuals (valid for consistent data)
    delta = td_residuals(r, v, nv, term, 0.95)
    alive = (~(term | trunc)).double()
    two = delta.clone()
    two[:-1] += 0.95 * alive[:-1] * delta[1:]
    torch.testing.assert_close(n_step_advantages(r, v, nv, term, trunc, 0.95, 2), two)
    mc = discounted_returns(r, term, trunc, next_values=nv, gamma=0.95) - v
    for n in (r.shape[0], 1000):
        torch.testing.assert_close(n_step_advantages(r, v, nv, term, trunc, 0.95, n), mc)
    # n = 1 and n ≥ T hold for inconsistent next_values too
    r2, v2, nv2, term2, trunc2 = random_rollout(seed=seed + 10, consistent=False)
    torch.testing.assert_close(n_step_advantages(r2, v2, nv2, term2, trunc2, 0.95, 1),
                               td_residuals(r2, v2, nv2, term2, 0.95))
    torch.testing.assert_close(n_step_advantages(r2, v2, nv2, term2, trunc2, 0.95, 50),
                               discounted_returns(r2, term2, trunc2, next_values=nv2, gamma=0.95) - v2)
    # and MC is GAE with λ = 1
    torch.testing.assert_close(mc, gae(r, v, nv, term, trunc, 0.95, lam=1.0)[0])


def test_float32_and_0_1_masks_accepted():
    r, v, nv, term, trunc = random_rollout(seed=4)
    out = n_step_advantages(r.float(), v.float(), nv.float(), term.float(), trunc.int(), 0.9, 3)
    assert out.dtype == torch.float32 and out.shape == r.shape
    torch.testing.assert_close(out.double(), n_step_advantages(r, v, nv, term, trunc, 0.9, 3), atol=1e-5, rtol=0)


def test_exact_values_give_zero_mean_n_step_advantage():
    """With the exact V of a deterministic chain, every n-step advantage of the only action is 0."""
    T = 6
    r = torch.ones(T, 1, dtype=torch.float64)
    V = torch.tensor([sum(0.9 ** k for k in range(T - t)) for t in range(T)], dtype=torch.float64)[:, None]
    nv = torch.cat([V[1:], torch.zeros(1, 1, dtype=torch.float64)])
    term = torch.zeros(T, 1, dtype=torch.bool)
    term[-1] = True
    for n in (1, 2, 4, 10):
        assert n_step_advantages(r, V, nv, term, gamma=0.9, n=n).abs().max().item() < 1e-12


def test_bad_inputs_raise():
    r, v, nv, term, trunc = random_rollout()
    for bad_n in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match="n: expected"):
            n_step_advantages(r, v, nv, term, trunc, 0.9, bad_n)
    with pytest.raises(ValueError, match="gamma"):
        n_step_advantages(r, v, nv, term, trunc, 1.1, 2)
    with pytest.raises(ValueError, match="values"):
        n_step_advantages(r, v[:-1], nv, term, trunc, 0.9, 2)
    with pytest.raises(ValueError, match="2-D"):
        n_step_advantages(r[:, 0], v[:, 0], nv[:, 0], term[:, 0], None, 0.9, 2)
    with pytest.raises(ValueError, match="terminated"):
        n_step_advantages(r, v, nv, term.double() * 2, trunc, 0.9, 2)
    with pytest.raises(ValueError, match="finite"):
        n_step_advantages(r, v * float("nan"), nv, term, trunc, 0.9, 2)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 10), N=st.integers(1, 3), n=st.integers(1, 12), seed=st.integers(0, 10_000),
       gamma=st.sampled_from([0.0, 0.5, 0.99, 1.0]))
def test_property_loop_equals_vectorised_any_shape(T, N, n, seed, gamma):
    r, v, nv, term, trunc = random_rollout(T=T, N=N, seed=seed, p_term=0.2, p_trunc=0.2, consistent=seed % 2 == 0)
    fast = n_step_advantages(r, v, nv, term, trunc, gamma, n)
    assert fast.shape == (T, N)
    torch.testing.assert_close(fast, n_step_advantages_loop(r, v, nv, term, trunc, gamma, n), atol=1e-12, rtol=0)
