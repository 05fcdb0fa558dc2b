"""PPO's combined loss for actor and critic (Schulman et al., 2017, eq. 9).

.. math::

    L(\\theta, \\psi) = -L^{\\text{CLIP}}(\\theta) + c_1\\, L^{VF}(\\psi) - c_2\\, \\mathbb E_t\\big[H[\\pi_\\theta](s_t)\\big]

built from the package's core pieces and nothing else:
:func:`ppo_grpo_lab.clipped_surrogate` (``−L^CLIP``), :func:`ppo_grpo_lab.value_loss`
(``L^VF``, optionally clipped; no ½, so c1 = 0.5 here weighs the critic like CleanRL's
``vf_coef = 1.0``) and :func:`ppo_grpo_lab.entropy` (``H``). The inputs are checked once,
here; the three pieces run as their unchecked kernels.

Worked example (one sample): log π = log π_old (r = 1), A = 2, V = 3, V^targ = 1,
entropy 0.5, c1 = 0.5, c2 = 0.01: L = −2 + 0.5·4 − 0.01·0.5 = −0.005.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .._checks import as_tensor, check_clip_eps, check_range
from ..entropy import _entropy as _categorical_entropy
from ..entropy import entropy as categorical_entropy
from ..surrogate import _clipped_surrogate, check_policy_inputs
from ..value import _value_loss, check_value_inputs
from ..whitening import _masked_whiten

__all__ = ["ppo_loss", "normalize_advantages"]


def normalize_advantages(advantages: Tensor, eps: float = 1e-8) -> Tensor:
    """``(Â − mean(Â)) / (std(Â) + eps)`` over the minibatch, unbiased std; a single element is only centred.

    The package's one whitening convention, :func:`ppo_grpo_lab.whitening.masked_whiten` without a mask,
    run unchecked (the advantages come from :func:`ppo_grpo_lab.gae`, checked there; no host sync here).
    """
    return _masked_whiten(advantages, None, eps)


def ppo_loss(
    log_probs: Tensor,
    old_log_probs: Tensor,
    advantages: Tensor,
    values: Tensor,
    value_targets: Tensor,
    logits: Tensor | None = None,
    entropies: Tensor | None = None,
    old_values: Tensor | None = None,
    clip_eps: float = 0.2,
    vf_coef: float = 0.5,
    ent_coef: float = 0.01,
    vf_clip: float | None = None,
    check_finite: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    """``−L^CLIP + c1·L^VF − c2·H`` on one minibatch; pure (no state, no optimiser).

    Args:
        log_probs: (Tensor, [B]) log π_θ(a|s), differentiable.
        old_log_probs: (Tensor, [B]) log π_θold(a|s) from the rollout.
        advantages: (Tensor, [B]) Â (already normalised if wanted, see :func:`normalize_advantages`).
        values: (Tensor, [B]) V_ψ(s), differentiable.
        value_targets: (Tensor, [B]) V^targ (GAE's λ-returns).
        logits: (Tensor, [B, A]) actor logits, for a categorical policy's entropy; or
        entropies: (Tensor, [B]) per-sample entropies (e.g. of a Gaussian policy). Give exactly one.
        old_values: (Tensor, [B]) rollout-time values; required with ``vf_clip``.
        clip_eps: ε of the clipped surrogate.
        vf_coef: c1.
        ent_coef: c2.
        vf_clip: ε_v to clip the critic around ``old_values``, or None.
        check_finite: False skips the NaN/inf scans of the inputs (no host syncs) when they are tensors
            of one shape; the caller then checks the result and, if it is not finite, calls again with
            True to learn which input was (the trainer does, once per minibatch).

    Returns:
        ``(loss, stats)``: ``loss`` 0-d; ``stats`` (detached) holds ``loss/total``, ``loss/policy``,
        ``loss/value``, ``loss/entropy`` (= −mean H), ``stats/entropy``, ``stats/approx_kl``,
        ``stats/clip_frac`` and the other diagnostics of the two core losses.
    """
    if (logits is None) == (entropies is None):
        raise ValueError("ppo_loss: expected exactly one of logits ([B, A]) or entropies ([B]), got "
                         f"{'both' if logits is not None else 'neither'}")
    check_clip_eps(clip_eps)
    if check_finite or not _plain(log_probs, old_log_probs, advantages, values, value_targets, old_values,
                                  entropies, logits, vf_clip):
        log_probs, old_log_probs, advantages, values, value_targets, old_values, ent = _checked(
            log_probs, old_log_probs, advantages, values, value_targets, old_values, logits, entropies, vf_clip)
    else:  # the caller checks the result instead (no host sync here)
        ent = _categorical_entropy(logits) if logits is not None else entropies
    pg_loss, pg_stats = _clipped_surrogate(log_probs, old_log_probs, advantages, clip_eps, None, None)
    v_loss, v_stats = _value_loss(values, value_targets, old_values, vf_clip, None)
    mean_entropy = ent.mean()
    loss = pg_loss + vf_coef * v_loss - ent_coef * mean_entropy
    stats = {"loss/total": loss.detach(), **pg_stats, **v_stats,
             "loss/entropy": -mean_entropy.detach(), "stats/entropy": mean_entropy.detach()}
    return loss, stats


def _checked(log_probs, old_log_probs, advantages, values, value_targets, old_values, logits, entropies, vf_clip):
    """Every input of :func:`ppo_loss` checked (shapes, NaN/inf): the tensors, with the per-sample entropies."""
    log_probs, old_log_probs, advantages, _ = check_policy_inputs(log_probs, old_log_probs, advantages)
    values, value_targets, old_values, _ = check_value_inputs(values, value_targets, old_values, vf_clip)
    ent = categorical_entropy(logits) if logits is not None else as_tensor("entropies", entropies)
    if ent.shape != log_probs.shape:
        raise ValueError(f"entropies: expected shape {tuple(log_probs.shape)} (the shape of log_probs), "
                         f"got {tuple(ent.shape)}")
    return log_probs, old_log_probs, advantages, values, value_targets, old_values, ent


def _plain(log_probs, old_log_probs, advantages, values, value_targets, old_values, entropies, logits, vf_clip) -> bool:
    """True when the inputs need no conversion and no shape check: floating tensors of one shape [B]
    (logits [B, A]), and ``old_values`` given if ``vf_clip`` is (a valid ε_v). Anything else goes through
    :func:`_checked`, which names what is wrong.
    """
    if vf_clip is not None:
        if old_values is None:
            return False
        check_range("vf_clip", vf_clip, 0.0, float("inf"), low_open=True)
    if logits is not None and not (isinstance(logits, Tensor) and logits.ndim >= 1 and logits.shape[-1] >= 1):
        return False
    rows = None if logits is None else logits[..., 0]  # [B] for logits [B, A]
    given = [t for t in (log_probs, old_log_probs, advantages, values, value_targets, old_values, entropies, rows)
             if t is not None]
    return all(isinstance(t, Tensor) and t.is_floating_point() and t.shape == given[0].shape for t in given)


def explained_variance(predictions: Tensor, targets: Tensor) -> Tensor:
    """``1 − Var[targets − predictions] / Var[targets]`` (1 = perfect critic, 0 = no better than a constant;
    NaN when the targets are constant).
    """
    var_y = targets.var()
    return torch.where(var_y > 0, 1 - (targets - predictions).var() / var_y, torch.full_like(var_y, float("nan")))


__all__.append("explained_variance")
