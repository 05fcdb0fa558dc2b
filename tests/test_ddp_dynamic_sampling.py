"""DAPO's dynamic sampling under torch.distributed (gloo, 2 CPU processes): the ranks keep the same groups,
decided from the globally gathered rewards, and take the steps of one process."""
import copy
import math

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from test_ddp_grpo import _comparable, _free_port, _max_diff, _setup

from ppo_grpo_lab.llm import GRPOConfig, SFTConfig, TinyGPT, train_grpo, train_sft

CFG = dict(num_updates=3, batch_size=32, group_size=8, beta=0.04, learning_rate=3e-3, temperature=0.5, seed=0,
           progress=False, eval_every=0, device="cpu", dynamic_sampling=True, max_resample_rounds=6)


def _run(state):
    tok, task, gcfg = _setup()
    ref = TinyGPT(gcfg)
    ref.load_state_dict(state)
    policy = copy.deepcopy(ref)
    hist = train_grpo(policy, ref, task, tok, GRPOConfig(**CFG))
    return [p.detach().clone() for p in policy.parameters()], hist.records


def _worker(rank, port, state, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        torch.save(_run(state), f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_dynamic_sampling_two_processes_equal_one(tmp_path):
    torch.set_num_threads(1)
    tok, task, gcfg = _setup()
    model, _ = train_sft(task, tok, gcfg, SFTConfig(num_updates=150, batch_size=128, learning_rate=3e-3,
                                                     error_rate=0.7, seed=0, progress=False))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    params, records = _run(state)
    assert any(r["stats/resample_rounds"] >= 1 for r in records)  # the filter had work to do
    assert all(r["stats/batch_zero_std_frac"] == 0 for r in records)
    mp.spawn(_worker, args=(_free_port(), state, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    assert _max_diff(ranks[0][0], ranks[1][0]) == 0.0
    assert _max_diff(_comparable(ranks[0][0]), _comparable(params)) < 1e-5
    for got, want in zip(ranks[0][1], records):
        for key in want:
            if not key.startswith(("time/", "memory/")):
                assert math.isclose(float(got[key]), float(want[key]), rel_tol=1e-4, abs_tol=1e-5), key
