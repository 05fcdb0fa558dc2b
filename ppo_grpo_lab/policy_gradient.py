"""Per-token policy-gradient losses: the building blocks REINFORCE, PPO and GRPO are made of.

.. math::

    \\ell_t = -A\\,\\log\\pi_\\theta(a_t\\mid s_t)
    \\qquad\\text{(naive; its gradient is } -A\\,\\nabla_\\theta\\log\\pi_\\theta\\text{)}

    \\ell_t = -\\min\\big(r_t A,\\; \\operatorname{clip}(r_t, 1-\\varepsilon, 1+\\varepsilon_\\text{high}) A\\big),
    \\qquad r_t = \\exp(\\log\\pi_\\theta - \\log\\pi_{\\theta_\\text{old}})
    \\qquad\\text{(clipped)}

With ``A = R`` (the raw reward) the naive loss is REINFORCE without a baseline; with
``A = R − b`` (a group mean, a critic's V(s)) it has a baseline. Every function here returns
one loss per token, the shape of ``log_probs``, and reduces nothing: pair it with
:func:`~ppo_grpo_lab.aggregation.masked_mean`, :func:`~ppo_grpo_lab.aggregation.aggregate` or
:func:`~ppo_grpo_lab.aggregation.masked_normalize`.

:func:`policy_gradient_loss` picks a variant by name from :data:`PG_LOSSES`; the names are the
``loss_type`` values of Stanford CS336's GRPO assignment (``no_baseline``,
``reinforce_with_baseline``, ``grpo_clip``), so its students find them here.

Worked example: log π = log 0.5 = −0.693, A = 2 → ℓ = 1.386; with log π_old = log 0.25
(r = 2), ε = 0.2 and A = 2 the clipped loss is −min(4, 2.4) = −2.4.
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor

from ._checks import check_choice, check_clip_eps
from .surrogate import _clipped_objective, check_policy_inputs

__all__ = ["naive_policy_gradient_loss", "clipped_policy_gradient_loss", "policy_gradient_loss", "PG_LOSSES"]


def _naive_policy_gradient_loss(log_probs: Tensor, advantages: Tensor) -> Tensor:
    """−A · log π per element; A is a constant (detached). Inputs already checked."""
    return -advantages.detach() * log_probs


def naive_policy_gradient_loss(log_probs: Tensor, advantages: Tensor) -> Tensor:
    """Per-token ``−A · log π_θ``, no reduction.

    Args:
        log_probs: (Tensor, S) ``log π_θ(a|s)``, e.g. tokens [B, L]; differentiable.
        advantages: (Tensor, broadcastable to S) raw rewards (no baseline) or advantages
            (with a baseline), e.g. [B, 1] for one value per answer; treated as constant.

    Returns:
        (Tensor, S).
    """
    log_probs, _, advantages, _ = check_policy_inputs(log_probs, None, advantages)
    return _naive_policy_gradient_loss(log_probs, advantages)


def clipped_policy_gradient_loss(log_probs: Tensor, old_log_probs: Tensor, advantages: Tensor,
                                 clip_eps: float = 0.2, clip_eps_high: float | None = None) -> Tensor:
    """Per-token ``−min(r A, clip(r, 1 − ε, 1 + ε_high) A)``, no reduction (PPO's and GRPO's).

    Args:
        log_probs: (Tensor, S) ``log π_θ``, differentiable; old_log_probs: (Tensor, S) ``log π_θold``.
        advantages: (Tensor, broadcastable to S).
        clip_eps: ε > 0 (ε ≥ 1: the lower bound never binds); clip_eps_high: ε_high or None (= ε).

    Returns:
        (Tensor, S); its statistics come from :func:`ppo_grpo_lab.surrogate.clip_statistics`.
    """
    log_probs, old_log_probs, advantages, _ = check_policy_inputs(log_probs, old_log_probs, advantages)
    check_clip_eps(clip_eps, clip_eps_high)
    return -_clipped_objective(log_probs, old_log_probs, advantages, clip_eps, clip_eps_high)


def _required(name: str, value, loss_type: str):
    if value is None:
        raise ValueError(f"{name}: expected a tensor for loss_type={loss_type!r}, got None")
    return value


def _no_baseline(log_probs, rewards=None, advantages=None, old_log_probs=None, clip_eps=0.2, clip_eps_high=None):
    return naive_policy_gradient_loss(log_probs, _required("rewards", rewards, "no_baseline"))


def _with_baseline(log_probs, rewards=None, advantages=None, old_log_probs=None, clip_eps=0.2, clip_eps_high=None):
    return naive_policy_gradient_loss(log_probs, _required("advantages", advantages, "reinforce_with_baseline"))


def _clipped(log_probs, rewards=None, advantages=None, old_log_probs=None, clip_eps=0.2, clip_eps_high=None):
    return clipped_policy_gradient_loss(log_probs, _required("old_log_probs", old_log_probs, "grpo_clip"),
                                        _required("advantages", advantages, "grpo_clip"), clip_eps, clip_eps_high)


PG_LOSSES: dict[str, Callable[..., Tensor]] = {
    "no_baseline": _no_baseline,
    "reinforce_with_baseline": _with_baseline,
    "grpo_clip": _clipped,
}


def policy_gradient_loss(log_probs: Tensor, loss_type: str, rewards: Tensor | None = None,
                         advantages: Tensor | None = None, old_log_probs: Tensor | None = None,
                         clip_eps: float = 0.2, clip_eps_high: float | None = None) -> Tensor:
    """The per-token loss named ``loss_type`` (a key of :data:`PG_LOSSES`).

    Args:
        log_probs: (Tensor, S) ``log π_θ``, differentiable.
        loss_type: ``"no_baseline"`` (needs ``rewards``: ``−R log π``), ``"reinforce_with_baseline"``
            (needs ``advantages``: ``−A log π``) or ``"grpo_clip"`` (needs ``advantages`` and
            ``old_log_probs``: the clipped loss with ``clip_eps``/``clip_eps_high``).
        rewards, advantages: (Tensor, broadcastable to S, or None).
        old_log_probs: (Tensor, S, or None).

    Returns:
        (Tensor, S) per-token losses, no reduction.
    """
    check_choice("loss_type", loss_type, list(PG_LOSSES))
    return PG_LOSSES[loss_type](log_probs, rewards, advantages, old_log_probs, clip_eps, clip_eps_high)
