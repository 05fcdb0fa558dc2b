"""Clipped surrogate, value loss, entropy and KL estimators."""
import math

import pytest
import torch

from ppo_grpo_lab import clipped_objective, clipped_surrogate, entropy, kl_k1, kl_k2, kl_k3, value_loss


def grad_of(ratio, adv, eps=0.2, eps_high=None):
    lp = torch.tensor([math.log(ratio)], requires_grad=True)
    obj = clipped_objective(lp, torch.zeros(1), torch.tensor([adv]), eps, eps_high)
    obj.sum().backward()
    return obj.item(), lp.grad.item()


@pytest.mark.parametrize("ratio,adv,value,zero_grad", [
    (1.5, 1.0, 1.2, True),     # A>0, above 1+ε: clipped, no gradient
    (1.1, 1.0, 1.1, False),    # A>0, inside
    (0.5, 1.0, 0.5, False),    # A>0, below 1−ε: unclipped branch is the min
    (1.5, -1.0, -1.5, False),  # A<0, above: unclipped branch is the min
    (1.1, -1.0, -1.1, False),  # A<0, inside
    (0.5, -1.0, -0.8, True),   # A<0, below 1−ε: clipped, no gradient
])
def test_six_clip_cases(ratio, adv, value, zero_grad):
    v, g = grad_of(ratio, adv)
    assert v == pytest.approx(value, rel=1e-6)
    assert (g == 0.0) == zero_grad


def test_asymmetric_clip():
    v, g = grad_of(1.25, 1.0, eps=0.2, eps_high=0.28)  # inside [0.8, 1.28]
    assert v == pytest.approx(1.25) and g != 0
    v, g = grad_of(1.3, 1.0, eps=0.2, eps_high=0.28)
    assert v == pytest.approx(1.28) and g == 0


def test_surrogate_loss_and_stats_hand_computed():
    lp = torch.log(torch.tensor([1.5, 1.0, 0.5, 0.5]))
    adv = torch.tensor([1.0, 2.0, -1.0, 1.0])
    loss, stats = clipped_surrogate(lp, torch.zeros(4), adv, clip_eps=0.2)
    # objectives: 1.2, 2.0, -0.8, 0.5 -> mean 0.725
    assert loss.item() == pytest.approx(-0.725, rel=1e-6)
    assert stats["stats/clip_frac"].item() == pytest.approx(0.5)
    assert stats["stats/clip_frac_high"].item() == pytest.approx(0.25)
    assert stats["stats/clip_frac_low"].item() == pytest.approx(0.25)
    r = torch.tensor([1.5, 1.0, 0.5, 0.5])
    assert stats["stats/approx_kl"].item() == pytest.approx(((r - 1) - r.log()).mean().item(), rel=1e-6)
    assert stats["loss/policy"].item() == loss.item()


def test_surrogate_mask_and_broadcast_advantages():
    lp = torch.zeros(2, 3)
    adv = torch.tensor([[1.0], [3.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    loss, _ = clipped_surrogate(lp, lp, adv, mask=mask)
    assert loss.item() == pytest.approx(-(1 + 1 + 3) / 3)


def test_surrogate_at_ratio_one_equals_negative_mean_advantage_and_has_policy_gradient():
    lp = torch.zeros(5, requires_grad=True)
    adv = torch.tensor([1.0, -1.0, 2.0, -2.0, 0.0])
    loss, _ = clipped_surrogate(lp, lp.detach(), adv)
    loss.backward()
    assert loss.item() == pytest.approx(0.0)
    assert torch.allclose(lp.grad, -adv / 5)


@pytest.mark.parametrize("kw,msg", [
    (dict(log_probs=torch.zeros(3), old_log_probs=torch.zeros(4), advantages=torch.zeros(3)), "old_log_probs: expected shape"),
    (dict(log_probs=torch.zeros(3), old_log_probs=torch.zeros(3), advantages=torch.zeros(2)), "advantages: expected a shape broadcastable"),
    (dict(log_probs=torch.zeros(3), old_log_probs=torch.zeros(3), advantages=torch.zeros(3), clip_eps=0.0), "clip_eps"),
    (dict(log_probs=torch.zeros(3), old_log_probs=torch.zeros(3), advantages=torch.zeros(3), clip_eps_high=-0.1), "clip_eps_high"),
    (dict(log_probs=torch.tensor([0.0, float("nan"), 0.0]), old_log_probs=torch.zeros(3), advantages=torch.zeros(3)), "log_probs: expected finite"),
    (dict(log_probs=torch.zeros(3), old_log_probs=torch.zeros(3), advantages=torch.zeros(3), mask=torch.ones(2)), "mask: expected shape"),
])
def test_surrogate_bad_inputs(kw, msg):
    with pytest.raises(ValueError, match=msg):
        clipped_surrogate(**kw)


def test_value_loss_plain_and_clipped():
    v = torch.tensor([3.0])
    loss, stats = value_loss(v, torch.tensor([1.0]))
    assert loss.item() == pytest.approx(4.0)
    loss, stats = value_loss(v, torch.tensor([1.0]), old_values=torch.tensor([2.5]), clip_eps=0.2)
    assert loss.item() == pytest.approx(4.0)  # max(4, (2.7-1)^2 = 2.89)
    assert stats["stats/value_clip_frac"].item() == 0.0
    # clipped term larger: V moved away from a target behind the old value
    loss, stats = value_loss(torch.tensor([1.5]), torch.tensor([0.0]), old_values=torch.tensor([1.0]), clip_eps=0.2)
    assert loss.item() == pytest.approx(2.25)  # max(2.25, 1.2^2 = 1.44)
    loss, stats = value_loss(torch.tensor([0.5]), torch.tensor([0.0]), old_values=torch.tensor([1.0]), clip_eps=0.2)
    assert loss.item() == pytest.approx(0.64)  # max(0.25, 0.8^2): clipped term wins, gradient stops
    assert stats["stats/value_clip_frac"].item() == 1.0


def test_value_loss_bad_inputs():
    with pytest.raises(ValueError, match="old_values: expected a tensor"):
        value_loss(torch.zeros(2), torch.zeros(2), clip_eps=0.2)
    with pytest.raises(ValueError, match="targets: expected shape"):
        value_loss(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="clip_eps"):
        value_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), clip_eps=-1.0)


def test_entropy_values_and_bad_inputs():
    assert entropy(torch.zeros(4)).item() == pytest.approx(math.log(4))
    assert entropy(torch.tensor([0.0, -float("inf")])).item() == pytest.approx(0.0)
    assert entropy(torch.zeros(2, 3, 5)).shape == (2, 3)
    with pytest.raises(ValueError, match="logits"):
        entropy(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="all -inf"):
        entropy(torch.full((3,), -float("inf")))
    with pytest.raises(ValueError, match="floating-point"):
        entropy(torch.zeros(3, dtype=torch.long))


def test_kl_hand_computed():
    lp, ref = torch.log(torch.tensor([0.5])), torch.log(torch.tensor([0.25]))
    assert kl_k1(lp, ref).item() == pytest.approx(math.log(2))
    assert kl_k2(lp, ref).item() == pytest.approx(0.5 * math.log(2) ** 2)
    assert kl_k3(lp, ref).item() == pytest.approx(0.5 - 1 + math.log(2))


def test_kl_estimators_against_exact_kl_of_random_categoricals():
    """k1 and k3 are unbiased, k2 is not; k3 is never negative; k1 can be."""
    g = torch.Generator().manual_seed(0)
    n = 200_000
    for trial in range(3):
        logits = torch.randn(6, generator=g)
        p = torch.softmax(logits, 0).double()
        q = torch.softmax(logits + 0.3 * torch.randn(6, generator=g), 0).double()  # a nearby policy
        exact = (p * (p / q).log()).sum().item()
        a = torch.multinomial(p, n, replacement=True, generator=g)
        lp, lq = p.log()[a], q.log()[a]
        k1, k3 = kl_k1(lp, lq), kl_k3(lp, lq)
        for k in (k1, k3):
            se = k.std().item() / n ** 0.5
            assert abs(k.mean().item() - exact) < 4 * se, (trial, k.mean().item(), exact)
        assert (k3 >= 0).all()
        assert (k1 < 0).any()
        assert k3.var() < k1.var()  # for nearby policies (the regime of KL penalties)
    # k2's bias is visible when the distributions are far apart
    p = torch.tensor([0.9, 0.1], dtype=torch.float64)
    q = torch.tensor([0.1, 0.9], dtype=torch.float64)
    exact = (p * (p / q).log()).sum().item()
    k2_exact_mean = (p * 0.5 * (q / p).log() ** 2).sum().item()
    assert abs(k2_exact_mean - exact) > 0.1


def test_kl_bad_inputs():
    with pytest.raises(ValueError, match="ref_log_probs: expected shape"):
        kl_k3(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="ref_log_probs: expected finite"):
        kl_k1(torch.zeros(1), torch.tensor([float("-inf")]))
