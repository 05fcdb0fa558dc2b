"""GRPO's group-relative advantage: the group mean replaces the critic.

For one question, G answers are sampled and scored ``r_1..r_G``; each answer's advantage is

.. math::

    \\hat A_i = \\frac{r_i - \\operatorname{mean}(r_1, \\dots, r_G)}{\\operatorname{std}(r_1, \\dots, r_G) + \\varepsilon}

(DeepSeekMath, Shao et al. 2024; the same value is used for every token of answer i).
A group whose rewards are all equal carries no signal: its advantages are exactly 0.

Worked example: rewards [1, 0, 0, 1] → mean 0.5, std (unbiased) 0.577 →
advantages ≈ [0.866, −0.866, −0.866, 0.866].
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._checks import as_tensor, check_choice, check_finite, check_ndim, check_range

__all__ = ["group_advantages", "zero_std_groups", "SCALES"]

SCALES = ("group", "batch", "none")


def _check_groups(rewards) -> Tensor:
    rewards = as_tensor("rewards", rewards)
    check_ndim("rewards", rewards, 2, "[B, G] (B questions, G samples each)")
    if rewards.shape[1] < 2:
        raise ValueError(f"rewards: expected a group size G >= 2, got G = {rewards.shape[1]} (shape {tuple(rewards.shape)})")
    if not torch.is_floating_point(rewards):
        rewards = rewards.float()
    check_finite(rewards=rewards)
    return rewards


def zero_std_groups(rewards: Tensor) -> Tensor:
    """(bool Tensor, [B]) True for the groups whose G rewards are all equal (no learning signal).

    Args:
        rewards: (Tensor, [B, G]).
    """
    return _zero_std_groups(_check_groups(rewards))


def _zero_std_groups(rewards: Tensor) -> Tensor:
    """Max == min per row of a checked [B, G] tensor."""
    return rewards.amax(dim=1) == rewards.amin(dim=1)


def group_advantages(rewards: Tensor, scale: str = "group", eps: float = 1e-4) -> Tensor:
    """Group-relative advantages.

    Args:
        rewards: (Tensor, [B, G]) one row per question, G >= 2 sampled answers each.
        scale: what to divide the centred rewards by:
            ``"group"`` the group's std (GRPO), ``"batch"`` the std of all B·G rewards
            (more robust for small groups), ``"none"`` nothing (Dr. GRPO).
            Standard deviations are unbiased (Bessel's correction), as in TRL.
        eps: ε added to the std, >= 0.

    Returns:
        (Tensor, [B, G]) advantages; rows of all-equal rewards are exactly 0. Checks the inputs
        once, then runs the kernel ``_group_advantages``.
    """
    rewards = _check_groups(rewards)
    check_choice("scale", scale, SCALES)
    check_range("eps", eps, 0.0, float("inf"))
    return _group_advantages(rewards, scale, eps)


def _group_advantages(rewards: Tensor, scale: str, eps: float) -> Tensor:
    """(r − group mean) / (std + ε) on a checked [B, G] tensor; all-equal rows give exactly 0."""
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if scale == "group":
        centred = centred / (rewards.std(dim=1, keepdim=True) + eps)
    elif scale == "batch":
        centred = centred / (rewards.std() + eps)
    flat = _zero_std_groups(rewards).unsqueeze(1)
    return torch.where(flat, torch.zeros_like(centred), centred)
