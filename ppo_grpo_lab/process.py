"""Process supervision: a reward for every step of an answer, turned into per-token advantages.

DeepSeekMath (Shao et al. 2024, §4.1.3): answer ``o_i`` to a question has steps ``j = 1..K_i``,
step j ending at token ``index(j)`` and scored ``r_i^{index(j)}``. The step rewards of all G
answers of the question are normalised together, then each token gets the sum of the
normalised rewards of the steps that end at or after it (its own step and the later ones):

.. math::

    \\tilde r_i^{index(j)} = \\frac{r_i^{index(j)} - \\operatorname{mean}(R)}{\\operatorname{std}(R) + \\epsilon},
    \\qquad \\hat A_{i,t} = \\sum_{j:\\ index(j) \\ge t} \\tilde r_i^{index(j)}

where ``R`` holds every step reward of the G answers. The std is unbiased (Bessel), as in
:func:`~ppo_grpo_lab.group.group_advantages`; a question whose step rewards are all equal (or
that has a single step in all) carries no signal and gets exactly 0.

Representation (ragged steps, padded):

- ``step_rewards`` (Tensor, [B, G, S]): B questions, G answers each, at most S steps per answer;
- ``step_mask`` (bool, [B, G, S]): True for real steps; padding entries are ignored;
- ``step_ends`` (LongTensor, [B, G, S]): the token index (0-based, within the answer) of the
  last token of each step; the value at padding entries is ignored.

Token advantages are ``[B·G, L]``, rows in the order ``b·G + g`` (the order of the trainers'
``completions``). Tokens after the last step's end get 0, so the last step should end at the
answer's EOS (:func:`~ppo_grpo_lab.llm.step_reward.step_rewards` does that).

Worked example (one question, G = 2, L = 3): answer 1 has steps ending at tokens 0 and 2 with
rewards 1 and 0; answer 2 has one step ending at token 1 with reward 1. R = [1, 0, 1]: mean 2/3,
std 0.577, so r̃ = [0.577, −1.155] and [0.577]; advantages [−0.577, −1.155, −1.155] and
[0.577, 0.577, 0].

With one step per answer ending at EOS this is outcome supervision: each answer's tokens carry
its group advantage (tested).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import as_bool_mask, as_tensor, check_choice, check_finite, check_ndim, check_range, check_same_shape
from .group import SCALES

__all__ = ["normalize_step_rewards", "step_rewards_to_tokens", "process_advantages", "process_advantages_loop"]


def _check_steps(step_rewards, step_mask, step_ends=None):
    step_rewards = as_tensor("step_rewards", step_rewards)
    check_ndim("step_rewards", step_rewards, 3, "[B, G, S] (B questions, G answers, S steps at most)")
    if not torch.is_floating_point(step_rewards):
        step_rewards = step_rewards.float()
    step_mask = as_bool_mask("step_mask", as_tensor("step_mask", step_mask))
    check_same_shape("step_rewards", step_rewards, step_mask=step_mask)
    check_finite(step_rewards=torch.where(step_mask, step_rewards, torch.zeros_like(step_rewards)))
    if step_ends is not None:
        step_ends = as_tensor("step_ends", step_ends)
        check_same_shape("step_rewards", step_rewards, step_ends=step_ends)
        if step_ends.dtype.is_floating_point or step_ends.dtype == torch.bool:
            raise ValueError(f"step_ends: expected an integer tensor of token indices, got dtype {step_ends.dtype}")
    return step_rewards, step_mask, step_ends


def normalize_step_rewards(step_rewards: Tensor, step_mask: Tensor, scale: str = "group",
                           eps: float = 1e-4) -> Tensor:
    """Step rewards normalised over all steps of the G answers of each question.

    Args:
        step_rewards: (Tensor, [B, G, S]) reward of each step (padding ignored).
        step_mask: (bool Tensor, [B, G, S]) True for real steps.
        scale: ``"group"`` divide by the std over the question's steps (DeepSeekMath), ``"batch"`` by the
            std over all real steps of the batch, ``"none"`` only centre (Dr. GRPO style).
        eps: ε added to the std, >= 0 (1e-4 as in :func:`~ppo_grpo_lab.group.group_advantages`).

    Returns:
        (Tensor, [B, G, S]) r̃; 0 at padding and for questions whose real step rewards are all equal.
    """
    step_rewards, step_mask, _ = _check_steps(step_rewards, step_mask)
    check_choice("scale", scale, SCALES)
    check_range("eps", eps, 0.0, float("inf"))
    B = step_rewards.shape[0]
    m = step_mask.reshape(B, -1).to(step_rewards.dtype)  # (B, G·S)
    r = step_rewards.reshape(B, -1) * m  # (B, G·S), padding 0
    n = m.sum(1, keepdim=True)  # (B, 1) real steps per question
    mean = r.sum(1, keepdim=True) / n.clamp(min=1)
    sq = ((r - mean) * m) ** 2
    centred = (r - mean) * m
    if scale == "group":
        std = (sq.sum(1, keepdim=True) / (n - 1).clamp(min=1)).sqrt()  # unbiased
        centred = centred / (std + eps)
    elif scale == "batch":
        n_all = m.sum()
        mean_all = r.sum() / n_all.clamp(min=1)
        std_all = ((((r - mean_all) * m) ** 2).sum() / (n_all - 1).clamp(min=1)).sqrt()
        centred = centred / (std_all + eps)
    big, small = torch.where(m.bool(), r, -torch.inf).amax(1), torch.where(m.bool(), r, torch.inf).amin(1)
    flat = ~(big > small)  # all equal, a single step, or no step at all
    out = torch.where(flat.unsqueeze(1), torch.zeros_like(centred), centred)
    return out.reshape(step_rewards.shape)


def step_rewards_to_tokens(step_rewards: Tensor, step_mask: Tensor, step_ends: Tensor, length: int) -> Tensor:
    """Each step's reward placed on its last token (0 elsewhere): per-token rewards for PPO/GAE over steps.

    Args:
        step_rewards: (Tensor, [B, G, S]); step_mask: (bool, [B, G, S]); step_ends: (LongTensor, [B, G, S]).
        length: L, tokens per answer row; every real step must end at an index in [0, L).

    Returns:
        (Tensor, [B·G, L]) sums of the step rewards ending at each token.
    """
    step_rewards, step_mask, step_ends = _check_steps(step_rewards, step_mask, step_ends)
    ends = step_ends[step_mask]
    if ends.numel() and (int(ends.min()) < 0 or int(ends.max()) >= length):
        raise ValueError(f"step_ends: expected token indices in [0, {length}) for real steps, "
                         f"got values from {int(ends.min())} to {int(ends.max())}")
    B, G, S = step_rewards.shape
    idx = torch.where(step_mask, step_ends, torch.zeros_like(step_ends)).reshape(B * G, S).long()
    vals = torch.where(step_mask, step_rewards, torch.zeros_like(step_rewards)).reshape(B * G, S)
    out = torch.zeros(B * G, length, dtype=step_rewards.dtype, device=step_rewards.device)
    return out.scatter_add_(1, idx, vals)  # (B·G, L)


def process_advantages(step_rewards: Tensor, step_mask: Tensor, step_ends: Tensor, length: int,
                       completion_mask: Tensor | None = None, scale: str = "group", eps: float = 1e-4) -> Tensor:
    """GRPO's process-supervised advantages ``Â_{i,t} = Σ_{index(j) ≥ t} r̃_i^{index(j)}``.

    Args:
        step_rewards: (Tensor, [B, G, S]) per-step rewards.
        step_mask: (bool Tensor, [B, G, S]) True for real steps.
        step_ends: (LongTensor, [B, G, S]) token index of each step's last token, in [0, L).
        length: L, tokens per answer row.
        completion_mask: (bool Tensor, [B·G, L]) or None; advantages are zeroed where it is False.
        scale, eps: as in :func:`normalize_step_rewards`.

    Returns:
        (Tensor, [B·G, L]) per-token advantages: a reverse cumulative sum over tokens of the
        normalised step rewards placed at their end tokens.
    """
    tilde = normalize_step_rewards(step_rewards, step_mask, scale, eps)
    at_end = step_rewards_to_tokens(tilde, step_mask, step_ends, length)  # (B·G, L)
    adv = at_end.flip(1).cumsum(1).flip(1)  # Σ over steps ending at or after t
    if completion_mask is not None:
        completion_mask = as_bool_mask("completion_mask", as_tensor("completion_mask", completion_mask))
        check_same_shape("advantages", adv, completion_mask=completion_mask)
        adv = adv * completion_mask
    return adv


def process_advantages_loop(step_rewards, step_mask, step_ends, length: int, completion_mask=None,
                            eps: float = 1e-4) -> Tensor:
    """Reference version of :func:`process_advantages` (``scale="group"``): plain loops over the equation."""
    step_rewards, step_mask, step_ends = _check_steps(step_rewards, step_mask, step_ends)
    B, G, S = step_rewards.shape
    adv = torch.zeros(B * G, length, dtype=step_rewards.dtype)
    for b in range(B):
        R = [float(step_rewards[b, g, j]) for g in range(G) for j in range(S) if step_mask[b, g, j]]
        if len(R) < 2 or max(R) == min(R):
            continue  # no signal: every advantage of this question stays 0
        mean = sum(R) / len(R)
        std = (sum((x - mean) ** 2 for x in R) / (len(R) - 1)) ** 0.5
        for g in range(G):
            for t in range(length):
                if completion_mask is not None and not bool(completion_mask[b * G + g, t]):
                    continue
                adv[b * G + g, t] = sum((float(step_rewards[b, g, j]) - mean) / (std + eps)
                                        for j in range(S) if step_mask[b, g, j] and int(step_ends[b, g, j]) >= t)
    return adv
