"""The blocked fast path of ``gae`` is the reference loop ``gae_loop``, only faster."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppo_grpo_lab.gae import gae, gae_loop


def _rollout(T, N, seed, p_term=0.05, p_trunc=0.03, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(T, N, generator=g, dtype=dtype)
    v = torch.randn(T, N, generator=g, dtype=dtype)
    nv = torch.randn(T, N, generator=g, dtype=dtype)
    term = torch.rand(T, N, generator=g) < p_term
    trunc = torch.rand(T, N, generator=g) < p_trunc
    return r, v, nv, term, trunc


def _assert_equal_to_loop(r, v, nv, term, trunc, gamma, lam):
    a_fast, t_fast = gae(r, v, nv, term, trunc, gamma, lam)
    a_loop, t_loop = gae_loop(r, v, nv, term, trunc, gamma, lam)
    assert a_fast.shape == a_loop.shape and a_fast.dtype == a_loop.dtype
    # float32: both accumulate ~1/(1-γλ) rounding errors, in different orders
    tol = 1e-12 if r.dtype == torch.float64 else 2e-5
    scale = 1.0 + a_loop.abs().max().item()
    assert (a_fast - a_loop).abs().max().item() <= tol * scale
    assert (t_fast - t_loop).abs().max().item() <= tol * scale


def test_hand_computed_block_boundaries():
    # T = 5 -> blocks of K = 2 plus one padded step; γλ = 0.5, one termination at t = 2.
    r = torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0]])
    zero = torch.zeros(5, 1)
    term = torch.tensor([[0], [0], [1], [0], [0]]).bool()
    adv, targ = gae(r, zero, zero, term, gamma=1.0, lam=0.5)
    # second episode: 5, 4 + 2.5; first: 3, 2 + 1.5, 1 + 1.75
    expected = torch.tensor([[2.75], [3.5], [3.0], [6.5], [5.0]])
    assert torch.allclose(adv, expected) and torch.allclose(targ, expected)


@pytest.mark.parametrize("T", [1, 2, 3, 4, 7, 16, 17, 100, 2048, 2049])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equal_to_loop_for_all_block_shapes(T, dtype):
    r, v, nv, term, trunc = _rollout(T, 5, seed=T, dtype=dtype)
    _assert_equal_to_loop(r, v, nv, term, trunc, 0.99, 0.95)


@pytest.mark.parametrize("gamma, lam", [(0.99, 0.0), (0.0, 0.95), (1.0, 1.0), (1e-30, 1.0),
                                        (0.5, 0.5), (0.999, 0.999)])
def test_equal_to_loop_at_extreme_discounts(gamma, lam):
    r, v, nv, term, trunc = _rollout(300, 4, seed=1, dtype=torch.float64)
    _assert_equal_to_loop(r, v, nv, term, trunc, gamma, lam)


@pytest.mark.parametrize("p_term, p_trunc", [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.5, 0.5)])
def test_equal_to_loop_without_and_with_every_step_ending(p_term, p_trunc):
    r, v, nv, term, trunc = _rollout(130, 3, seed=2, p_term=p_term, p_trunc=p_trunc)
    _assert_equal_to_loop(r, v, nv, term, trunc, 0.99, 0.95)
    if max(p_term, p_trunc) == 1.0:  # every step ends an episode: Â_t = δ_t
        adv, _ = gae(r, v, nv, term, trunc, 0.99, 0.95)
        delta = r + 0.99 * nv * (~term) - v
        assert torch.allclose(adv, delta, atol=1e-6)


def test_large_rollout_at_benchmark_size():
    r, v, nv, term, trunc = _rollout(2048, 256, seed=3)
    _assert_equal_to_loop(r, v, nv, term, trunc, 0.99, 0.95)


def test_truncation_cuts_the_trace_but_keeps_the_bootstrap():
    # one truncation in the middle of a long block: the later episode must not leak back
    T = 50
    r, v, nv, _, _ = _rollout(T, 1, seed=4)
    trunc = torch.zeros(T, 1, dtype=torch.bool)
    trunc[20] = True
    term = torch.zeros_like(trunc)
    adv, _ = gae(r, v, nv, term, trunc, 0.9, 0.9)
    r2 = r.clone()
    r2[21:] += 100.0  # change the next episode only
    adv2, _ = gae(r2, v, nv, term, trunc, 0.9, 0.9)
    assert torch.equal(adv[:21], adv2[:21])
    assert (adv2[21:] > adv[21:]).all()
    nv2 = nv.clone()
    nv2[20] += 1.0  # bootstrap value at the truncation moves Â_20 by γ
    adv3, _ = gae(r, v, nv2, term, trunc, 0.9, 0.9)
    assert torch.allclose(adv3[20] - adv[20], torch.tensor([0.9]))


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 200), N=st.integers(1, 6), seed=st.integers(0, 2**31 - 1),
       gamma=st.floats(0.0, 1.0), lam=st.floats(0.0, 1.0),
       p_end=st.floats(0.0, 1.0), double=st.booleans())
def test_property_fast_equals_loop(T, N, seed, gamma, lam, p_end, double):
    dtype = torch.float64 if double else torch.float32
    r, v, nv, term, trunc = _rollout(T, N, seed, p_term=p_end / 2, p_trunc=p_end / 2, dtype=dtype)
    _assert_equal_to_loop(r, v, nv, term, trunc, gamma, lam)


def test_inputs_are_not_modified_and_numpy_is_accepted():
    r, v, nv, term, trunc = _rollout(37, 3, seed=5)
    copies = [x.clone() for x in (r, v, nv, term, trunc)]
    adv, _ = gae(r.numpy(), v, nv, term, trunc.numpy(), 0.99, 0.95)
    for x, c in zip((r, v, nv, term, trunc), copies):
        assert torch.equal(x, c)
    ref, _ = gae_loop(r, v, nv, term, trunc, 0.99, 0.95)
    assert torch.allclose(adv, ref, atol=1e-5)
    assert isinstance(np.asarray(adv), np.ndarray)


@pytest.mark.parametrize("bad, msg", [
    (dict(rewards=torch.zeros(5)), "2-D"),
    (dict(values=torch.zeros(4, 2)), "shape"),
    (dict(rewards=torch.full((5, 2), float("nan"))), "finite"),
    (dict(gamma=1.5), "gamma"),
    (dict(lam=-0.1), "lam"),
])
def test_bad_inputs_raise(bad, msg):
    args = dict(rewards=torch.zeros(5, 2), values=torch.zeros(5, 2), next_values=torch.zeros(5, 2),
                terminated=torch.zeros(5, 2, dtype=torch.bool), gamma=0.99, lam=0.95)
    args.update(bad)
    with pytest.raises(ValueError, match=msg):
        gae(**args)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_equals_cpu_loop():
    r, v, nv, term, trunc = _rollout(2048, 64, seed=6)
    adv, _ = gae(r.cuda(), v.cuda(), nv.cuda(), term.cuda(), trunc.cuda(), 0.99, 0.95)
    assert adv.device.type == "cuda"
    ref, _ = gae_loop(r, v, nv, term, trunc, 0.99, 0.95)
    assert torch.allclose(adv.cpu(), ref, atol=1e-4)
