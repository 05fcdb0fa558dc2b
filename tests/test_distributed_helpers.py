"""The collective helpers with one process: sharding keeps everything, the collectives change nothing,
and the global whitening follows the package's one convention (mean, unbiased std, + 1e-8)."""
import pytest
import torch

from ppo_grpo_lab import distributed as ddp


def test_shard_indices_by_hand():
    # global batch [T=3, N=4] flattened: index t·4 + n. Rank 1 of 2 holds envs 2, 3 (local index t·2 + j)
    idx = torch.tensor([0, 3, 6, 9, 10, 5])  # (t, n) = (0,0) (0,3) (1,2) (2,1) (2,2) (1,1)
    local, n_real = ddp.shard_indices(idx, total=4, offset=2, local=2)
    assert n_real == 3 and local.tolist() == [1, 2, 4]  # (0,3)→0·2+1, (1,2)→1·2+0, (2,2)→2·2+0
    local0, n0 = ddp.shard_indices(idx, total=4, offset=0, local=2)
    assert n0 == 3 and local0.tolist() == [0, 5, 3]  # rank 0 keeps (0,0)→0, (2,1)→2·2+1, (1,1)→1·2+1
    # every sample lands on exactly one rank
    assert n_real + n0 == len(idx)


def test_shard_indices_placeholder_and_one_process():
    local, n_real = ddp.shard_indices(torch.tensor([0, 4]), total=4, offset=2, local=2)  # both env 0
    assert n_real == 0 and local.tolist() == [0]  # one placeholder sample, weighted 0 by the caller
    idx = torch.tensor([5, 1, 7])
    same, n = ddp.shard_indices(idx, total=4, offset=0, local=4)
    assert same is idx and n == 3


def test_global_normalize_is_the_unbiased_whitening_with_one_process():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    # mean 2.5, unbiased std sqrt(5/3) = 1.2910 → (x − 2.5) / 1.2910
    expected = torch.tensor([-1.161895, -0.387298, 0.387298, 1.161895])
    torch.testing.assert_close(ddp.global_normalize(x, 4), expected, atol=1e-5, rtol=0)
    y = torch.randn(37, generator=torch.Generator().manual_seed(0)) * 3 + 1
    assert torch.equal(ddp.global_normalize(y, 37), (y - y.mean()) / (y.std() + 1e-8))  # bit for bit
    assert ddp.global_normalize(torch.tensor([5.0]), 1).tolist() == [0.0]  # one sample: centred only


def test_collectives_are_no_ops_with_one_process():
    assert ddp.world() == (0, 1)
    p = torch.nn.Parameter(torch.ones(3))
    (p * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    extra = torch.tensor([0.5, 7.0])
    assert ddp.all_reduce_grads([p], extra) is extra and p.grad.tolist() == [1.0, 2.0, 3.0]
    x = torch.arange(6.0).reshape(2, 3)
    assert ddp.all_gather_cat(x, 1) is x and ddp.all_reduce_sum(x.clone()).tolist() == x.tolist()
    ev = ddp.global_explained_variance(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 4.0]))
    # Var[y − ŷ] / Var[y] = Var[0, 0, 1] / Var[1, 2, 4] = (1/3) / (7/3) = 1/7
    assert ev.item() == pytest.approx(1 - 1 / 7)


def test_pooled_statistics_of_shards_equal_those_of_the_whole():
    """What the ranks' (n_r, mean_r, std_r) fold into: the mean and unbiased std of all samples, also
    with a rank holding one sample (its std unused) or none (skipped)."""
    x = torch.randn(50, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3 + 1
    parts = [x[:7], x[7:8], x[8:8], x[8:]]
    rows = torch.stack([torch.tensor([float(len(p)), p.mean() if len(p) else 0.0, p.std() if len(p) > 1 else 0.0],
                                     dtype=torch.float64) for p in parts])
    n, mean, std = ddp._pooled_mean_std(rows)
    assert n == 50
    torch.testing.assert_close(mean, x.mean(), rtol=0, atol=1e-12)
    torch.testing.assert_close(std, x.std(), rtol=0, atol=1e-12)
