"""The baselines of Part I, one registry: what is subtracted from each exam's score.

=========== ======================================================== =========
name        advantage A_i                                            chapter
=========== ======================================================== =========
``none``    :math:`r_i` (plain REINFORCE)                            1
``critic``  :math:`r_i - V_\\psi(s_i)`                                2–4
``group``   :math:`(r_i - \\bar r_g) / (\\sigma_g + \\varepsilon)`      5 (GRPO)
=========== ======================================================== =========

``group`` uses :func:`ppo_grpo_lab.group_advantages` on consecutive runs of G exams by the
same student, with its ``scale`` (``group`` / ``batch`` / ``none``). Used by the trainer
(:func:`~ppo_grpo_lab.bandit.trainer.train_bandit`) and by the gradient studies
(:func:`~ppo_grpo_lab.bandit.gradients.gradient_estimates`).
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor

from .._checks import check_choice
from ..group import group_advantages

__all__ = ["BASELINES", "baseline_advantages"]


def _none(rewards: Tensor, values: Tensor | None, group_size: int, adv_scale: str) -> Tensor:
    return rewards


def _critic(rewards: Tensor, values: Tensor | None, group_size: int, adv_scale: str) -> Tensor:
    if values is None:
        raise ValueError("values: expected V(s_i) for every exam with baseline='critic', got None")
    return rewards - values


def _group(rewards: Tensor, values: Tensor | None, group_size: int, adv_scale: str) -> Tensor:
    return group_advantages(rewards.reshape(-1, group_size), scale=adv_scale).reshape(rewards.shape)


BASELINES: dict[str, Callable[[Tensor, Tensor | None, int, str], Tensor]] = {
    "none": _none,
    "critic": _critic,
    "group": _group,
}


def baseline_advantages(baseline: str, rewards: Tensor, values: Tensor | None = None, group_size: int = 1,
                        adv_scale: str = "group") -> Tensor:
    """Advantages of a batch of exams under the named baseline.

    Args:
        baseline: ``"none"``, ``"critic"`` or ``"group"`` (a key of :data:`BASELINES`).
        rewards: (Tensor, [..., N]) scores; for ``"group"`` the last dimension holds runs of
            ``group_size`` exams by one student (N a multiple of G).
        values: (Tensor, shape of rewards) the critic's V(s_i) of each exam; needed for ``"critic"``.
        group_size: G >= 2 for ``"group"``.
        adv_scale: ``"group"``, ``"batch"`` or ``"none"``: the group baseline's scaling.

    Returns:
        (Tensor, shape of rewards). Example: rewards [1, 0], values [0.5, 0.5], ``"critic"`` → [0.5, −0.5].
    """
    check_choice("baseline", baseline, list(BASELINES))
    return BASELINES[baseline](rewards, values, group_size, adv_scale)
