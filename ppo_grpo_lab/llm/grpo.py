"""GRPO for a language model: G answers per question, the group mean as the baseline.

DeepSeekMath's objective (Shao et al. 2024), maximised:

.. math::

    J(\\theta) = \\mathbb E\\Big[\\frac1G\\sum_{i=1}^G \\frac{1}{|o_i|}\\sum_{t=1}^{|o_i|}
       \\Big\\{\\min\\big(r_{i,t}\\hat A_i,\\ \\operatorname{clip}(r_{i,t}, 1-\\varepsilon, 1+\\varepsilon_\\text{high})\\hat A_i\\big)
       - \\beta\\, k_3\\big(\\pi_\\theta, \\pi_\\text{ref}\\big)_{i,t}\\Big\\}\\Big],
    \\qquad \\hat A_i = \\frac{r_i - \\operatorname{mean}(r_{1..G})}{\\operatorname{std}(r_{1..G}) + \\epsilon}

with ``r_{i,t} = π_θ(o_{i,t}|q, o_{i,<t}) / π_θold(o_{i,t}|q, o_{i,<t})``. The ``1/G · 1/|o_i|``
averaging is the ``grpo`` aggregation; ``dr_grpo`` and ``dapo`` replace it (see
:mod:`ppo_grpo_lab.aggregation`). :func:`grpo_loss` is the pure loss; :class:`GRPOTrainer` only orchestrates sampling, scoring and
μ optimisation steps per batch (:func:`train_grpo` is its one-call form).

Several processes (``torchrun --nproc_per_node R``, or ``torch.distributed`` initialised): each
rank answers B/R of the B questions (all G answers of a question stay on one rank), drawing the
same random numbers as one process would, and the ranks sum their weighted gradients, so R
processes take the same steps as one (up to float32 rounding; tested with gloo, R = 2). Rewards,
advantages and the logged metrics are global; ``memory/*`` is per rank; every rank computes
``eval/accuracy`` (same weights, same value); only rank 0 shows the progress bar and writes checkpoints. The same code runs for
R = 1, where every collective is a no-op. One caveat of
the comparison, not of the method: a parameter whose true gradient is exactly zero (the attention
keys' bias) receives Adam steps of size ~lr driven by rounding noise, so it can differ between
one and two processes without changing the model's outputs.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import ClassVar

import torch

from .. import distributed as ddp
from ..aggregation import masked_mean
from ..group import group_advantages
from .grpo_batch import collect_groups, hook_advantages
from .grpo_config import GRPOConfig
from .grpo_loss import grpo_loss
from .memory import SavedTensorMeter
from .model import GPTConfig, TinyGPT
from .sampling import completion_log_probs
from .sft import SFTConfig, SFTTrainer
from .trainer import LMTrainer, policy_and_reference
from .watchdog import collapse_message, is_collapsed

__all__ = ["GRPOConfig", "GRPOTrainer", "train_grpo"]


class GRPOTrainer(LMTrainer):
    """GRPO on a language model, the twin of :class:`~ppo_grpo_lab.ppo.PPOTrainer`.

    Args:
        task, tok, eval_problems: as in :class:`~ppo_grpo_lab.llm.trainer.LMTrainer` (``tok`` may be a ``transformers`` one).
        config: a :class:`GRPOConfig` (defaults if None).
        policy: the model to train in place, a TinyGPT or any ``transformers`` causal LM (:mod:`~ppo_grpo_lab.llm.hf_lm`).
        reference: the frozen π_ref (default: a copy of ``policy`` as it is now).
        model_config: size of a fresh policy.
        reward_fn: a reward hook ``(problems, texts, finished) -> (Tensor, [N])`` used as the training reward
            instead of the task's checker (e.g. :func:`~ppo_grpo_lab.llm.reward_model.reward_fn`); None: the checker.
        advantage_fn: ``(problems, completions, mask, rewards) -> (Tensor, [N, L])`` per-token advantages
            replacing the group advantage (e.g. :func:`~ppo_grpo_lab.llm.process_hooks.process_advantage_fn`).
            It receives this process's N = k·G rows (whole groups, G consecutive rows per question; all B·G
            with one process) and their training rewards (Tensor, [N]). None: ``group_advantages``.
            Hooks are not saved in checkpoints: set ``trainer.reward_fn``/``advantage_fn`` again after :meth:`load`.

    Metrics per step: ``reward/mean``, ``reward/std`` (training reward over the answers sampled in the
    update: B·G, more with dynamic sampling), ``reward/accuracy`` (sampled answers correct), ``reward/gold``
    (mean of the task's checker; equals ``reward/mean`` without ``reward_fn``) and ``reward/gold_accuracy``
    (= ``reward/accuracy``), ``stats/zero_std_frac`` (sampled groups with all-equal rewards: no signal, before
    any filtering), ``stats/batch_zero_std_frac`` (the same in the trained batch), ``stats/resample_rounds``,
    ``completion/length`` (mean tokens incl. EOS), ``stats/entropy`` (mean per-token entropy),
    the loss stats of the last inner step (:func:`grpo_loss`), ``stats/grad_norm``,
    ``watchdog/collapse`` (1 when :func:`~ppo_grpo_lab.llm.watchdog.is_collapsed`), ``time/seconds``;
    ``eval/accuracy`` (greedy, held-out) every ``eval_every`` steps; ``memory/state_mb``,
    ``memory/activations_mb`` (see :mod:`~ppo_grpo_lab.llm.memory`) and ``model/params``
    (policy + reference) at the end.

    Example:
        >>> trainer = GRPOTrainer.from_sft(AdditionTask(), CharTokenizer(), config=GRPOConfig(num_updates=50))
        >>> trainer.train(); trainer.save("grpo.pt")
        >>> trainer = GRPOTrainer.load("grpo.pt", AdditionTask(), CharTokenizer(), num_updates=100)
        >>> trainer.train()   # updates 51..100, exactly as one run of 100 would have taken them
    """

    kind, config_class = "grpo", GRPOConfig
    reuse_policy_log_probs: ClassVar[bool] = True  # μ = 1: no separate π_θold pass (False: the unoptimised path)
    measure_kl_ref: ClassVar[bool] = False  # True: stats/kl_ref measured at β = 0 too (one more π_ref pass)

    def __init__(self, task, tok, config: GRPOConfig | None = None, policy: TinyGPT | None = None,
                 reference: TinyGPT | None = None, model_config: GPTConfig | None = None, eval_problems=None,
                 reward_fn=None, advantage_fn=None):
        super().__init__(task, tok, config if config is not None else GRPOConfig(), eval_problems)
        self.reward_fn, self.advantage_fn = reward_fn, advantage_fn
        cfg, R = self.config, self.world_size
        n_q = cfg.batch_size // cfg.group_size
        if n_q % R:
            raise ValueError(f"batch_size: expected batch_size/group_size = {n_q} questions to split evenly over {R} "
                             f"processes, got batch_size={cfg.batch_size}; use a multiple of {R * cfg.group_size}")
        self.q_local = n_q // R  # this rank's questions: q0 … q0+q_local−1
        self.q0 = self.rank * self.q_local
        self.model, self.reference = policy_and_reference(policy, reference, model_config, tok.vocab_size, cfg.seed,
                                                          self.device)
        if cfg.share_prefixes and not all(isinstance(m, TinyGPT) for m in (self.model, self.reference)):
            raise ValueError(f"share_prefixes: expected a TinyGPT policy and reference, got {type(self.model).__name__} "
                             f"and {type(self.reference).__name__}; use share_prefixes=False")
        for module in (self.model, self.reference):  # every rank starts from rank 0's weights
            ddp.broadcast_module(module)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.learning_rate,  # share_prefixes: one
                                          fused=True if cfg.share_prefixes else None)  # fused kernel, not a loop
        self.meter = SavedTensorMeter([self.model, self.reference])
        self._params = list(self.model.parameters())  # read once (each step clips and reduces their gradients)
        self.reward_start: float | None = None  # reward/mean of the first update (the watchdog's yardstick)
        self.collapsed_at: int | None = None  # first update the watchdog flagged
        self.sft_history = None

    @classmethod
    def from_sft(cls, task, tok, sft_config: SFTConfig | None = None, config: GRPOConfig | None = None,
                 model_config: GPTConfig | None = None, eval_problems=None, reward_fn=None,
                 advantage_fn=None) -> "GRPOTrainer":
        """Warm-start: train a fresh model with SFT (:class:`~ppo_grpo_lab.llm.sft.SFTTrainer`), then GRPO from
        it against a frozen copy of it (π_ref). The SFT run's History is ``sft_history``; the GRPO History
        starts with ``sft/final_loss`` at step 0. ``sft_config`` defaults to ``SFTConfig()`` with this
        config's ``seed``, ``device`` and ``progress``.
        """
        config = config if config is not None else GRPOConfig()
        if sft_config is None:
            sft_config = SFTConfig(seed=config.seed, device=config.device, progress=config.progress)
        sft = SFTTrainer(task, tok, sft_config, model_config, eval_problems)
        sft.train()
        trainer = cls(task, tok, config, policy=sft.model, eval_problems=eval_problems, reward_fn=reward_fn,
                      advantage_fn=advantage_fn)
        trainer.sft_history = sft.history
        trainer.history.log(0, {"sft/final_loss": sft.history.last("loss/sft")})
        return trainer

    def models(self):
        """The modules a checkpoint stores, by name."""
        return {"policy": self.model, "reference": self.reference}

    def optimizers(self):
        """The optimisers a checkpoint stores, by name."""
        return {"policy": self.optimizer}

    @classmethod
    def _from_checkpoint(cls, task, tok, config, model_cfg, eval_problems):
        return cls(task, tok, config, TinyGPT(model_cfg), TinyGPT(model_cfg), eval_problems=eval_problems)

    def _extra_state(self):
        return {"reward_start": self.reward_start, "collapsed_at": self.collapsed_at}

    def _set_extra_state(self, extra):
        self.reward_start, self.collapsed_at = extra["reward_start"], extra["collapsed_at"]
        for group in self.optimizer.param_groups:  # Adam's kernel follows this config, not the saved one
            group["fused"] = True if self.config.share_prefixes else None

    @property
    def collapse_message(self) -> str | None:
        """A sentence for logs and summaries when the watchdog fired, else None."""
        if self.collapsed_at is None:
            return None
        return collapse_message("GRPO", self.collapsed_at, self.config)

    def _update(self):
        cfg, G, k, q0 = self.config, self.config.group_size, self.q_local, self.q0
        batch = collect_groups(self)  # this rank's rows; rewards of all B groups [B, G]
        seqs, kw = (batch.prompts, batch.completions), {"prompt_mask": batch.prompt_mask,
                                                         "share_prefixes": cfg.share_prefixes}
        advantages = (group_advantages(batch.rewards, scale=cfg.adv_scale).view(-1)[q0 * G:(q0 + k) * G]
                      if self.advantage_fn is None else hook_advantages(self.advantage_fn, batch, q0, k)).to(self.device)
        with torch.no_grad():  # μ = 1: π_θold is π_θ, its log-probs are the policy pass's, detached (in _optimise)
            old_lp = (completion_log_probs(self.model, *seqs, **kw)["log_probs"]  # (k·G, L)
                      if cfg.update_epochs > 1 or not self.reuse_policy_log_probs else None)
            ref_lp = (completion_log_probs(self.reference, *seqs, **kw)["log_probs"]
                      if (cfg.beta > 0 or self.measure_kl_ref) and batch.rollout is None else None)
        if batch.rollout is not None and cfg.beta > 0:
            ref_lp = batch.rollout["ref_log_probs"]  # kept from sampling
        stats, ent, grad_norm = self._optimise(batch, advantages, old_lp, ref_lp, 0)
        for it in range(1, cfg.update_epochs):  # μ > 1: the entropy is that of the first pass
            stats, _, grad_norm = self._optimise(batch, advantages, old_lp, ref_lp, it)
        rec = {**stats, **batch.metrics(), "stats/entropy": ent, "stats/grad_norm": grad_norm}
        rec["watchdog/collapse"] = float(self._watch(rec))
        return rec

    def _optimise(self, batch, advantages, old_lp, ref_lp, it: int):
        """One gradient step on this rank's rows; gradients and statistics are summed over the R ranks.

        With equal shares of questions the global ``grpo``, ``bnpo`` and ``dr_grpo`` losses are the mean of
        the ranks' losses (weight 1/R); ``dapo`` (a mean over all tokens of all ranks) and the token
        statistics weight each rank by its share of the tokens, n_tok_r / Σ n_tok. R = 1: both weights are 1.
        """
        cfg, mask = self.config, batch.mask
        kept = it == 0 and batch.rollout is not None  # the policy's pass was measured while sampling
        with contextlib.nullcontext() if kept else self.meter.measure():
            out = batch.rollout if kept else completion_log_probs(
                self.model, batch.prompts, batch.completions, with_entropy=it == 0, prompt_mask=batch.prompt_mask,
                share_prefixes=cfg.share_prefixes)
            old = out["log_probs"].detach() if old_lp is None else old_lp  # None: μ = 1, the ratio is exactly 1
            loss, stats = grpo_loss(out["log_probs"], old, ref_lp, advantages, mask, cfg.clip_eps,
                                    cfg.clip_eps_high, cfg.beta, cfg.aggregation)
        ent = masked_mean(out["entropy"].detach(), mask) if it == 0 else torch.zeros((), device=loss.device)
        n_tok = mask.sum().to(loss.dtype)
        w_tok = n_tok / ddp.all_reduce_sum(n_tok.detach().clone().reshape(1))[0]
        w = w_tok if cfg.aggregation == "dapo" else torch.tensor(1.0 / self.world_size, dtype=loss.dtype,
                                                                  device=loss.device)
        self.optimizer.zero_grad(set_to_none=True)
        (loss * w).backward()
        keys = sorted(stats)
        weights = torch.stack([w if key == "loss/policy" else w_tok for key in keys])
        extra = torch.cat([torch.stack([stats[key] for key in keys]).to(loss.dtype) * weights,
                           (ent * w_tok).reshape(1).to(loss.dtype)])
        summed = ddp.all_reduce_grads(self._params, extra)  # one all-reduce: gradients + statistics
        grad_norm = torch.nn.utils.clip_grad_norm_(self._params, cfg.max_grad_norm)
        self.optimizer.step()
        return dict(zip(keys, summed[:-1])), summed[-1], grad_norm

    def samples_with_graph(self) -> bool:
        """True when sampling keeps the policy's graph and π_ref's log-probs (:mod:`~ppo_grpo_lab.llm.rollout`):
        ``share_prefixes`` with μ = 1, no dynamic sampling and no extra π_ref pass asked for at β = 0.
        """
        cfg = self.config
        return (cfg.share_prefixes and cfg.update_epochs == 1 and not cfg.dynamic_sampling
                and self.reuse_policy_log_probs and not (cfg.beta == 0 and self.measure_kl_ref))

    def _watch(self, rec) -> bool:
        """The collapse watchdog (:func:`~ppo_grpo_lab.llm.watchdog.is_collapsed`); warns once."""
        reward = float(rec["reward/mean"])
        if self.reward_start is None:
            self.reward_start = reward
        hit = is_collapsed(reward, self.reward_start, float(rec["stats/kl_ref"]), float(rec["stats/zero_std_frac"]))
        if hit and self.collapsed_at is None:
            self.collapsed_at = self.step + 1
            if self.rank == 0:
                warnings.warn(self.collapse_message, RuntimeWarning, stacklevel=3)
        return hit


def train_grpo(policy, ref_model, task, tok, cfg: GRPOConfig, eval_problems=None, reward_fn=None, advantage_fn=None):
    """Train ``policy`` in place with GRPO against the frozen ``ref_model``; returns the History.

    The one-call form of ``GRPOTrainer(task, tok, cfg, policy, ref_model, eval_problems=...).train()``;
    the metrics are listed on :class:`GRPOTrainer`.
    """
    return GRPOTrainer(task, tok, cfg, policy=policy, reference=ref_model, eval_problems=eval_problems,
                       reward_fn=reward_fn, advantage_fn=advantage_fn).train()
