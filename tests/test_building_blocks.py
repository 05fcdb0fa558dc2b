"""Per-token building blocks (policy-gradient losses, SFT loss, whitening, clip statistics), the
validate-once structure (public checked function → unchecked kernel) and the baselines registry."""
import importlib
import math

import pytest
import torch

import ppo_grpo_lab as P
from ppo_grpo_lab import _checks
from ppo_grpo_lab.bandit.baselines import BASELINES, baseline_advantages
from ppo_grpo_lab.llm import grpo_loss
from ppo_grpo_lab.ppo import normalize_advantages, ppo_loss

# the modules (``ppo_grpo_lab.gae`` etc. are shadowed by the functions of the same name on the package)
aggregation, entropy, gae, group, kl, nstep, returns, surrogate, td, value = (
    importlib.import_module(f"ppo_grpo_lab.{m}")
    for m in ("aggregation", "entropy", "gae", "group", "kl", "nstep", "returns", "surrogate", "td", "value"))

LOG = math.log


# ---------------------------------------------------------------- per-token policy-gradient losses
def test_naive_policy_gradient_loss_hand_computed_and_gradient():
    lp = torch.log(torch.tensor([[0.5, 0.25]])).requires_grad_()
    loss = P.naive_policy_gradient_loss(lp, torch.tensor([[2.0]]))  # one advantage per answer, [B, 1]
    assert loss.shape == (1, 2)
    assert torch.allclose(loss, torch.tensor([[2 * LOG(2), 2 * LOG(4)]]))
    loss.sum().backward()
    assert torch.allclose(lp.grad, torch.tensor([[-2.0, -2.0]]))  # ∂(−A log π)/∂log π = −A


def test_policy_gradient_loss_registry_variants():
    lp = torch.log(torch.tensor([[0.5, 0.5]]))
    old = torch.log(torch.tensor([[0.25, 0.5]]))  # ratios 2 and 1
    r, a = torch.tensor([[3.0]]), torch.tensor([[2.0]])
    assert set(P.PG_LOSSES) == {"no_baseline", "reinforce_with_baseline", "grpo_clip"}
    assert torch.allclose(P.policy_gradient_loss(lp, "no_baseline", rewards=r), 3 * LOG(2) * torch.ones(1, 2))
    assert torch.allclose(P.policy_gradient_loss(lp, "reinforce_with_baseline", advantages=a),
                          2 * LOG(2) * torch.ones(1, 2))
    clipped = P.policy_gradient_loss(lp, "grpo_clip", advantages=a, old_log_probs=old, clip_eps=0.2)
    assert torch.allclose(clipped, torch.tensor([[-2.4, -2.0]]))  # −min(4, 2.4), −min(2, 2)
    assert torch.allclose(clipped, P.clipped_policy_gradient_loss(lp, old, a, 0.2))
    # A < 0, r = 2 above 1 + ε: the unclipped branch is the min, −min(−2, −1.2) = 2
    assert P.clipped_policy_gradient_loss(lp[:, :1], old[:, :1], -torch.ones(1, 1)).item() == pytest.approx(2.0)


def test_clip_eps_of_one_or_more_never_binds_from_below():
    lp = torch.tensor([LOG(0.1)], requires_grad=True)  # r = 0.1, far below 1 − ε for any ε < 0.9
    obj = P.clipped_objective(lp, torch.zeros(1), -torch.ones(1), clip_eps=1.5)
    assert obj.item() == pytest.approx(-0.1)  # min(−0.1, clip(0.1, −0.5, 2.5)·(−1) = −0.1)
    obj.backward()
    assert lp.grad.item() != 0.0  # the lower bound never binds: the gradient flows
    assert P.clipped_objective(lp, torch.zeros(1), -torch.ones(1), clip_eps=0.2).item() == pytest.approx(-0.8)
    stats = P.clip_statistics(lp.detach(), torch.zeros(1), -torch.ones(1), clip_eps=1.0)
    assert stats["stats/clip_frac_low"].item() == 0.0
    loss, _ = P.clipped_surrogate(lp, torch.zeros(1), -torch.ones(1), clip_eps=1.0)
    assert loss.item() == pytest.approx(0.1)


# ---------------------------------------------------------------- SFT loss
def test_sft_loss_hand_computed():
    lp = torch.log(torch.tensor([[0.5, 0.25, 1.0]]))
    mask = torch.tensor([[1, 1, 0]])
    loss, stats = P.sft_loss(lp, mask)
    assert loss.item() == pytest.approx((LOG(2) + LOG(4)) / 2)  # 1.040: mean over real tokens
    assert stats["loss/sft"].item() == loss.item() and stats["stats/tokens"].item() == 2
    loss, _ = P.sft_loss(lp, mask, normalize_constant=4)
    assert loss.item() == pytest.approx((LOG(2) + LOG(4)) / 4)  # 0.520
    two = torch.log(torch.tensor([[0.5, 0.25], [0.5, 1.0]]))
    loss, _ = P.sft_loss(two, torch.tensor([[1, 1], [1, 0]]), normalize_constant=2)
    assert loss.item() == pytest.approx(((LOG(2) + LOG(4)) / 2 + LOG(2) / 2) / 2)  # per answer / c, then mean


def test_sft_loss_ignores_padding_even_when_not_finite():
    lp = torch.tensor([[-1.0, float("-inf")]])
    loss, _ = P.sft_loss(lp, torch.tensor([[1, 0]]))
    assert loss.item() == pytest.approx(1.0)


# ---------------------------------------------------------------- whitening
def test_masked_whiten_hand_computed_unbiased():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    s = math.sqrt(5 / 3)  # unbiased std of 1..4
    assert torch.allclose(P.masked_whiten(x, eps=0.0), (x - 2.5) / s)
    assert abs(P.masked_whiten(x)[0].item() + 1.161895) < 1e-5
    padded = torch.tensor([[1.0, 2.0, 99.0], [3.0, 4.0, float("nan")]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    w = P.masked_whiten(padded, mask, eps=0.0)
    assert torch.allclose(w[:, :2].reshape(-1), (x - 2.5) / s)
    assert (w[:, 2] == 0).all()  # padding comes back as 0
    assert torch.allclose(normalize_advantages(x), P.masked_whiten(x))  # PPO uses the same convention


def test_masked_whiten_fewer_than_two_entries_is_only_centred():
    assert P.masked_whiten(torch.tensor([3.0])).item() == 0.0
    w = P.masked_whiten(torch.tensor([3.0, 7.0]), torch.tensor([1, 0]))
    assert w.tolist() == [0.0, 0.0]


# ---------------------------------------------------------------- one clip-statistics helper
def test_clip_statistics_shared_by_ppo_and_grpo_losses():
    g = torch.Generator().manual_seed(0)
    lp, old, ref = (0.3 * torch.randn(3, 5, generator=g) for _ in range(3))
    adv = torch.randn(3, generator=g)
    mask = torch.rand(3, 5, generator=g) > 0.3
    stats = P.clip_statistics(lp, old, adv[:, None], 0.2, 0.28, mask)
    _, s_ppo = P.clipped_surrogate(lp, old, adv[:, None], 0.2, 0.28, mask)
    _, s_grpo = grpo_loss(lp, old, ref, adv, mask, 0.2, 0.28, beta=0.04)
    log_ratio = lp - old
    k3 = torch.expm1(log_ratio) - log_ratio
    assert stats["stats/approx_kl"].item() == pytest.approx(P.masked_mean(k3, mask).item(), rel=1e-6)
    assert stats["stats/approx_kl"].item() == pytest.approx(P.masked_mean(P.kl_k3(old, lp), mask).item(), rel=1e-6)
    for key, v in stats.items():
        assert s_ppo[key].item() == v.item() and s_grpo[key].item() == v.item(), key


# ---------------------------------------------------------------- validate once
def _count_finite_checks(monkeypatch):
    calls = []
    real = _checks.check_finite

    def counting(**tensors):
        calls.append(sorted(k for k, v in tensors.items() if v is not None))
        return real(**tensors)

    gl, pl = importlib.import_module("ppo_grpo_lab.llm.grpo_loss"), importlib.import_module("ppo_grpo_lab.ppo.loss")
    for mod in (_checks, surrogate, value, entropy, kl, aggregation, group, gl, pl):
        if hasattr(mod, "check_finite"):
            monkeypatch.setattr(mod, "check_finite", counting)
    return calls


def test_clipped_surrogate_validates_once(monkeypatch):
    calls = _count_finite_checks(monkeypatch)
    P.clipped_surrogate(torch.zeros(3), torch.zeros(3), torch.ones(3))
    assert calls == [["advantages", "log_probs", "old_log_probs"]]


def test_grpo_loss_validates_each_input_once(monkeypatch):
    calls = _count_finite_checks(monkeypatch)
    lp = torch.zeros(2, 3)
    for rule in P.AGGREGATIONS:
        calls.clear()
        grpo_loss(lp, lp, lp, torch.ones(2), torch.ones(2, 3, dtype=torch.bool), aggregation=rule)
        assert calls == [["advantages", "log_probs", "old_log_probs", "ref_log_probs"]], rule


def test_ppo_loss_validates_each_input_once(monkeypatch):
    calls = _count_finite_checks(monkeypatch)
    x = torch.zeros(4)
    ppo_loss(x, x, x, x, x, logits=torch.zeros(4, 2), old_values=x, vf_clip=0.2)
    names = [n for c in calls for n in c]
    assert len(names) == len(set(names)), calls
    assert len(calls) == 3  # policy inputs, value inputs, logits: one host sync each


@pytest.mark.parametrize("public, kernel", [
    (P.td_residuals, td._td_residuals), (P.gae, gae._gae), (P.discounted_returns, returns._discounted_returns),
])
def test_rollout_kernels_equal_their_public_functions(public, kernel):
    g = torch.Generator().manual_seed(1)
    r, v, nv = (torch.randn(6, 3, generator=g) for _ in range(3))
    term, trunc = torch.rand(6, 3, generator=g) < 0.2, torch.rand(6, 3, generator=g) < 0.2
    if public is P.td_residuals:
        assert torch.equal(public(r, v, nv, term, 0.9), kernel(r, v, nv, term, 0.9))
    elif public is P.gae:
        for a, b in zip(public(r, v, nv, term, trunc, 0.9, 0.8), kernel(r, v, nv, term, trunc, 0.9, 0.8)):
            assert torch.equal(a, b)
    else:
        assert torch.equal(public(r, term, trunc, nv, 0.9), kernel(r, term, trunc, nv, 0.9))
    assert torch.equal(P.n_step_advantages(r, v, nv, term, trunc, 0.9, 3),
                       nstep._n_step_advantages(r, v, nv, term, trunc, 0.9, 3))


def test_check_rollout_returns_a_named_tuple_and_check_finite_is_typed():
    ro = _checks.check_rollout(torch.zeros(2, 3), terminated=torch.tensor([[0, 1, 0], [1, 0, 0]]))
    assert isinstance(ro, _checks.RolloutTensors) and ro.values is None
    assert ro.terminated.dtype == torch.bool and ro.rewards.shape == (2, 3)
    with pytest.raises(P.NonFiniteError, match=r"values: expected finite values, got nan at index \(1,\)"):
        _checks.check_finite(rewards=torch.zeros(2), values=torch.tensor([0.0, float("nan")]))
    _checks.check_finite(x=torch.full((4,), 3e38))  # finite values whose sum overflows are fine


# ---------------------------------------------------------------- baselines registry
def test_baselines_registry_hand_computed():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0])
    assert set(BASELINES) == {"none", "critic", "group"}
    assert torch.equal(baseline_advantages("none", r), r)
    assert torch.allclose(baseline_advantages("critic", r, torch.full((4,), 0.5)), torch.tensor([0.5, -0.5, -0.5, 0.5]))
    grouped = baseline_advantages("group", r, group_size=2, adv_scale="none")
    assert torch.allclose(grouped, torch.tensor([0.5, -0.5, -0.5, 0.5]))
    batches = baseline_advantages("group", r.repeat(3, 1), group_size=4)  # [n_batches, N]: groups along the last dim
    assert torch.allclose(batches, P.group_advantages(r[None]).repeat(3, 1))
