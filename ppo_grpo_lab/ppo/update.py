"""One PPO update in one process: the algorithm of Schulman et al. (2017), line by line.

:meth:`ppo_grpo_lab.ppo.PPOTrainer._update` runs the same steps with a trainer's extra duties
(several processes that share the environments and sum their gradients, NaN guards, metrics,
episode logging). :func:`ppo_update` is the readable single-process reference that chapter 9
prints; ``tests/test_ppo_update.py`` checks that both take the same step from the same state.

Worked example: with the defaults (N = 8 envs, T = 128 steps, 4 epochs of 4 minibatches) one
call collects 1,024 transitions and takes 16 Adam steps on minibatches of 256.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .agent import ActorCritic
from .config import PPOConfig
from .loss import normalize_advantages, ppo_loss
from .rollout import EpisodeTracker, VecEnvAdapter, collect_rollout, compute_advantages

__all__ = ["ppo_update"]


def ppo_update(agent: ActorCritic, optimizer: torch.optim.Optimizer, env: VecEnvAdapter, obs: Tensor,
               tracker: EpisodeTracker, config: PPOConfig, k: int,
               generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """Update ``k`` (1-based) of PPO: rollout, GAE, then epochs of clipped minibatch steps.

    Args:
        agent: the actor π_θ and critic V_ψ (updated in place).
        optimizer: Adam over ``agent.parameters()`` (its learning rate is set to α_k here).
        env: the N environments, adapted to tensors (:class:`~ppo_grpo_lab.ppo.VecEnvAdapter`).
        obs: (Tensor, [N, obs_dim]) the observations to continue from.
        tracker: the running return and length of every env's episode.
        config: the hyperparameters (:class:`~ppo_grpo_lab.ppo.PPOConfig`).
        k: the update's number, 1 … ``config.num_updates`` (sets α_k when ``anneal_lr``).
        generator: the random stream for actions and minibatch shuffles.

    Returns:
        ``(obs, stats)``: the observations to continue from, and the last minibatch's statistics
        (``loss/*``, ``stats/*`` of :func:`~ppo_grpo_lab.ppo.ppo_loss`) plus ``stats/epochs``.
    """
    cfg = config
    for group in optimizer.param_groups:
        group["lr"] = cfg.learning_rate_at(k)  # α_k
    # 1. Play T steps in each of the N envs with the current policy π_θold.
    ro, obs, _ = collect_rollout(env, agent, obs, cfg.num_steps, tracker, generator)
    # 2. Advantages Â and value targets V^targ by GAE(γ, λ), bootstrapping truncated steps.
    advantages, targets, _ = compute_advantages(agent, ro, cfg.gamma, cfg.gae_lambda)  # [T, N] each
    data = {"obs": ro.obs.flatten(0, 1), "actions": ro.actions.flatten(0, 1),  # [N·T, ...]
            "old_log_probs": ro.log_probs.flatten(), "old_values": ro.values.flatten(),
            "advantages": advantages.flatten(), "targets": targets.flatten()}
    # 3. Several epochs over the same data, each in M shuffled minibatches of N·T/M samples.
    for epoch in range(1, cfg.update_epochs + 1):
        order = torch.randperm(cfg.batch_size, generator=generator, device=obs.device)
        kls = []
        for m in range(cfg.num_minibatches):
            mb = {key: x[order[m * cfg.minibatch_size:(m + 1) * cfg.minibatch_size]] for key, x in data.items()}
            log_probs, values, out = agent.evaluate(mb["obs"], mb["actions"])  # log π_θ(a|s), V_ψ(s)
            adv = normalize_advantages(mb["advantages"]) if cfg.norm_adv else mb["advantages"]
            # 4. L = −L^CLIP + c1 L^VF − c2 H on the minibatch.
            loss, stats = ppo_loss(
                log_probs, mb["old_log_probs"], adv, values, mb["targets"],
                logits=out if agent.discrete else None, entropies=None if agent.discrete else agent.entropy(out),
                old_values=None if cfg.value_clip_eps is None else mb["old_values"], clip_eps=cfg.clip_eps,
                vf_coef=cfg.vf_coef, ent_coef=cfg.ent_coef, vf_clip=cfg.value_clip_eps)
            # 5. One Adam step on the gradient, its global norm clipped to max_grad_norm.
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
            optimizer.step()
            kls.append(stats["stats/approx_kl"])
        # 6. Optionally stop the epochs once the policy has moved far enough (approximate KL).
        if cfg.target_kl is not None and float(torch.stack(kls).mean()) > cfg.target_kl:
            break
    return obs, {**stats, "stats/epochs": torch.tensor(epoch)}
