"""Reference solutions the grader compares against, one per exercise.

Where the package already implements the concept, the reference *is* the package's
function (so the book, the package and the grader can never disagree); the few
exercises without a package counterpart get a one-line reference here.

Spoiler warning: reading this file gives the answers away.
"""
from __future__ import annotations

from torch import Tensor

from ..aggregation import aggregate_grpo as _aggregate_grpo
from ..gae import gae as _gae
from ..group import group_advantages as _group_advantages
from ..kl import kl_k3 as _kl_k3
from ..llm.reward_model import bradley_terry_loss as _bradley_terry_loss
from ..nstep import n_step_advantages as _n_step_advantages
from ..returns import discounted_returns as _discounted_returns
from ..surrogate import clipped_surrogate as _clipped_surrogate
from ..td import td_residuals as _td_residuals
from ..value import value_loss as _value_loss

__all__ = [
    "reinforce_loss", "baseline_advantage", "clipped_surrogate", "kl_k3", "group_advantages",
    "discounted_returns", "td_residuals", "gae", "q_from_v", "value_loss", "n_step_advantages",
    "aggregate_grpo", "bradley_terry_loss", "REFERENCES",
]


def reinforce_loss(log_probs: Tensor, rewards: Tensor) -> Tensor:
    """``−mean(log π(a_i) · R_i)``; log_probs, rewards: [N] → 0-d."""
    return -(log_probs * rewards).mean()


def baseline_advantage(rewards: Tensor, values: Tensor) -> Tensor:
    """``A_i = R_i − V(s_i)``; [N], [N] → [N]."""
    return rewards - values


def clipped_surrogate(log_probs, old_log_probs, advantages, clip_eps):
    """PPO's clipped loss (:func:`ppo_grpo_lab.clipped_surrogate`, loss only)."""
    return _clipped_surrogate(log_probs, old_log_probs, advantages, clip_eps=clip_eps)[0]


def kl_k3(log_probs, ref_log_probs):
    """k3 per element (:func:`ppo_grpo_lab.kl_k3`)."""
    return _kl_k3(log_probs, ref_log_probs)


def group_advantages(rewards, eps=1e-4):
    """Group-std-scaled advantages (:func:`ppo_grpo_lab.group_advantages` with ``scale="group"``)."""
    return _group_advantages(rewards, scale="group", eps=eps)


def discounted_returns(rewards, terminated, truncated, next_values, gamma):
    """Returns with termination/truncation (:func:`ppo_grpo_lab.discounted_returns`)."""
    return _discounted_returns(rewards, terminated, truncated, next_values, gamma=gamma)


def td_residuals(rewards, values, next_values, terminated, gamma):
    """δ_t (:func:`ppo_grpo_lab.td_residuals`)."""
    return _td_residuals(rewards, values, next_values, terminated, gamma=gamma)


def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """GAE advantages (:func:`ppo_grpo_lab.gae`, advantages only)."""
    return _gae(rewards, values, next_values, terminated, truncated, gamma=gamma, lam=lam)[0]


def q_from_v(P: Tensor, R: Tensor, V: Tensor, gamma: float) -> Tensor:
    """``Q = R + γ P V``; P [S, A, S], R [S, A], V [S] → [S, A]."""
    return R + gamma * P @ V


def value_loss(values, targets, old_values, clip_eps):
    """Clipped critic loss (:func:`ppo_grpo_lab.value_loss` with clipping, loss only)."""
    return _value_loss(values, targets, old_values=old_values, clip_eps=clip_eps)[0]


def n_step_advantages(rewards, values, next_values, terminated, truncated, gamma, n):
    """n-step advantages (:func:`ppo_grpo_lab.nstep.n_step_advantages`)."""
    return _n_step_advantages(rewards, values, next_values, terminated, truncated=truncated, gamma=gamma, n=n)


def aggregate_grpo(per_token, mask):
    """Per-sequence mean, then mean over sequences (:func:`ppo_grpo_lab.aggregate_grpo`)."""
    return _aggregate_grpo(per_token, mask)


# capstones: one whole update, graded by the parameters it leaves behind ------------------------
__all__ += ["ppo_update", "grpo_step"]


def ppo_update(policy, optimizer, obs, actions, old_log_probs, advantages, generator, epochs, minibatch_size,
               clip_eps):
    """K epochs × shuffled minibatches of one optimizer step each on the clipped loss (chapter 3)."""
    import torch
    n = actions.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)  # a fresh order every epoch
        for start in range(0, n, minibatch_size):
            mb = perm[start:start + minibatch_size]
            log_probs = policy.log_prob(obs[mb], actions[mb])
            loss, _ = _clipped_surrogate(log_probs, old_log_probs[mb], advantages[mb], clip_eps=clip_eps)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def grpo_step(policy, reference, optimizer, prompts, completions, mask, old_log_probs, rewards, beta, clip_eps,
              aggregation):
    """Group advantages, then one step on :func:`ppo_grpo_lab.llm.grpo_loss` (chapter 11)."""
    import torch

    from ..llm.grpo_loss import grpo_loss
    from ..llm.sampling import completion_log_probs
    adv = _group_advantages(rewards, scale="group").reshape(-1)  # (Q·G,)
    log_probs = completion_log_probs(policy, prompts, completions)["log_probs"]  # (Q·G, L)
    with torch.no_grad():
        ref = completion_log_probs(reference, prompts, completions)["log_probs"] if beta > 0 else None
    loss, _ = grpo_loss(log_probs, old_log_probs, ref, adv, mask, clip_eps=clip_eps, beta=beta,
                        aggregation=aggregation)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def bradley_terry_loss(r_chosen, r_rejected):
    """``−mean log σ(r⁺ − r⁻)`` (:func:`ppo_grpo_lab.llm.reward_model.bradley_terry_loss`, loss only)."""
    return _bradley_terry_loss(r_chosen, r_rejected)[0]


REFERENCES = {name: globals()[name] for name in __all__ if name != "REFERENCES"}


# ch15 (appended) ------------------------------------------------------------------------------
from ..process import process_advantages as _process_advantages  # noqa: E402


def process_advantages(step_rewards, step_mask, step_ends, length, eps=1e-4):
    """Process-supervised advantages (:func:`ppo_grpo_lab.process.process_advantages`, ``scale="group"``)."""
    return _process_advantages(step_rewards, step_mask, step_ends, length, scale="group", eps=eps)


__all__.append("process_advantages")
REFERENCES["process_advantages"] = process_advantages
