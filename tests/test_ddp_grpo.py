"""GRPO under torch.distributed (CPU, gloo, 2 processes) equals one process with the same batch.

Each rank answers half of the questions; after a few GRPO steps (β > 0) both ranks must hold the
parameters and the logged metrics of one process that answered all of them, for the sequence-mean
(``grpo``, group scaling) and the token-mean (``dapo``, batch scaling) variants at μ = 2, and for the
``share_prefixes`` fast path at μ = 1 (sampling keeps the policy's graph, :mod:`ppo_grpo_lab.llm.rollout`).
A run whose ranks sample with different seeds must end elsewhere.

One parameter block is left out of the element-wise comparison: the attention's key bias. Its
true gradient is exactly zero (adding b to every key adds q·b to every score of a row, which the
softmax ignores), so its computed gradient is float rounding noise, and Adam (ε = 1e-8) turns
noise of any size into steps of size ~lr with a random sign, in one process as in two. It does
not change the model's function, which the test compares through the logits instead.
"""
import copy
import math
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ppo_grpo_lab.llm import (
    AdditionTask,
    CharTokenizer,
    GPTConfig,
    GRPOConfig,
    GRPOTrainer,
    SFTConfig,
    TinyGPT,
    train_grpo,
    train_sft,
)

VARIANTS = [dict(aggregation="grpo", adv_scale="group"), dict(aggregation="dapo", adv_scale="batch", clip_eps_high=0.28),
            dict(aggregation="grpo", adv_scale="group", share_prefixes=True, update_epochs=1)]
BASE = dict(num_updates=3, batch_size=32, group_size=8, update_epochs=2, beta=0.04, learning_rate=3e-3, seed=0, progress=False,
            eval_every=0, device="cpu")


def _setup():
    tok, task = CharTokenizer(), AdditionTask(digits=1)
    return tok, task, GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=32)


def _run(state, variant, seed_offset: int = 0):
    tok, task, gcfg = _setup()
    ref = TinyGPT(gcfg)
    ref.load_state_dict(state)
    policy = copy.deepcopy(ref)
    hist = train_grpo(policy, ref, task, tok, GRPOConfig(**{**BASE, **variant, "seed": seed_offset}))
    return [p.detach().clone() for p in policy.parameters()], hist.records


def _worker(rank, port, state, out, misseed):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        tok, task, gcfg = _setup()
        try:  # 3 questions cannot be split over 2 processes
            train_grpo(TinyGPT(gcfg), TinyGPT(gcfg), task, tok, GRPOConfig(**{**BASE, "batch_size": 24}))
            error = ""
        except ValueError as exc:
            error = str(exc)
        assert "to split evenly over 2 processes" in error, error
        results = [_run(state, v, seed_offset=rank if misseed else 0) for v in (VARIANTS[:1] if misseed else VARIANTS)]
        torch.save(results, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _max_diff(a, b) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def _comparable(params):
    """The parameters in ``named_parameters`` order, without the key part of each attention's qkv bias."""
    names = [n for n, _ in TinyGPT(_setup()[2]).named_parameters()]
    out = []
    for name, p in zip(names, params):
        if name.endswith("qkv.bias"):
            C = p.shape[0] // 3
            p = torch.cat([p[:C], p[2 * C:]])  # q and v parts; the k part [C:2C] has zero true gradient
        out.append(p)
    return out


def _logits(params):
    tok, task, gcfg = _setup()
    model = TinyGPT(gcfg)
    with torch.no_grad():
        for p, q in zip(model.parameters(), params):
            p.copy_(q)
        x = torch.tensor([tok.encode(f"{a}+{b}=") for a in range(10) for b in range(10)])
        return model(x)[0]


@pytest.fixture(scope="module")
def warm():
    torch.set_num_threads(1)
    tok, task, gcfg = _setup()
    model, _ = train_sft(task, tok, gcfg, SFTConfig(num_updates=150, batch_size=128, learning_rate=3e-3, error_rate=0.7, seed=0,
                                                     progress=False))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return state, [_run(state, v) for v in VARIANTS]


def _spawn(tmp_path, state, misseed=False):
    mp.spawn(_worker, args=(_free_port(), state, str(tmp_path), misseed), nprocs=2, join=True)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]


def test_variants_cover_both_sampling_paths():
    """The first two variants score the answers in separate log-prob passes; the third samples with the graph."""
    tok, task, gcfg = _setup()
    paths = [GRPOTrainer(task, tok, GRPOConfig(**{**BASE, **v}), policy=TinyGPT(gcfg), reference=TinyGPT(gcfg))
             .samples_with_graph() for v in VARIANTS]
    assert paths == [False, False, True]


def test_two_processes_equal_one_process(tmp_path, warm):
    state, single = warm
    ranks = _spawn(tmp_path, state)
    names = [n for n, _ in TinyGPT(_setup()[2]).named_parameters()]
    init = [state[n] for n in names]
    for v, (params, records) in enumerate(single):
        assert _max_diff(_comparable(params), _comparable(init)) > 1e-3  # training moved the weights
        assert _max_diff(ranks[0][v][0], ranks[1][v][0]) == 0.0
        diff = _max_diff(_comparable(ranks[0][v][0]), _comparable(params))
        logit_diff = float((_logits(ranks[0][v][0]) - _logits(params)).abs().max())
        print(f"{VARIANTS[v]['aggregation']}: max |θ_2proc − θ_1proc| = {diff:.2e}, logits {logit_diff:.2e}")
        assert diff < 1e-5 and logit_diff < 5e-5, (VARIANTS[v], diff, logit_diff)
        for got, want in zip(ranks[0][v][1], records):
            assert got.keys() == want.keys()
            for key in want:
                if key.startswith(("time/", "memory/")):
                    continue
                assert math.isclose(float(got[key]), float(want[key]), rel_tol=1e-4, abs_tol=1e-5), (v, key)
        assert any(float(r["reward/std"]) > 0 for r in records)  # there was a learning signal


def test_misseeded_two_process_run_differs(tmp_path, warm):
    state, single = warm
    ranks = _spawn(tmp_path, state, misseed=True)
    assert _max_diff(_comparable(ranks[0][0][0]), _comparable(single[0][0])) > 1e-4
