"""Group advantages (GRPO) and token aggregation rules."""
import pytest
import torch

from ppo_grpo_lab import (
    AGGREGATIONS,
    aggregate,
    aggregate_bnpo,
    aggregate_dapo,
    aggregate_dr_grpo,
    aggregate_grpo,
    group_advantages,
    masked_mean,
    masked_normalize,
    zero_std_groups,
)


def test_group_advantages_hand_computed():
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), eps=0.0)
    s = torch.tensor([1.0, 0, 0, 1]).std()  # unbiased: sqrt(1/3)
    assert torch.allclose(adv, torch.tensor([[0.5, -0.5, -0.5, 0.5]]) / s)
    assert abs(adv[0, 0].item() - 0.8660254) < 1e-6


def test_zero_std_group_gives_exact_zero_not_nan():
    rewards = torch.tensor([[0.1, 0.1, 0.1], [3.0, 3.0, 3.0], [0.0, 1.0, 2.0]])
    for scale in ("group", "batch", "none"):
        adv = group_advantages(rewards, scale=scale, eps=0.0)
        assert torch.isfinite(adv).all()
        assert (adv[:2] == 0).all(), scale
        assert (adv[2] != 0).any()
    assert zero_std_groups(rewards).tolist() == [True, True, False]


def test_all_groups_flat_batch_scale_is_zero():
    adv = group_advantages(torch.ones(3, 4), scale="batch", eps=0.0)
    assert (adv == 0).all()


def test_group_scales_differ_as_defined():
    r = torch.tensor([[0.0, 2.0], [0.0, 10.0]])
    none = group_advantages(r, scale="none")
    assert torch.allclose(none, torch.tensor([[-1.0, 1.0], [-5.0, 5.0]]))
    grp = group_advantages(r, scale="group", eps=0.0)
    assert torch.allclose(grp, torch.tensor([[-1.0, 1.0], [-1.0, 1.0]]) / (2 ** 0.5))
    bat = group_advantages(r, scale="batch", eps=0.0)
    assert torch.allclose(bat, none / r.std())
    # advantages are centred within every group
    assert torch.allclose(grp.sum(dim=1), torch.zeros(2), atol=1e-6)


@pytest.mark.parametrize("bad,msg", [
    (torch.zeros(4), "expected a 2-D tensor"),
    (torch.zeros(3, 1), "group size G >= 2"),
    (torch.tensor([[0.0, float("nan")]]), "finite"),
])
def test_group_bad_inputs(bad, msg):
    with pytest.raises(ValueError, match=msg):
        group_advantages(bad)


def test_group_bad_scale_and_eps():
    with pytest.raises(ValueError, match="scale: expected one of"):
        group_advantages(torch.zeros(2, 2), scale="std")
    with pytest.raises(ValueError, match="eps"):
        group_advantages(torch.zeros(2, 2), eps=-1.0)


# ---------- aggregation ----------

X = torch.tensor([[1.0, 1.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
M = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)


def test_aggregations_hand_computed():
    # grpo: mean of per-answer means = (1 + 2) / 2
    assert aggregate_grpo(X, M).item() == pytest.approx(1.5)
    # dr_grpo: total 10 over B·L = 8
    assert aggregate_dr_grpo(X, M).item() == pytest.approx(10 / 8)
    with pytest.warns(FutureWarning, match="max_completion_length"):
        assert aggregate_dr_grpo(X, M, max_len=10).item() == pytest.approx(10 / 20)
    # TRL's constant: max_completion_length = 10 → 10 / (2 · 10), whatever the padded width
    assert aggregate_dr_grpo(X, M, max_completion_length=10).item() == pytest.approx(10 / 20)
    assert aggregate("dr_grpo", X, M, max_completion_length=10).item() == pytest.approx(10 / 20)
    X_wide, M_wide = torch.cat([X, torch.zeros(2, 3)], 1), torch.cat([M, torch.zeros(2, 3, dtype=torch.bool)], 1)
    assert aggregate("dr_grpo", X_wide, M_wide, max_completion_length=10).item() == pytest.approx(10 / 20)  # more padding
    # dapo: total 10 over 6 real tokens; bnpo is the same in one process
    assert aggregate_dapo(X, M).item() == pytest.approx(10 / 6)
    assert aggregate_bnpo(X, M).item() == pytest.approx(10 / 6)
    assert aggregate("grpo", X, M, max_completion_length=10).item() == pytest.approx(1.5)  # ignored by grpo
    assert set(AGGREGATIONS) == {"grpo", "bnpo", "dr_grpo", "dapo"}
    for name in AGGREGATIONS:
        assert aggregate(name, X, M).item() == AGGREGATIONS[name](X, M).item()


def test_masked_normalize_hand_computed():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    m = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert torch.allclose(masked_normalize(x, m, 4.0, dim=-1), torch.tensor([0.75, 1.0]))
    assert torch.allclose(masked_normalize(x, m, 2.0, dim=0), torch.tensor([2.5, 1.0, 0.0]))
    assert masked_normalize(x, m, 8.0).item() == pytest.approx(7 / 8)
    assert masked_normalize(x, None, 3.0).item() == pytest.approx(7.0)
    # Dr. GRPO's aggregation is masked_normalize by B · L_max
    assert aggregate_dr_grpo(X, M, max_completion_length=5).item() == pytest.approx(
        masked_normalize(X, M, 2 * 5).item())


def test_padding_values_never_leak():
    Xp = X.clone()
    Xp[0, 2:] = float("nan")
    for fn in AGGREGATIONS.values():
        assert fn(Xp, M).item() == pytest.approx(fn(X, M).item())


def test_grpo_length_bias_per_token_weight():
    # gradient w.r.t. each token: grpo weighs a token of a short answer more than one of a long answer
    x = torch.zeros(2, 4, requires_grad=True)
    aggregate_grpo(x, M).backward()
    assert x.grad[0, 0].item() == pytest.approx(0.25)   # 1/(B·|o_0|) = 1/(2·2)
    assert x.grad[1, 0].item() == pytest.approx(0.125)  # 1/(2·4)
    x.grad = None
    aggregate_dapo(x, M).backward()
    assert x.grad[0, 0].item() == pytest.approx(x.grad[1, 0].item())


def test_masked_mean():
    assert masked_mean(X, M).item() == pytest.approx(10 / 6)
    assert torch.allclose(masked_mean(X, M, dim=1), torch.tensor([1.0, 2.0]))
    assert masked_mean(X).item() == pytest.approx(X.mean().item())
    assert masked_mean(X, torch.zeros_like(M)).item() == 0.0  # nothing selected: 0, not NaN


def test_aggregation_bad_inputs():
    with pytest.raises(ValueError, match="per_token: expected a 2-D tensor"):
        aggregate_grpo(torch.zeros(4), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask: expected shape"):
        aggregate_dapo(X, M[:, :3])
    with pytest.raises(ValueError, match="mask: expected a boolean or 0/1"):
        masked_mean(X, X * 3)
    with pytest.raises(ValueError, match="rule: expected one of"):
        aggregate("mean", X, M)
    with pytest.raises(ValueError, match="max_len"), pytest.warns(FutureWarning):
        aggregate_dr_grpo(X, M, max_len=0)
    with pytest.raises(ValueError, match="max_completion_length"):
        aggregate_dr_grpo(X, M, max_completion_length=0)
    with pytest.raises(ValueError, match="constant"):
        masked_normalize(X, M, 0.0)
    with pytest.raises(ValueError, match="per_token: expected finite"):
        aggregate_dapo(torch.full((2, 4), float("inf")), M)
