"""Drawn figures for the book: the PPO loop, what PPO and GRPO hold in memory, group normalisation.

Each function returns a :class:`matplotlib.figure.Figure` drawn from the package's own definitions
(the group-normalisation figure computes its advantages with
:func:`~ppo_grpo_lab.group.group_advantages`), so a figure cannot drift from the code it explains.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .group import group_advantages

__all__ = ["ppo_loop", "models_in_memory", "group_normalisation", "PPO_LOOP_STEPS"]

# (title, what happens, the package function that does it)
PPO_LOOP_STEPS = (
    ("1. rollout", "N envs × T steps with π_θold:\nobs, actions, log π_θold, rewards,\nterminated, truncated, V(s)",
     "ppo.rollout.collect_rollout"),
    ("2. advantages", "δ_t = r_t + γ V(s_t+1) − V(s_t)\nÂ_t = Σ_l (γλ)^l δ_t+l\nR̂_t = Â_t + V(s_t)",
     "ppo.rollout.compute_advantages → gae"),
    ("3. K epochs × minibatches", "ratio ρ = π_θ / π_θold\nclipped surrogate\n+ c_v value loss − c_e entropy\n"
     "one Adam step per minibatch", "ppo.loss.ppo_loss"),
    ("4. new policy", "θold ← θ\n(stop early if approx. KL > target)", "ppo.PPOTrainer.train"),
)


def _box(ax, xy, w, h, title, body, code, color):
    x, y = xy
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.04",
                                fc=color, ec="0.25", lw=1.2))
    ax.text(x + w / 2, y + h - 0.06, title, ha="center", va="top", fontsize=11, weight="bold")
    ax.text(x + w / 2, y + h / 2 - 0.02, body, ha="center", va="center", fontsize=8.5, linespacing=1.5)
    ax.text(x + w / 2, y + 0.04, code, ha="center", va="bottom", fontsize=8, family="monospace", color="0.3")


def _arrow(ax, a, b, text="", rad=0.0):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=16, lw=1.4, color="0.2",
                                 connectionstyle=f"arc3,rad={rad}"))
    if text:
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.05, text, ha="center", fontsize=8, color="0.3")


def ppo_loop() -> Figure:
    """The PPO loop: rollout → GAE → K epochs of minibatch updates → the new policy collects again."""
    fig, ax = plt.subplots(figsize=(12, 4.4))
    ax.set_xlim(0, 4.4)
    ax.set_ylim(-0.45, 1.2)
    ax.axis("off")
    colors = ("#dbe9f6", "#e5f2df", "#fde9d9", "#efe4f4")
    w, h = 0.95, 1.0
    for i, (title, body, code) in enumerate(PPO_LOOP_STEPS):
        _box(ax, (0.1 + i * 1.08, 0.1), w, h, title, body, code, colors[i])
        if i:
            _arrow(ax, (0.1 + i * 1.08 - 0.12, 0.6), (0.1 + i * 1.08 - 0.01, 0.6))
    _arrow(ax, (0.1 + 3 * 1.08 + w / 2, 0.08), (0.1 + w / 2, 0.08), rad=-0.12)
    ax.text(2.2, -0.3, "repeat until total_timesteps", ha="center", fontsize=9, color="0.3")
    ax.set_title("One PPO iteration (chapter 9): collect with the old policy, then reuse the batch K times",
                 fontsize=11)
    fig.tight_layout()
    return fig


def models_in_memory(policy_units: float = 1.0, adam_moments: int = 2) -> Figure:
    """What each method keeps in memory for a language model, in units of one policy's weights.

    A trainable model holds weights, gradients and ``adam_moments`` optimizer tensors (1 + 1 + 2 = 4
    units with Adam); a frozen one holds its weights only. PPO for LLMs (InstructGPT) keeps a policy, a
    critic of the same size, a frozen reference and a frozen reward model; GRPO drops the critic, and
    with a verifiable reward (code) the reward model too.
    """
    if policy_units <= 0 or adam_moments < 0:
        raise ValueError(f"policy_units: expected > 0 and adam_moments >= 0, got {policy_units}, {adam_moments}")
    trainable, frozen = (2 + adam_moments) * policy_units, policy_units
    methods = {
        "PPO (RLHF)": [("policy (trained)", trainable), ("critic (trained)", trainable),
                       ("reference (frozen)", frozen), ("reward model (frozen)", frozen)],
        "GRPO, reward model": [("policy (trained)", trainable), ("reference (frozen)", frozen),
                               ("reward model (frozen)", frozen)],
        "GRPO, verifiable reward": [("policy (trained)", trainable), ("reference (frozen)", frozen)],
    }
    colors = {"policy (trained)": "#4c72b0", "critic (trained)": "#dd8452", "reference (frozen)": "#8fbc8f",
              "reward model (frozen)": "#c44e52"}
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for row, (name, parts) in enumerate(methods.items()):
        left = 0.0
        for label, size in parts:
            ax.barh(row, size, left=left, color=colors[label], edgecolor="white",
                    label=label if row == 0 or label not in {p for p, _ in methods["PPO (RLHF)"]} else None)
            ax.text(left + size / 2, row, f"{size:g}", ha="center", va="center", color="white", fontsize=9)
            left += size
        ax.text(left + 0.15, row, f"= {left:g}", va="center", fontsize=10)
    ax.set_yticks(range(len(methods)), list(methods))
    ax.invert_yaxis()
    ax.set_xlabel("memory, in units of one copy of the policy's weights (Adam: weights + grads + 2 moments = 4)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def group_normalisation(rewards: Sequence[float], eps: float = 1e-4) -> Figure:
    """One question's G answers: rewards, their mean and std, and the advantages (r − mean) / (std + eps)."""
    import torch

    r = torch.as_tensor(list(rewards), dtype=torch.float32)
    if r.ndim != 1 or r.numel() < 2:
        raise ValueError(f"rewards: expected a 1-D sequence of G >= 2 rewards (one question), got shape {tuple(r.shape)}")
    adv = group_advantages(r[None], eps=eps)[0]
    mean, std = r.mean().item(), r.std().item()
    G = r.numel()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4), sharex=True)
    xs = range(1, G + 1)
    a1.bar(xs, r.tolist(), color="#4c72b0")
    a1.axhline(mean, color="k", ls="--", lw=1.2, label=f"group mean {mean:.2f}")
    a1.axhspan(mean - std, mean + std, color="0.85", zorder=0, label=f"± std {std:.2f} (Bessel)")
    a1.set_title("rewards of G answers to one question")
    a1.legend(fontsize=8, frameon=False)
    a2.bar(xs, adv.tolist(), color=["#55a868" if a > 0 else "#c44e52" for a in adv.tolist()])
    a2.axhline(0, color="k", lw=0.8)
    for x, a in zip(xs, adv.tolist()):
        a2.text(x, a, f"{a:+.2f}", ha="center", va="bottom" if a >= 0 else "top", fontsize=8)
    a2.set_title("advantages (r − mean) / (std + ε)")
    for a in (a1, a2):
        a.set_xlabel("answer i")
        a.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
