"""GRPO's hyper-parameters: :class:`GRPOConfig` (the trainer is :class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer`).

Kept apart from the trainer so that each module stays one concept; ``from ppo_grpo_lab.llm.grpo import
GRPOConfig`` and ``ppo_grpo_lab.llm.GRPOConfig`` name the same class.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .._checks import check_choice, check_int, check_range
from ..aggregation import AGGREGATIONS
from ..config import TrainerConfig
from ..group import SCALES

__all__ = ["GRPOConfig"]

_INF = float("inf")


@dataclass(kw_only=True)
class GRPOConfig(TrainerConfig):
    """GRPO hyper-parameters (symbols as in the objective above; ``seed``, ``device``, ``progress``
    from :class:`~ppo_grpo_lab.config.TrainerConfig`).

    Attributes:
        num_updates: outer iterations (sample a batch, then μ updates), 20–300 here.
        batch_size: answers per step, B·G (B questions × G answers); must be a multiple of G. 64–512.
        group_size: G, answers per question, 4–16 (DeepSeekMath: 64).
        update_epochs: μ, optimisation steps on each batch, 1–4 (1: the ratio is exactly 1, no clipping).
        clip_eps: ε (ε_low), 0.1–0.3; values >= 1 are allowed (the lower bound 1 − ε then never binds).
        clip_eps_high: ε_high, None for symmetric; DAPO uses 0.28 with ε = 0.2.
        beta: β, weight of the k3 KL to π_ref, 0–0.1 (DeepSeekMath 0.04; 0 drops π_ref).
        aggregation: token aggregation, one of :data:`~ppo_grpo_lab.aggregation.AGGREGATIONS`.
        adv_scale: advantage scaling, ``group`` (GRPO) / ``batch`` / ``none`` (Dr. GRPO).
        temperature: τ for sampling answers, 0.7–1.2.
        learning_rate: α, Adam's step size, 1e-5–3e-4 for this tiny model (real LLMs use ~1e-6). Adam moves
            every weight by about α per step whatever the gradient's scale: 1e-3 collapses the policy within
            2 updates here (see :mod:`~ppo_grpo_lab.llm.watchdog`); from ``SFTConfig()``'s start, 1e-4 raised
            held-out accuracy on addition and Countdown for each seed tried, while 2e-4 lost Countdown accuracy
            and 3e-5 moved too little in 100 updates.
        max_grad_norm: gradient-norm clip, 0.5–1.0.
        eval_every: held-out greedy accuracy every this many steps (and at steps 0 and last); 0: only those.
        dynamic_sampling: DAPO's dynamic sampling: train only on groups whose rewards are not all equal,
            sampling more rounds of B questions to refill the batch (:mod:`~ppo_grpo_lab.llm.grpo_batch`).
        max_resample_rounds: extra rounds at most per update with ``dynamic_sampling`` (0–8); when the cap is
            hit, the batch is topped up with zero-spread groups (advantage 0).
        share_prefixes: a speed switch for a TinyGPT policy (default off): each question's prompt runs once
            and its keys and values serve its G answers, and each distinct (prompt, answer so far) runs once,
            in sampling and in the policy/reference log-prob passes (``share_prefixes`` of
            :func:`~ppo_grpo_lab.llm.sampling.generate` and :func:`~ppo_grpo_lab.llm.sampling.completion_log_probs`).
            With μ = 1 and no dynamic sampling it also keeps the policy's graph from sampling and runs π_ref
            beside it on the same prefixes (:func:`~ppo_grpo_lab.llm.rollout.sample_with_log_probs`), so both
            log-prob passes are left out and finished answers stop running; Adam runs as one fused kernel
            (``fused=True``). The same function computed on fewer rows and in another order: results change
            only at float rounding (~1e-6), which can flip a sampled token and so move a run's numbers; the
            chapters' numbers are those with it off. A step then takes ~0.5× the CPU time of a default one,
            0.26–0.28× TRL's (medians of three runs on quiet machines; chapter 11's model, seeds 11–13;
            benchmarks/README.md §5). A ``transformers`` policy raises a ValueError.
    """

    ALIASES: ClassVar[dict[str, str]] = {"lr": "learning_rate", "mu": "update_epochs", "steps": "num_updates",
                                         "scale": "adv_scale"}

    num_updates: int = 100
    batch_size: int = 128
    group_size: int = 8
    update_epochs: int = 1
    clip_eps: float = 0.2
    clip_eps_high: float | None = None
    beta: float = 0.04
    aggregation: str = "grpo"
    adv_scale: str = "group"
    temperature: float = 1.0
    learning_rate: float = 1e-4
    max_grad_norm: float = 1.0
    eval_every: int = 10
    dynamic_sampling: bool = False
    max_resample_rounds: int = 4
    share_prefixes: bool = False

    def __post_init__(self):
        super().__post_init__()
        for name in ("num_updates", "batch_size", "update_epochs"):
            check_int(name, getattr(self, name), 1)
        check_int("group_size", self.group_size, 2, " (a group needs a mean to compare with)", symbol="G")
        if self.batch_size % self.group_size:
            lo = max(self.group_size, self.batch_size - self.batch_size % self.group_size)
            raise ValueError(f"batch_size: expected a multiple of group_size={self.group_size}, got {self.batch_size}; "
                             f"use {lo} or {lo + self.group_size}")
        check_range("clip_eps", self.clip_eps, 0.0, _INF, low_open=True)
        if self.clip_eps_high is not None:
            check_range("clip_eps_high", self.clip_eps_high, 0.0, _INF, low_open=True)
        check_range("beta", self.beta, 0.0, _INF)
        check_choice("aggregation", self.aggregation, list(AGGREGATIONS))
        check_choice("adv_scale", self.adv_scale, list(SCALES))
        check_range("temperature", self.temperature, 0.0, _INF, low_open=True)
        check_range("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        check_range("max_grad_norm", self.max_grad_norm, 0.0, _INF, low_open=True)
        check_int("eval_every", self.eval_every, 0)
        check_int("max_resample_rounds", self.max_resample_rounds, 0)
        if not isinstance(self.share_prefixes, bool):
            raise ValueError(f"share_prefixes: expected True or False, got {self.share_prefixes!r}")
