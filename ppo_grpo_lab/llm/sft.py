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

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from ..progress import tqdm

from .._checks import check_int
from ..device import resolve_device
from ..history import History
from .evaluation import accuracy
from .model import GPTConfig, TinyGPT
from .tokenizer import EOS, PAD, CharTokenizer

__all__ = ["SFTConfig", "demo_batch", "train_sft"]


@dataclass
class SFTConfig:
    """SFT warm-up settings.

    Attributes:
        steps: optimizer steps, 200–2000 (seconds on a CPU).
        batch_size: demonstrations per step, 64–512.
        lr: AdamW learning rate, 1e-3–3e-3 for this tiny model.
        error_rate: probability a demonstration carries the task's systematic mistake, 0–0.9.
        eval_every: evaluate held-out greedy accuracy every this many steps (0: only at the end).
        seed: seeds model init, data and sampling.
        device: "auto", "cpu" or "cuda".
        progress: show a tqdm bar.
    """

    steps: int = 600
    batch_size: int = 256
    lr: float = 2e-3
    error_rate: float = 0.5
    eval_every: int = 0
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self):
        check_int("steps", self.steps, 1)
        check_int("batch_size", self.batch_size, 1)
        if not self.lr > 0:
            raise ValueError(f"lr: expected a value > 0, got {self.lr}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate: expected a value in [0, 1], got {self.error_rate}")


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


def train_sft(task, tok: CharTokenizer, model_cfg: GPTConfig, cfg: SFTConfig, eval_problems=None):
    """Train a fresh :class:`TinyGPT` on demonstrations; returns ``(model, history)``.

    Metrics: ``loss/sft`` (the equation above), ``eval/accuracy`` (greedy, held-out),
    ``time/seconds``.
    """
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = TinyGPT(model_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1 - s / cfg.steps))
    hist, t0 = History(), time.perf_counter()
    for step in tqdm(range(1, cfg.steps + 1), desc="SFT", disable=not cfg.progress):
        seq, mask = demo_batch(task, tok, cfg.batch_size, rng, cfg.error_rate)
        seq, mask = seq.to(device), mask.to(device)
        logits, _ = model(seq[:, :-1])  # (B, T-1, V)
        nll = F.cross_entropy(logits.transpose(1, 2), seq[:, 1:], reduction="none")  # (B, T-1)
        loss = (nll * mask).sum() / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        rec = {"loss/sft": loss.item(), "time/seconds": time.perf_counter() - t0}
        if eval_problems is not None and ((cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps):
            rec["eval/accuracy"] = accuracy(model, task, tok, eval_problems)
        hist.log(step, rec)
    model.eval()
    return model, hist
