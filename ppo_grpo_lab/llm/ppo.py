"""PPO with a critic for the same language model (InstructGPT-style RLHF loop).

Tokens are time steps: state ``s_t = (q, o_<t)``, action ``o_t``. The KL to π_ref is folded
into the reward, and the task reward arrives at the last token:

.. math::

    \\tilde r_t = -\\beta\\big(\\log\\pi_\\text{old}(o_t\\mid s_t) - \\log\\pi_\\text{ref}(o_t\\mid s_t)\\big)
                 + \\mathbb 1[t = |o|]\\, r(q, o)

A critic ``V_ψ(s_t)`` (a second transformer initialised from the SFT model, with a value
head) gives per-token GAE advantages with the package's :func:`~ppo_grpo_lab.gae.gae`:
rows ``[B, L]`` are transposed to time-major ``[L, B]``, the last real token is
``terminated`` (no bootstrap after the answer ends) and padding is masked out. The loss
is PPO's clipped surrogate plus ``c_v`` times the clipped value loss.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from ..progress import tqdm

from .._checks import check_int
from ..aggregation import masked_mean
from ..device import resolve_device
from ..gae import gae
from ..history import History
from ..surrogate import clipped_surrogate
from ..value import value_loss
from .evaluation import accuracy, prompts_tensor, score
from .memory import SavedTensorMeter, state_bytes
from .model import TinyGPT
from .sampling import completion_log_probs, generate

__all__ = ["PPOLMConfig", "token_rewards", "token_gae", "ppo_lm_loss", "make_critic", "train_ppo_lm"]


@dataclass
class PPOLMConfig:
    """PPO-for-LM hyper-parameters.

    Attributes:
        steps: outer iterations, 20–300 here.
        batch_size: answers sampled per step (one per question), 64–512.
        mu: PPO epochs over each batch, 1–4.
        clip_eps: ε of the policy ratio, 0.1–0.3.
        value_clip_eps: clip of the value update around the old values, 0.1–0.5, or None.
        beta: β of the per-token KL penalty in the reward, 0–0.1.
        gamma: γ over tokens, usually 1.0 for short answers.
        lam: GAE λ, 0.9–1.0.
        vf_coef: c_v, weight of the value loss, 0.1–1.0.
        whiten: normalise advantages over the batch's real tokens (mean 0, std 1).
        temperature: τ for sampling, 0.7–1.2.
        lr: policy learning rate (Adam), 1e-4–3e-4 here.
        critic_lr: critic learning rate, 1e-4–1e-3.
        max_grad_norm: gradient-norm clip per model, 0.5–1.0.
        eval_every, seed, device, progress: as in :class:`~ppo_grpo_lab.llm.grpo.GRPOConfig`.
    """

    steps: int = 100
    batch_size: int = 128
    mu: int = 2
    clip_eps: float = 0.2
    value_clip_eps: float | None = 0.2
    beta: float = 0.04
    gamma: float = 1.0
    lam: float = 0.95
    vf_coef: float = 0.5
    whiten: bool = True
    temperature: float = 1.0
    lr: float = 2e-4
    critic_lr: float = 1e-3
    max_grad_norm: float = 1.0
    eval_every: int = 10
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self):
        for name in ("steps", "batch_size", "mu"):
            check_int(name, getattr(self, name), 1)
        if not 0.0 < self.clip_eps < 1.0:
            raise ValueError(f"clip_eps: expected ε in (0, 1), typically 0.2, got {self.clip_eps}")
        if self.value_clip_eps is not None and not self.value_clip_eps > 0:
            raise ValueError(f"value_clip_eps: expected a value > 0 or None, got {self.value_clip_eps}")
        if self.beta < 0:
            raise ValueError(f"beta: expected β >= 0, got {self.beta}")
        for name in ("gamma", "lam"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a value in [0, 1], got {getattr(self, name)}")
        for name in ("vf_coef", "temperature", "lr", "critic_lr", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected a value > 0, got {getattr(self, name)}")


def token_rewards(rewards, old_log_probs, ref_log_probs, mask, beta: float):
    """Per-token rewards ``r̃`` [B, L]: KL penalty on every real token, task reward on the last one.

    Args:
        rewards: (Tensor, [B]) task rewards r(q, o).
        old_log_probs, ref_log_probs: (Tensor, [B, L]).
        mask: (bool Tensor, [B, L]) real tokens; every row needs at least one.
        beta: β >= 0.
    """
    if mask.ndim != 2 or rewards.shape != mask.shape[:1]:
        raise ValueError(f"rewards, mask: expected [B] and [B, L], got {tuple(rewards.shape)} and {tuple(mask.shape)}")
    lengths = mask.sum(1)
    if bool((lengths == 0).any()):
        raise ValueError("mask: expected at least one real token per row, got an empty row")
    r = -beta * (old_log_probs - ref_log_probs) * mask  # (B, L)
    r = r.clone()
    r[torch.arange(len(rewards), device=r.device), lengths - 1] += rewards.to(r.dtype)
    return r


def token_gae(token_r, values, mask, gamma: float = 1.0, lam: float = 0.95):
    """GAE over tokens with the package's time-major :func:`gae`.

    Args:
        token_r: (Tensor, [B, L]) per-token rewards; values: (Tensor, [B, L]) ``V(s_t)``; mask: (bool, [B, L]).

    Returns:
        ``(advantages, returns)``, (Tensor, [B, L]) each, zero on padding.
    """
    B, L = mask.shape
    last = mask.sum(1) - 1  # (B,) index of the last real token (EOS)
    terminated = torch.arange(L, device=mask.device)[None, :] >= last[:, None]  # (B, L): the answer is over
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)  # (B, L) V(s_{t+1})
    adv, ret = gae(token_r.T, values.T, next_values.T, terminated.T, gamma=gamma, lam=lam)  # (L, B) time-major
    return adv.T * mask, ret.T * mask


def ppo_lm_loss(log_probs, old_log_probs, advantages, values, old_values, returns, mask,
                clip_eps: float = 0.2, value_clip_eps: float | None = 0.2, vf_coef: float = 0.5):
    """``L = −L^CLIP + c_v L^VF`` over real tokens (all tensors [B, L]); returns ``(loss, stats)``."""
    pl, pstats = clipped_surrogate(log_probs, old_log_probs, advantages, clip_eps, mask=mask)
    vl, vstats = value_loss(values, returns, old_values, value_clip_eps, mask)
    loss = pl + vf_coef * vl
    return loss, {**pstats, **vstats, "loss/total": loss.detach()}


def make_critic(policy: TinyGPT) -> TinyGPT:
    """A critic: a copy of ``policy``'s transformer with a fresh scalar value head."""
    critic = TinyGPT(policy.cfg, with_value_head=True).to(next(policy.parameters()).device)
    critic.load_state_dict(copy.deepcopy(policy.state_dict()), strict=False)
    torch.nn.init.zeros_(critic.value_head.weight)
    return critic


def train_ppo_lm(policy, ref_model, task, tok, cfg: PPOLMConfig, eval_problems=None) -> History:
    """Train ``policy`` in place with PPO and a critic against the frozen ``ref_model``.

    Metrics per step: ``reward/mean``, ``reward/accuracy``, ``stats/kl_ref`` (mean per-token
    ``log π_old − log π_ref``, the k1 estimate used in the reward), ``completion/length``,
    the loss stats of the last inner step (``loss/policy``, ``loss/value``, ``stats/clip_frac``...),
    ``time/seconds``; ``eval/accuracy`` every ``eval_every`` steps; ``memory/*`` and
    ``model/params`` (policy + critic + reference) at the end.
    """
    device = resolve_device(cfg.device)
    policy.to(device).train()
    ref_model.to(device).eval()  # frozen: only ever called under torch.no_grad()
    critic = make_critic(policy)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    opt_pi = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    opt_v = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
    meter, hist, t0 = SavedTensorMeter([policy, critic, ref_model]), History(), time.perf_counter()
    if eval_problems is not None:
        hist.log(0, {"eval/accuracy": accuracy(policy, task, tok, eval_problems), "time/seconds": 0.0})
    for step in tqdm(range(1, cfg.steps + 1), desc="PPO", disable=not cfg.progress):
        problems = task.sample(cfg.batch_size, rng, "train")
        prompts = prompts_tensor(tok, problems, device)  # (B, P)
        completions, mask = generate(policy, prompts, task.max_answer_len, cfg.temperature, gen)  # (B, L)
        rewards, correct = score(task, tok, problems, completions.cpu())
        with torch.no_grad():
            old_lp = completion_log_probs(policy, prompts, completions)["log_probs"]
            ref_lp = completion_log_probs(ref_model, prompts, completions)["log_probs"]
            old_v = completion_log_probs(critic, prompts, completions, with_values=True)["values"]
            r_tok = token_rewards(rewards.to(device), old_lp, ref_lp, mask, cfg.beta)
            adv, ret = token_gae(r_tok, old_v, mask, cfg.gamma, cfg.lam)
            if cfg.whiten:
                mu_a = masked_mean(adv, mask)
                sd_a = masked_mean((adv - mu_a) ** 2, mask).sqrt()
                adv = (adv - mu_a) / (sd_a + 1e-8) * mask
        for _ in range(cfg.mu):
            with meter.measure():
                lp = completion_log_probs(policy, prompts, completions)["log_probs"]
                v = completion_log_probs(critic, prompts, completions, with_values=True)["values"]
                loss, stats = ppo_lm_loss(lp, old_lp, adv, v, old_v, ret, mask, cfg.clip_eps,
                                          cfg.value_clip_eps, cfg.vf_coef)
            opt_pi.zero_grad(set_to_none=True)
            opt_v.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
            torch.nn.utils.clip_grad_norm_(critic.parameters(), cfg.max_grad_norm)
            opt_pi.step()
            opt_v.step()
        rec = {**stats, "reward/mean": rewards.mean(), "reward/accuracy": correct.float().mean(),
               "stats/kl_ref": masked_mean(old_lp - ref_lp, mask),
               "completion/length": mask.sum(1).float().mean(), "time/seconds": time.perf_counter() - t0}
        if eval_problems is not None and ((cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps):
            rec["eval/accuracy"] = accuracy(policy, task, tok, eval_problems)
        if step == cfg.steps:
            rec["memory/state_mb"] = state_bytes([policy, critic, ref_model], [opt_pi, opt_v]) / 2**20
            rec["memory/activations_mb"] = meter.peak / 2**20
            rec["model/params"] = sum(m.num_params() for m in (policy, critic, ref_model))
        hist.log(step, rec)
    return hist
