"""The trainer's fast paths compute exactly what the plain torch calls compute.

Chapter 9 pins numbers from ``PPOConfig()`` runs, so the trainer's speed-ups (layer-by-layer forward,
the sampler, foreach Adam, unchecked loss with one NaN check per minibatch, one-process advantage
whitening) must not move a bit. Each replaced call is compared bit for bit with the call it replaces,
and a short default run is compared with the numbers the trainer produced before the speed-ups
(recorded on the build machine, where they agree bit for bit; the tolerance only allows another CPU's
float32 rounding).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from ppo_grpo_lab import distributed as ddp
from ppo_grpo_lab.ppo import PPOConfig, PPOTrainer, ppo_loss
from ppo_grpo_lab.ppo.agent import ActorCritic, _categorical_sample, _run

OBS = gym.spaces.Box(-1, 1, (4,), np.float32)


def test_sampler_draws_what_torch_multinomial_draws():
    logits = torch.randn(500, 3, generator=torch.Generator().manual_seed(0)) * 4
    logits[:7, 0] = -1e9  # near-impossible actions too
    probs = torch.softmax(logits, -1)
    ours, ref = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(20):
        assert torch.equal(_categorical_sample(probs, ours), torch.multinomial(probs, 1, generator=ref).squeeze(-1))
    assert torch.equal(ours.get_state(), ref.get_state())  # the same random numbers were used up


def test_layer_by_layer_forward_and_backward_equal_the_module_call():
    agent = ActorCritic(OBS, gym.spaces.Discrete(2))
    x = torch.randn(256, 4, generator=torch.Generator().manual_seed(1))
    for net in (agent.actor, agent.critic):
        assert torch.equal(_run(net, x), net(x))
        g_fast = torch.autograd.grad(_run(net, x).square().sum(), list(net.parameters()))
        g_ref = torch.autograd.grad(net(x).square().sum(), list(net.parameters()))
        assert all(torch.equal(a, b) for a, b in zip(g_fast, g_ref))


def test_foreach_adam_equals_the_per_tensor_loop():
    torch.manual_seed(2)
    nets = [ActorCritic(OBS, gym.spaces.Discrete(2)) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    opts = [torch.optim.Adam(n.parameters(), lr=2.5e-3, eps=1e-5, foreach=f) for n, f in zip(nets, (True, False))]
    x = torch.randn(64, 4)
    for step in range(5):
        for net, opt in zip(nets, opts):
            opt.param_groups[0]["lr"] = 2.5e-3 / (step + 1)
            opt.zero_grad()
            net.critic(x).square().mean().backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
            opt.step()
    assert all(torch.equal(p, q) for p, q in zip(nets[0].parameters(), nets[1].parameters()))


def test_one_process_whitening_and_unchecked_loss_are_the_checked_numbers():
    g = torch.Generator().manual_seed(3)
    adv = torch.randn(256, generator=g) * 3 + 1
    assert torch.equal(ddp.global_normalize(adv, 256), (adv - adv.mean()) / (adv.std() + 1e-8))
    lp, old, v, tgt, oldv = (torch.randn(256, generator=g) for _ in range(5))
    logits = torch.randn(256, 2, generator=g)
    for vf_clip in (None, 0.2):
        kw = dict(logits=logits, old_values=oldv, vf_clip=vf_clip)
        loss, stats = ppo_loss(lp, old, adv, v, tgt, **kw, check_finite=False)
        loss_ref, stats_ref = ppo_loss(lp, old, adv, v, tgt, **kw)
        assert torch.equal(loss, loss_ref) and stats.keys() == stats_ref.keys()
        assert all(torch.equal(stats[k], stats_ref[k]) for k in stats)
    with pytest.raises(ValueError, match="shape"):  # anything unusual takes the checked path
        ppo_loss(lp, old, adv[:-1], v, tgt, logits=logits, check_finite=False)


def test_default_run_reproduces_the_numbers_recorded_before_the_speed_ups():
    trainer = PPOTrainer("CartPole-v1", PPOConfig(seed=0, progress=False))
    history = trainer.train(num_updates=2)
    weights = float(sum(p.detach().double().abs().sum() for p in trainer.agent.parameters()))
    assert weights == pytest.approx(1313.0226459172209, rel=1e-6)
    returns = history.series("charts/episode_return")[1]
    assert (len(returns), trainer.mean_return(20)) == (82, pytest.approx(30.1, abs=1e-9))
    recorded = {"loss/total": 35.53410339355469, "loss/value": 71.08748626708984, "stats/grad_norm": 36.26929473876953,
                "stats/entropy": 0.6864551305770874, "stats/approx_kl": 0.0005722470232285559,
                "loss/policy": -0.0027714911848306656}
    for key, value in recorded.items():
        assert history.last(key) == pytest.approx(value, rel=1e-5, abs=1e-8), key
