"""PPO checkpoints are plain data: they open with ``torch.load(..., weights_only=True)``, a tampered
file is refused with a CheckpointError (and runs nothing), and the envs' state survives the trip."""
import os
import pickle

import numpy as np
import pytest
import torch

from ppo_grpo_lab.checkpoint import FORMAT, CheckpointError
from ppo_grpo_lab.envs.snapshot import load_vector_env_state, vector_env_state
from ppo_grpo_lab.envs.torch_cartpole import TorchCartPoleVectorEnv
from ppo_grpo_lab.ppo import PPOConfig, PPOTrainer, make_vec_env

torch.set_num_threads(1)

SMALL = dict(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 4, update_epochs=2, num_minibatches=2,
             progress=False, device="cpu")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    trainer = PPOTrainer("CartPole-v1", PPOConfig(**SMALL, value_clip_eps=0.5))
    trainer.train(num_updates=1)
    path = tmp_path_factory.mktemp("ckpt") / "ppo.pt"
    trainer.save(path)
    return trainer, path


def test_a_ppo_checkpoint_opens_with_weights_only(saved):
    trainer, path = saved
    ckpt = torch.load(path, weights_only=True)  # no pickled objects: plain containers, numbers, tensors
    assert (ckpt["format"], ckpt["kind"], ckpt["env_id"]) == (FORMAT, "ppo", "CartPole-v1")
    assert ckpt["config"] == trainer.config.to_dict() and ckpt["config"]["value_clip_eps"] == 0.5
    assert ckpt["history"] == trainer.history.records and ckpt["update"] == 1 and ckpt["global_step"] == 128
    assert torch.equal(ckpt["rng"]["generator"], trainer.generator.get_state())
    assert torch.equal(ckpt["obs"], trainer.obs) and ckpt["tracker"]["return"].shape == (4,)
    env_state = ckpt["env_state"]
    assert env_state["kind"] == "sync" and len(env_state["envs"]) == 4
    cartpole = env_state["envs"][0][-1]  # the unwrapped CartPoleEnv, after its wrappers
    assert isinstance(cartpole["state"]["ndarray"], torch.Tensor) and cartpole["state"]["ndarray"].shape == (4,)
    assert set(ckpt["agent"]) == set(trainer.agent.state_dict())


def test_a_tampered_checkpoint_is_refused_and_runs_nothing(saved, tmp_path):
    _, path = saved
    marker = tmp_path / "pwned"

    class Payload:  # what an attacker would put in a file: unpickling it would run os.system
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    ckpt = torch.load(path, weights_only=True)
    ckpt["history"] = Payload()
    bad = tmp_path / "bad.pt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointError, match="not a plain-data ppo_grpo_lab checkpoint"):
        PPOTrainer.load(bad)
    assert not marker.exists()
    with open(bad, "wb") as f:  # a bare pickle, not even a torch file
        pickle.dump(Payload(), f)
    with pytest.raises(CheckpointError):
        PPOTrainer.load(bad)
    assert not marker.exists()


def test_another_kind_of_checkpoint_is_refused(saved, tmp_path):
    _, path = saved
    ckpt = torch.load(path, weights_only=True)
    torch.save({**ckpt, "kind": "grpo"}, tmp_path / "grpo.pt")
    with pytest.raises(CheckpointError, match="expected a 'ppo' checkpoint, got 'grpo'"):
        PPOTrainer.load(tmp_path / "grpo.pt")
    with pytest.raises(FileNotFoundError):
        PPOTrainer.load(tmp_path / "missing.pt")


def test_an_old_config_in_a_checkpoint_maps_with_a_warning(saved, tmp_path):
    _, path = saved
    ckpt = torch.load(path, weights_only=True)
    config = {k: v for k, v in ckpt["config"].items() if k != "value_clip_eps"}
    torch.save({**ckpt, "config": {**config, "clip_vloss": True, "vf_clip": 2.0}}, tmp_path / "old.pt")
    with pytest.warns(FutureWarning, match="value_clip_eps"):
        assert PPOTrainer.load(tmp_path / "old.pt").config.value_clip_eps == 2.0


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_gymnasium_sync_env_state_round_trips(env_id):
    a, b = make_vec_env(env_id, 3), make_vec_env(env_id, 3)
    a.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(40):
        a.step(np.stack([a.single_action_space.sample() for _ in range(3)]))
    load_vector_env_state(b, vector_env_state(a))
    for _ in range(300):  # past episode ends: the reset draws come from the restored np_random
        act = np.stack([a.single_action_space.sample() for _ in range(3)]) if env_id != "CartPole-v1" \
            else rng.integers(0, 2, 3)
        out_a, out_b = a.step(act), b.step(act)
        for x, y in zip(out_a[:4], out_b[:4]):
            np.testing.assert_array_equal(x, y)


def test_env_state_refuses_a_differently_built_env():
    a = make_vec_env("CartPole-v1", 2)
    a.reset(seed=0)
    with pytest.raises(ValueError, match="holds 2 envs"):
        load_vector_env_state(make_vec_env("CartPole-v1", 3), vector_env_state(a))


def test_torch_env_checkpoint_holds_its_state_dict(tmp_path):
    trainer = PPOTrainer(TorchCartPoleVectorEnv(4, device="cpu", seed=0), PPOConfig(**SMALL))
    trainer.train(num_updates=1)
    trainer.save(tmp_path / "t.pt")
    ckpt = torch.load(tmp_path / "t.pt", weights_only=True)
    state = ckpt["env_state"]
    assert state["kind"] == "torch" and ckpt["env_id"] is None
    assert torch.equal(state["state"]["state"], trainer.env.env.state)
    assert torch.equal(state["state"]["elapsed"], trainer.env.env.elapsed)


def test_pendulum_run_resumes_exactly(tmp_path):
    """Pendulum's envs get their state only at reset: the restored run must still continue the same curve."""
    cfg = PPOConfig(**{**SMALL, "total_timesteps": 4 * 32 * 3})
    full = PPOTrainer("Pendulum-v1", cfg).train()
    first = PPOTrainer("Pendulum-v1", cfg)
    first.train(num_updates=1)
    first.save(tmp_path / "p.pt")
    resumed = PPOTrainer.load(tmp_path / "p.pt")
    resumed.train()
    drop = lambda h: [{k: v for k, v in r.items() if k != "charts/SPS"} for r in h.records]
    assert drop(resumed.history) == drop(full) and resumed.update == 3
