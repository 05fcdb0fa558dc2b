"""PPO under torch.distributed (CPU, gloo, 2 processes) equals one process with the same total batch.

Two processes with 2 envs each must end with the parameters and the logged metrics of one
process with 4 envs (up to float32 summation order). The check cannot pass trivially: the
parameters must have moved from their initial values, and a 2-process run whose ranks seed
their envs wrongly (both like rank 0) must end elsewhere.
"""
import math
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ppo_grpo_lab.ppo import PPOConfig, PPOTrainer

pytestmark = pytest.mark.slow  # about 45 s in all: three 2-process runs

CFG = dict(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 3, update_epochs=2, num_minibatches=32,
           progress=False, device="cpu", seed=3)
UPDATES = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str, misseed: bool) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        try:
            PPOTrainer("CartPole-v1", PPOConfig(**{**CFG, "num_envs": 3, "num_minibatches": 1}))
            bad_envs_error = ""
        except ValueError as exc:
            bad_envs_error = str(exc)
        if misseed:  # every rank seeds its envs like rank 0: the ranks' envs are not the single run's envs
            PPOTrainer._env_seed = lambda self: self.config.seed
        trainer = PPOTrainer("CartPole-v1", PPOConfig(**CFG))
        trainer.train(num_updates=UPDATES)
        torch.save({"params": [p.detach().clone() for p in trainer.agent.parameters()],
                    "records": trainer.history.records, "bad_envs_error": bad_envs_error,
                    "local_envs": trainer.local_envs}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _run_two(tmp_path, misseed: bool = False) -> list[dict]:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), misseed), nprocs=2, join=True)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]


def _max_diff(a, b) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def _close(a: dict, b: dict, rel: float = 1e-4, abs_: float = 1e-5) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        if key == "charts/SPS":
            continue
        x, y = float(a[key]), float(b[key])
        if not (math.isclose(x, y, rel_tol=rel, abs_tol=abs_) or (math.isnan(x) and math.isnan(y))):
            return False
    return True


@pytest.fixture(scope="module")
def single():
    trainer = PPOTrainer("CartPole-v1", PPOConfig(**CFG))
    init = [p.detach().clone() for p in trainer.agent.parameters()]
    trainer.train(num_updates=UPDATES)
    return init, [p.detach().clone() for p in trainer.agent.parameters()], trainer.history.records


def test_two_processes_equal_one_process_with_the_same_total_batch(tmp_path, single):
    init, params, records = single
    ranks = _run_two(tmp_path)
    assert [r["local_envs"] for r in ranks] == [2, 2]
    assert _max_diff(init, params) > 1e-2  # training moved the parameters
    assert _max_diff(ranks[0]["params"], ranks[1]["params"]) == 0.0  # ranks stay in sync
    diff = _max_diff(ranks[0]["params"], params)
    print(f"max |θ_2proc − θ_1proc| = {diff:.2e}")
    assert diff < 1e-5, f"max parameter difference 2 processes vs 1: {diff}"
    for r in ranks:
        assert len(r["records"]) == len(records)
        assert all(_close(a, b) for a, b in zip(r["records"], records))
        assert sum("charts/episode_return" in rec for rec in records) > 0  # episodes are compared too
    assert all("num_envs: expected a multiple of the number of processes 2" in r["bad_envs_error"] for r in ranks)


def test_misseeded_two_process_run_differs(tmp_path, single):
    _, params, _ = single
    ranks = _run_two(tmp_path, misseed=True)
    assert _max_diff(ranks[0]["params"], params) > 1e-3


def test_torchrun_launch_initialises_the_group_and_only_rank_0_writes(tmp_path, single):
    """The documented launch: ``torchrun --nproc_per_node 2 script.py``; the trainer initialises gloo itself."""
    _, params, _ = single
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import torch
        from ppo_grpo_lab.ppo import PPOConfig, PPOTrainer
        torch.set_num_threads(1)
        trainer = PPOTrainer("CartPole-v1", PPOConfig(**{CFG!r}))
        trainer.train(num_updates={UPDATES})
        torch.save([p.detach() for p in trainer.agent.parameters()], r"{tmp_path}/params%d.pt" % trainer.rank)
        trainer.save(r"{tmp_path}/ckpt%d.pt" % trainer.rank)
        torch.distributed.destroy_process_group()
    """))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(script)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = [torch.load(tmp_path / f"params{r}.pt") for r in range(2)]
    assert _max_diff(got[0], got[1]) == 0.0 and _max_diff(got[0], params) < 1e-5
    assert (tmp_path / "ckpt0.pt").exists() and not (tmp_path / "ckpt1.pt").exists()
    resumed = PPOTrainer.load(str(tmp_path / "ckpt0.pt"), progress=False)  # one process can load it
    assert resumed.update == UPDATES and resumed.world_size == 1 and resumed.obs is None
