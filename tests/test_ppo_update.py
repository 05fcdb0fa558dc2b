"""ppo_update (the single-process algorithm chapter 9 prints) takes the trainer's step.

From the same state (weights, Adam, random stream, envs), one ``ppo_update`` and one
``PPOTrainer`` update must leave the same weights, for discrete and continuous actions, with
and without the optional details (value clipping, early stop on KL, no advantage normalisation).
"""
from __future__ import annotations

import pytest
import torch

from ppo_grpo_lab.ppo import PPOConfig, PPOTrainer, ppo_update

CASES = {
    "cartpole defaults": ("CartPole-v1", {}),
    "cartpole, all options": ("CartPole-v1", {"value_clip_eps": 0.2, "target_kl": 0.001, "norm_adv": False,
                                              "max_grad_norm": None, "anneal_lr": False}),
    "pendulum (Gaussian)": ("Pendulum-v1", {"update_epochs": 2, "num_minibatches": 8}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ppo_update_equals_the_trainer_update(case):
    env_id, change = CASES[case]
    cfg = PPOConfig(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 3, seed=3, progress=False, **change)
    trainer, reference = PPOTrainer(env_id, cfg), PPOTrainer(env_id, cfg)  # same seed: same weights, same streams
    trainer.train(num_updates=2)
    obs = reference.env.reset(seed=cfg.seed)
    for k in (1, 2):
        obs, stats = ppo_update(reference.agent, reference.optimizer, reference.env, obs, reference.tracker, cfg, k,
                                reference.generator)
    moved = False
    for (name, p), q in zip(trainer.agent.named_parameters(), reference.agent.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=f"{case}: parameter {name} differs")
    for p, q in zip(trainer.agent.parameters(), PPOTrainer(env_id, cfg).agent.parameters()):
        moved |= not torch.equal(p, q)
    assert moved, "the update did not change the weights"
    assert torch.equal(obs, trainer.obs)
    assert int(stats["stats/epochs"]) == int(trainer.history.last("stats/epochs"))
    assert abs(reference.optimizer.param_groups[0]["lr"] - trainer.optimizer.param_groups[0]["lr"]) < 1e-15


def test_early_stop_on_kl_cuts_the_epochs():
    cfg = PPOConfig(num_envs=4, num_steps=32, total_timesteps=128, update_epochs=5, target_kl=1e-9, seed=0,
                    progress=False)
    ref = PPOTrainer("CartPole-v1", cfg)
    _, stats = ppo_update(ref.agent, ref.optimizer, ref.env, ref.env.reset(seed=0), ref.tracker, cfg, 1, ref.generator)
    assert int(stats["stats/epochs"]) == 1
