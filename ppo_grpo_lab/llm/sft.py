"""Supervised fine-tuning (SFT) on imperfect demonstrations: the starting policy and π_ref.

The model learns to imitate demonstration answers with the usual next-token loss on
answer tokens only (prompt tokens are given, not predicted):

.. math::

    \\mathcal L_\\text{SFT}(\\theta) = -\\frac{1}{\\sum_i |o_i|}\\sum_i \\sum_{t} \\log \\pi_\\theta(o_{i,t} \\mid q_i, o_{i,<t})

Demonstrations come from the task's ``demo`` with an ``error_rate``: the model copies
the mistakes too, so it starts only partly competent, which is what RL then fixes.
The SFT model, frozen, is the reference policy π_ref of the KL penalty.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_int, check_range
from ..config import TrainerConfig
from .model import GPTConfig, TinyGPT
from .tokenizer import EOS, PAD, CharTokenizer
from .trainer import LMTrainer

__all__ = ["SFTConfig", "SFTTrainer", "demo_batch", "demo_error_rate", "train_sft"]


@dataclass(kw_only=True)
class SFTConfig(TrainerConfig):
    """SFT warm-up settings (shared fields ``seed``, ``device``, ``progress``: :class:`~ppo_grpo_lab.config.TrainerConfig`).

    Attributes:
        num_updates: optimizer steps, 200–2000 (seconds on a CPU). The default 1200 steps of 128 (about 40 s on
            one CPU core) is what every seed needs: 600 steps of 256, the same demonstrations in half the steps,
            left some seeds before they had learned digit-wise sums (addition seeds 2 and 11: held-out greedy
            accuracy 0.055 and 0.015), so the start, and what GRPO can do from it, varied with the seed.
        batch_size: demonstrations per step, 64–512.
        learning_rate: α, peak AdamW learning rate (warm-up over 50 steps, then linear decay), 1e-3–3e-3 here
            (3e-3: Countdown reaches 0.66 held-out greedy accuracy in 600 steps, seed 0).
        error_rate: probability a demonstration carries the task's systematic mistake, 0–0.9; None (the
            default) takes the task's ``demo_error_rate`` (addition 0.7: a start that forgets most carries,
            so greedy answers are consistently wrong on carry problems and GRPO has them to fix; countdown
            0.0: its mistake, a swapped operator, is noise that only slows learning).
        eval_every: held-out greedy accuracy every this many steps (0: only at the end).
    """

    ALIASES: ClassVar[dict[str, str]] = {"lr": "learning_rate", "steps": "num_updates"}

    num_updates: int = 1200
    batch_size: int = 128
    learning_rate: float = 3e-3
    error_rate: float | None = None
    eval_every: int = 0

    def __post_init__(self):
        super().__post_init__()
        check_int("num_updates", self.num_updates, 1)
        check_int("batch_size", self.batch_size, 1)
        check_range("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        if self.error_rate is not None:
            check_range("error_rate", self.error_rate, 0.0, 1.0)
        check_int("eval_every", self.eval_every, 0)


def demo_error_rate(task, config: SFTConfig) -> float:
    """``config.error_rate``, or the task's recommended ``demo_error_rate`` when it is None (0.0 if it has none)."""
    return config.error_rate if config.error_rate is not None else float(getattr(task, "demo_error_rate", 0.0))


def demo_batch(task, tok: CharTokenizer, n: int, rng: np.random.Generator, error_rate: float):
    """Training tokens for n demonstrations.

    Returns:
        ``(seq, target_mask)``: (LongTensor, [n, P + L]) BOS + prompt + answer + EOS + PAD,
        and (bool Tensor, [n, P + L - 1]) True where the next token is an answer token (EOS included).
    """
    problems = task.sample(n, rng, split="train")
    P = len(problems[0].prompt) + 1
    width = P + task.max_answer_len
    seq = torch.full((n, width), PAD, dtype=torch.long)
    for i, p in enumerate(problems):
        ids = tok.encode(p.prompt + task.demo(p, rng, error_rate), bos=True, eos=True)
        seq[i, :len(ids)] = torch.tensor(ids)
    target = seq[:, 1:]
    mask = torch.zeros_like(target, dtype=torch.bool)
    mask[:, P - 1:] = True
    is_eos = (target == EOS).long()
    mask &= (torch.cumsum(is_eos, 1) - is_eos) == 0  # up to and including EOS
    return seq, mask


class SFTTrainer(LMTrainer):
    """Train a fresh :class:`TinyGPT` on demonstrations (the starting policy and π_ref of the RL trainers).

    Args:
        task, tok, config, eval_problems: as in :class:`~ppo_grpo_lab.llm.trainer.LMTrainer`.
        model_config: the model's size (default: ``GPTConfig(vocab_size=tok.vocab_size)``).

    Metrics: ``loss/sft`` (the equation above), ``eval/accuracy`` (greedy, held-out), ``time/seconds``.
    """

    kind, config_class, report_memory, eval_at_start = "sft", SFTConfig, False, False

    def __init__(self, task, tok, config: SFTConfig | None = None, model_config: GPTConfig | None = None,
                 eval_problems=None):
        super().__init__(task, tok, config if config is not None else SFTConfig(), eval_problems)
        model_config = model_config if model_config is not None else GPTConfig(vocab_size=tok.vocab_size)
        self.error_rate = demo_error_rate(task, self.config)
        torch.manual_seed(self.config.seed)
        self.model = TinyGPT(model_config).to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.config.learning_rate, weight_decay=0.0)
        K = self.config.num_updates
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1 - s / K))

    def models(self):
        """The modules a checkpoint stores, by name."""
        return {"policy": self.model}

    def optimizers(self):
        """The optimisers a checkpoint stores, by name."""
        return {"policy": self.optimizer}

    def _extra_state(self):
        return {"scheduler": self.scheduler.state_dict()}

    def _set_extra_state(self, extra):
        self.scheduler.load_state_dict(extra["scheduler"])

    @classmethod
    def _from_checkpoint(cls, task, tok, config, model_cfg, eval_problems):
        return cls(task, tok, config, model_cfg, eval_problems)

    def _update(self):
        cfg, model = self.config, self.model
        model.train()
        seq, mask = demo_batch(self.task, self.tok, cfg.batch_size, self.rng, self.error_rate)
        seq, mask = seq.to(self.device), mask.to(self.device)
        logits, _ = model(seq[:, :-1])  # (B, T-1, V)
        nll = F.cross_entropy(logits.transpose(1, 2), seq[:, 1:], reduction="none")  # (B, T-1)
        loss = (nll * mask).sum() / mask.sum()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        model.eval()
        return {"loss/sft": loss.item()}


def train_sft(task, tok: CharTokenizer, model_cfg: GPTConfig, cfg: SFTConfig, eval_problems=None):
    """One-call SFT: ``SFTTrainer(task, tok, cfg, model_cfg, eval_problems).train()``; returns ``(model, history)``.

    Metrics: ``loss/sft`` (the equation above), ``eval/accuracy`` (greedy, held-out, at the end and every
    ``eval_every`` steps), ``time/seconds``.
    """
    trainer = SFTTrainer(task, tok, cfg, model_cfg, eval_problems)
    history = trainer.train()
    return trainer.model, history
