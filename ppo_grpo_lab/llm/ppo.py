"""PPO with a critic for the same language model (InstructGPT-style RLHF loop).

Tokens are time steps: state ``s_t = (q, o_<t)``, action ``o_t``. The KL to π_ref is folded
into the reward, and the task reward arrives at the last token:

.. math::

    \\tilde r_t = -\\beta\\big(\\log\\pi_\\text{old}(o_t\\mid s_t) - \\log\\pi_\\text{ref}(o_t\\mid s_t)\\big)
                 + \\mathbb 1[t = |o|]\\, r(q, o)

With ``token_reward_fn`` (process supervision) the task reward is spread over the answer instead,
e.g. each code-checked step's reward on the step's last token
(:func:`~ppo_grpo_lab.llm.process_hooks.process_token_rewards`); the KL term stays on every token:

.. math::

    \\tilde r_t = -\\beta\\big(\\log\\pi_\\text{old}(o_t\\mid s_t) - \\log\\pi_\\text{ref}(o_t\\mid s_t)\\big)
                 + \\sum_{j:\\ index(j) = t} r^{(j)}

A critic ``V_ψ(s_t)`` (a second transformer initialised from the SFT model, with a value
head) gives per-token GAE advantages with the package's :func:`~ppo_grpo_lab.gae.gae`:
rows ``[B, L]`` are transposed to time-major ``[L, B]``, the last real token is
``terminated`` (no bootstrap after the answer ends) and padding is masked out. The loss
is PPO's clipped surrogate plus ``c_v`` times the clipped value loss.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch

from .._checks import check_bool, check_int, check_range
from ..aggregation import masked_mean
from ..config import TrainerConfig
from ..gae import gae
from ..surrogate import clipped_surrogate
from ..value import value_loss
from ..whitening import masked_whiten
from .evaluation import prompts_tensor
from .grpo_batch import score_answers
from .memory import SavedTensorMeter
from .model import GPTConfig, TinyGPT
from .sampling import completion_log_probs, generate
from .trainer import LMTrainer, policy_and_reference

__all__ = ["PPOLMConfig", "PPOLMTrainer", "token_rewards", "token_gae", "ppo_lm_loss", "make_critic", "train_ppo_lm"]

_INF = float("inf")


@dataclass(kw_only=True)
class PPOLMConfig(TrainerConfig):
    """PPO-for-LM hyper-parameters (``seed``, ``device``, ``progress``: :class:`~ppo_grpo_lab.config.TrainerConfig`).

    Attributes:
        num_updates: outer iterations, 20–300 here.
        batch_size: answers sampled per step (one per question), 64–512.
        update_epochs: μ, PPO epochs over each batch, 1–4.
        clip_eps: ε of the policy ratio, 0.1–0.3 (>= 1: the lower bound never binds).
        value_clip_eps: clip of the value update around the old values, 0.1–0.5, or None (off).
        beta: β of the per-token KL penalty in the reward, 0–0.1.
        gamma: γ over tokens, usually 1.0 for short answers.
        gae_lambda: GAE λ, 0.9–1.0.
        vf_coef: c_v, weight of the value loss, 0.1–1.0.
        norm_adv: normalise advantages over the batch's real tokens (mean 0, unbiased std 1).
        temperature: τ for sampling, 0.7–1.2.
        learning_rate: α, policy learning rate (Adam), 1e-4–3e-4 here.
        critic_learning_rate: the critic's learning rate, 1e-4–1e-3.
        max_grad_norm: gradient-norm clip per model, 0.5–1.0.
        eval_every: as in :class:`~ppo_grpo_lab.llm.grpo_config.GRPOConfig`.
    """

    ALIASES: ClassVar[dict[str, str]] = {"lr": "learning_rate", "critic_lr": "critic_learning_rate",
                                         "mu": "update_epochs", "lam": "gae_lambda", "whiten": "norm_adv",
                                         "steps": "num_updates"}

    num_updates: int = 100
    batch_size: int = 128
    update_epochs: int = 2
    clip_eps: float = 0.2
    value_clip_eps: float | None = 0.2
    beta: float = 0.04
    gamma: float = 1.0
    gae_lambda: float = 0.95
    vf_coef: float = 0.5
    norm_adv: bool = True
    temperature: float = 1.0
    learning_rate: float = 2e-4
    critic_learning_rate: float = 1e-3
    max_grad_norm: float = 1.0
    eval_every: int = 10

    def __post_init__(self):
        super().__post_init__()
        for name in ("num_updates", "batch_size", "update_epochs"):
            check_int(name, getattr(self, name), 1)
        check_range("clip_eps", self.clip_eps, 0.0, _INF, low_open=True)
        if self.value_clip_eps is not None:
            check_range("value_clip_eps", self.value_clip_eps, 0.0, _INF, low_open=True)
        check_range("beta", self.beta, 0.0, _INF)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        for name in ("vf_coef", "temperature", "max_grad_norm"):
            check_range(name, getattr(self, name), 0.0, _INF, low_open=True)
        for name in ("learning_rate", "critic_learning_rate"):
            check_range(name, getattr(self, name), 0.0, 1.0, low_open=True)
        check_bool("norm_adv", self.norm_adv)
        check_int("eval_every", self.eval_every, 0)


def token_rewards(rewards, old_log_probs, ref_log_probs, mask, beta: float):
    """Per-token rewards ``r̃`` [B, L]: KL penalty on every real token, plus the task reward.

    Args:
        rewards: (Tensor, [B]) task rewards r(q, o), added on the last real token; or (Tensor, [B, L])
            per-token task rewards (e.g. step rewards on the steps' end tokens), added where the mask is True.
        old_log_probs, ref_log_probs: (Tensor, [B, L]).
        mask: (bool Tensor, [B, L]) real tokens; every row needs at least one.
        beta: β >= 0.
    """
    if mask.ndim != 2 or rewards.shape not in (mask.shape[:1], mask.shape):
        raise ValueError(f"rewards, mask: expected [B] or [B, L], and [B, L], got {tuple(rewards.shape)} and "
                         f"{tuple(mask.shape)}")
    lengths = mask.sum(1)
    if bool((lengths == 0).any()):
        raise ValueError("mask: expected at least one real token per row, got an empty row")
    r = -beta * (old_log_probs - ref_log_probs) * mask  # (B, L)
    if rewards.ndim == 2:
        return r + rewards.to(r.dtype) * mask
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


class PPOLMTrainer(LMTrainer):
    """PPO with a critic on a language model (one process), the twin of :class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer`.

    Args:
        task, tok, eval_problems: as in :class:`~ppo_grpo_lab.llm.trainer.LMTrainer`.
        config: a :class:`PPOLMConfig` (defaults if None).
        policy: the model to train in place; reference: the frozen π_ref (default: a copy of ``policy``);
        model_config: size of a fresh policy. The critic is :func:`make_critic` of the policy.
        reward_fn: a reward hook ``(problems, texts, finished) -> (Tensor, [B])`` used as the task reward r(q, o)
            instead of the checker (e.g. a learned reward model, :func:`~ppo_grpo_lab.llm.reward_model.reward_fn`);
            the checker is still logged as ``reward/gold``. Not saved in checkpoints.
        token_reward_fn: ``(problems, completions, mask) -> (Tensor, [B, L])`` per-token task rewards replacing
            the outcome reward on the last token (e.g. a closure over
            :func:`~ppo_grpo_lab.llm.process_hooks.process_token_rewards`); None: the outcome reward.
            Not saved in checkpoints.

    Metrics per step: ``reward/mean`` (the training reward), ``reward/accuracy``, ``reward/gold`` (the checker's
    reward), ``stats/kl_ref`` (mean per-token
    ``log π_old − log π_ref``, the k1 estimate used in the reward), ``completion/length``,
    the loss stats of the last inner step (``loss/policy``, ``loss/value``, ``stats/clip_frac``...),
    ``time/seconds``; with ``token_reward_fn``, ``reward/token_sum`` (mean over answers of the summed
    per-token task rewards); ``eval/accuracy`` every ``eval_every`` steps; ``memory/*`` and
    ``model/params`` (policy + critic + reference) at the end.
    """

    kind, config_class = "ppo_lm", PPOLMConfig

    def __init__(self, task, tok, config: PPOLMConfig | None = None, policy: TinyGPT | None = None,
                 reference: TinyGPT | None = None, model_config: GPTConfig | None = None, eval_problems=None,
                 reward_fn=None, token_reward_fn=None):
        super().__init__(task, tok, config if config is not None else PPOLMConfig(), eval_problems)
        cfg, self.reward_fn, self.token_reward_fn = self.config, reward_fn, token_reward_fn
        if self.world_size > 1:
            raise ValueError(f"PPOLMTrainer: expected one process, got {self.world_size} (use GRPOTrainer under torchrun)")
        self.model, self.reference = policy_and_reference(policy, reference, model_config, tok.vocab_size, cfg.seed,
                                                          self.device)
        self.critic = make_critic(self.model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.learning_rate)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_learning_rate)
        self.meter = SavedTensorMeter([self.model, self.critic, self.reference])

    def models(self):
        """The modules a checkpoint stores, by name."""
        return {"policy": self.model, "critic": self.critic, "reference": self.reference}

    def optimizers(self):
        """The optimisers a checkpoint stores, by name."""
        return {"policy": self.optimizer, "critic": self.critic_optimizer}

    @classmethod
    def _from_checkpoint(cls, task, tok, config, model_cfg, eval_problems):
        return cls(task, tok, config, TinyGPT(model_cfg), TinyGPT(model_cfg), eval_problems=eval_problems)

    def _update(self):
        cfg, task, tok, dev = self.config, self.task, self.tok, self.device
        policy, critic = self.model, self.critic
        problems = task.sample(cfg.batch_size, self.rng, "train")
        prompts = prompts_tensor(tok, problems, dev)  # (B, P)
        completions, mask = generate(policy, prompts, task.max_answer_len, cfg.temperature, self.generator)  # (B, L)
        rewards, gold, correct = self._scores(problems, completions)  # (B,) each
        extra = {}
        task_r = rewards.to(dev)  # (B,) on the last token, or (B, L) from the hook
        if self.token_reward_fn is not None:
            task_r = self.token_reward_fn(problems, completions, mask).to(dev)
            extra["reward/token_sum"] = (task_r * mask).sum(1).mean()
        with torch.no_grad():
            old_lp = completion_log_probs(policy, prompts, completions)["log_probs"]
            ref_lp = completion_log_probs(self.reference, prompts, completions)["log_probs"]
            old_v = completion_log_probs(critic, prompts, completions, with_values=True)["values"]
            r_tok = token_rewards(task_r, old_lp, ref_lp, mask, cfg.beta)
            adv, ret = token_gae(r_tok, old_v, mask, cfg.gamma, cfg.gae_lambda)
            if cfg.norm_adv:  # mean and unbiased std over the real tokens; padding stays 0
                adv = masked_whiten(adv, mask)
        for _ in range(cfg.update_epochs):
            with self.meter.measure():
                lp = completion_log_probs(policy, prompts, completions)["log_probs"]
                v = completion_log_probs(critic, prompts, completions, with_values=True)["values"]
                loss, stats = ppo_lm_loss(lp, old_lp, adv, v, old_v, ret, mask, cfg.clip_eps,
                                          cfg.value_clip_eps, cfg.vf_coef)
            self.optimizer.zero_grad(set_to_none=True)
            self.critic_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
            torch.nn.utils.clip_grad_norm_(critic.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            self.critic_optimizer.step()
        return {**stats, "reward/mean": rewards.mean(), "reward/accuracy": correct.float().mean(),
                "reward/gold": gold.mean(),
                "stats/kl_ref": masked_mean(old_lp - ref_lp, mask), "completion/length": mask.sum(1).float().mean(),
                **extra}

    # ------------------------------------------------------------- the reward hook (a learned reward, chapter 14)
    def _scores(self, problems, completions):
        """``(rewards, gold, correct)`` [B]: the hook's reward (else the checker's), the checker's, correctness."""
        return score_answers(self.task, self.tok, problems, completions.cpu(), self.reward_fn)



def train_ppo_lm(policy, ref_model, task, tok, cfg: PPOLMConfig, eval_problems=None, reward_fn=None,
                 token_reward_fn=None):
    """Train ``policy`` in place with PPO and a critic against the frozen ``ref_model``; returns the History.

    The one-call form of ``PPOLMTrainer(task, tok, cfg, policy, ref_model, eval_problems=...,
    token_reward_fn=...).train()``; the metrics are listed on :class:`PPOLMTrainer`.
    """
    return PPOLMTrainer(task, tok, cfg, policy=policy, reference=ref_model, eval_problems=eval_problems,
                        reward_fn=reward_fn, token_reward_fn=token_reward_fn).train()
