"""A collapse watchdog for the RL trainers: reward gone, KL to π_ref exploding, no signal left.

A step size too large for the loss scale (the classic case: Adam's learning rate) can throw the
policy out of the region where its samples are ever rewarded. Then, within a few updates, the
batch reward falls to about 0, every group of G answers has equal rewards (no advantage, no
gradient signal: ``stats/zero_std_frac`` → 1) and the policy drifts far from π_ref
(``stats/kl_ref`` of order 1 nat per token or more). It does not recover on its own.
:func:`is_collapsed` tests one update's metrics for that pattern; the trainers log
``watchdog/collapse`` (0 or 1) every update and warn once, with :data:`COLLAPSE_HINT`.
"""
from __future__ import annotations

__all__ = ["COLLAPSE_HINT", "is_collapsed", "collapse_message"]

COLLAPSE_HINT = ("the policy collapsed (reward fell to ~0, KL to the reference exploded, groups have no reward "
                 "spread); likely fix: lower learning_rate (e.g. halve it; 1e-4 is a safe start for this model), "
                 "keep max_grad_norm, or raise beta")


def is_collapsed(reward_mean: float, reward_start: float, kl_ref: float, zero_std_frac: float, *,
                 drop: float = 0.2, kl_limit: float = 0.5, flat: float = 0.8) -> bool:
    """True when ``reward_mean < drop · reward_start`` (the reward fell to a fraction of its first value),
    ``kl_ref > kl_limit`` (nats per token) and ``zero_std_frac >= flat`` (almost no group has spread).

    A run whose reward started at 0 is not "collapsed" (it never had a signal to lose).

    Example:
        >>> is_collapsed(0.0, 0.41, 3.05, 1.0), is_collapsed(0.5, 0.41, 0.1, 0.1)
        (True, False)
    """
    return reward_start > 0 and reward_mean < drop * reward_start and kl_ref > kl_limit and zero_std_frac >= flat


def collapse_message(method: str, update: int, config) -> str:
    """The warning a trainer gives once: where it collapsed, the hint, and the current step-size settings."""
    return (f"{method} update {update}: {COLLAPSE_HINT} (now learning_rate {config.learning_rate:g}, "
            f"beta {config.beta:g})")
