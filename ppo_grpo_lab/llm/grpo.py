"""GRPO for a language model: G answers per question, the group mean as the baseline.

DeepSeekMath's objective (Shao et al. 2024), maximised:

.. math::

    J(\\theta) = \\mathbb E\\Big[\\frac1G\\sum_{i=1}^G \\frac{1}{|o_i|}\\sum_{t=1}^{|o_i|}
       \\Big\\{\\min\\big(r_{i,t}\\hat A_i,\\ \\operatorname{clip}(r_{i,t}, 1-\\varepsilon, 1+\\varepsilon_\\text{high})\\hat A_i\\big)
       - \\beta\\, k_3\\big(\\pi_\\theta, \\pi_\\text{ref}\\big)_{i,t}\\Big\\}\\Big],
    \\qquad \\hat A_i = \\frac{r_i - \\operatorname{mean}(r_{1..G})}{\\operatorname{std}(r_{1..G}) + \\epsilon}

with ``r_{i,t} = π_θ(o_{i,t}|q, o_{i,<t}) / π_θold(o_{i,t}|q, o_{i,<t})``. The ``1/G · 1/|o_i|``
averaging is the ``grpo`` aggregation; ``dr_grpo`` and ``dapo`` replace it (see
:mod:`ppo_grpo_lab.aggregation`). :func:`grpo_loss` is the pure loss; :func:`train_grpo`
only orchestrates sampling, scoring and μ optimisation steps per batch.

Several processes (``torchrun --nproc_per_node R``, or ``torch.distributed`` initialised): each
rank answers B/R of the B questions (all G answers of a question stay on one rank), drawing the
same random numbers as one process would, and the ranks sum their weighted gradients, so R
processes take the same steps as one (up to float32 rounding; tested with gloo, R = 2). Rewards,
advantages and the logged metrics are global; ``memory/*`` is per rank; every rank computes
``eval/accuracy`` (same weights, same value); only rank 0 shows the progress bar. One caveat of
the comparison, not of the method: a parameter whose true gradient is exactly zero (the attention
keys' bias) receives Adam steps of size ~lr driven by rounding noise, so it can differ between
one and two processes without changing the model's outputs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from ..progress import tqdm

from .._checks import check_int
from ..aggregation import AGGREGATIONS, masked_mean
from ..device import resolve_device
from ..group import SCALES, group_advantages, zero_std_groups
from ..history import History
from .evaluation import accuracy, prompts_tensor, score
from .grpo_loss import grpo_loss
from .memory import SavedTensorMeter, state_bytes
from .sampling import completion_log_probs, generate
from .. import distributed as ddp

__all__ = ["GRPOConfig", "train_grpo"]


@dataclass
class GRPOConfig:
    """GRPO hyper-parameters (symbols as in the objective above).

    Attributes:
        steps: outer iterations (sample a batch, then μ updates), 20–300 here.
        batch_size: answers per step, B·G (B questions × G answers); must be a multiple of G. 64–512.
        group_size: G, answers per question, 4–16 (DeepSeekMath: 64).
        mu: μ, optimisation steps on each batch, 1–4 (1: the ratio is exactly 1, no clipping).
        clip_eps: ε (ε_low), 0.1–0.3.
        clip_eps_high: ε_high, None for symmetric; DAPO uses 0.28 with ε = 0.2.
        beta: β, weight of the k3 KL to π_ref, 0–0.1 (DeepSeekMath 0.04; 0 drops π_ref).
        aggregation: token aggregation, one of ``grpo`` / ``dr_grpo`` / ``dapo``.
        scale: advantage scaling, ``group`` (GRPO) / ``batch`` / ``none`` (Dr. GRPO).
        temperature: τ for sampling answers, 0.7–1.2.
        lr: Adam learning rate, 1e-4–3e-3 (tiny model; real LLMs use ~1e-6).
        max_grad_norm: gradient-norm clip, 0.5–1.0.
        eval_every: held-out greedy accuracy every this many steps (and at steps 0 and last).
        seed: seeds the prompt stream and sampling.
        device: "auto", "cpu" or "cuda".
        progress: show a tqdm bar.
    """

    steps: int = 100
    batch_size: int = 128
    group_size: int = 8
    mu: int = 1
    clip_eps: float = 0.2
    clip_eps_high: float | None = None
    beta: float = 0.04
    aggregation: str = "grpo"
    scale: str = "group"
    temperature: float = 1.0
    lr: float = 1e-3
    max_grad_norm: float = 1.0
    eval_every: int = 10
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self):
        for name in ("steps", "batch_size", "mu"):
            check_int(name, getattr(self, name), 1)
        check_int("group_size", self.group_size, 2, " (a group needs a mean to compare with)", symbol="G")
        if self.batch_size % self.group_size:
            lo = max(self.group_size, self.batch_size - self.batch_size % self.group_size)
            raise ValueError(f"batch_size: expected a multiple of group_size={self.group_size}, got {self.batch_size}; "
                             f"use {lo} or {lo + self.group_size}")
        if not 0.0 < self.clip_eps < 1.0:
            raise ValueError(f"clip_eps: expected ε in (0, 1), typically 0.2, got {self.clip_eps}")
        if self.clip_eps_high is not None and not self.clip_eps_high > 0:
            raise ValueError(f"clip_eps_high: expected ε_high > 0 or None, got {self.clip_eps_high}")
        if self.beta < 0:
            raise ValueError(f"beta: expected β >= 0 (0 disables the KL term), got {self.beta}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation: expected one of {list(AGGREGATIONS)}, got {self.aggregation!r}")
        if self.scale not in SCALES:
            raise ValueError(f"scale: expected one of {list(SCALES)}, got {self.scale!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature: expected τ > 0 for sampling, got {self.temperature}")
        if not self.lr > 0 or not self.max_grad_norm > 0:
            raise ValueError(f"lr, max_grad_norm: expected values > 0, got {self.lr} and {self.max_grad_norm}")
        if self.eval_every < 0:
            raise ValueError(f"eval_every: expected an integer >= 0, got {self.eval_every}")


def train_grpo(policy, ref_model, task, tok, cfg: GRPOConfig, eval_problems=None) -> History:
    """Train ``policy`` in place with GRPO against the frozen ``ref_model``; returns a :class:`History`.

    Metrics per step: ``reward/mean``, ``reward/std`` (over the B·G answers), ``reward/accuracy``
    (sampled answers correct), ``stats/zero_std_frac`` (groups with all-equal rewards: no signal),
    ``completion/length`` (mean tokens incl. EOS), ``stats/entropy`` (mean per-token entropy),
    the loss stats of the last inner step (:func:`grpo_loss`), ``stats/grad_norm``,
    ``time/seconds``; ``eval/accuracy`` (greedy, held-out) every ``eval_every`` steps;
    ``memory/state_mb``, ``memory/activations_mb`` (see :mod:`~ppo_grpo_lab.llm.memory`) and
    ``model/params`` (policy + reference) at the end.
    """
    rank, R, device = ddp.setup(resolve_device(cfg.device))
    G, n_q = cfg.group_size, cfg.batch_size // cfg.group_size
    if n_q % R:
        raise ValueError(f"batch_size: expected batch_size/group_size = {n_q} questions to split evenly over {R} "
                         f"processes, got batch_size={cfg.batch_size}; use a multiple of {R * G}")
    k, q0 = n_q // R, rank * (n_q // R)  # this rank's questions: q0 … q0+k−1
    policy.to(device).train()
    ref_model.to(device).eval()  # frozen: only ever called under torch.no_grad()
    if R > 1:  # every rank starts from rank 0's weights
        for model in (policy, ref_model):
            for p in model.parameters():
                torch.distributed.broadcast(p.data, src=0)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    meter, hist, t0 = SavedTensorMeter([policy, ref_model]), History(), time.perf_counter()
    if eval_problems is not None:
        hist.log(0, {"eval/accuracy": accuracy(policy, task, tok, eval_problems), "time/seconds": 0.0})
    for step in tqdm(range(1, cfg.steps + 1), desc="GRPO", disable=not cfg.progress or rank != 0):
        questions = task.sample(n_q, rng, "train")[q0:q0 + k]  # every rank draws all B, keeps its share
        problems = [p for p in questions for _ in range(G)]  # each question G times
        prompts = prompts_tensor(tok, problems, device)  # (B·G, P) (this rank's k·G rows)
        completions, mask = generate(policy, prompts, task.max_answer_len, cfg.temperature, gen,
                                     shard=None if R == 1 else (q0 * G, n_q * G))  # (B·G, L)
        rewards, correct = score(task, tok, problems, completions.cpu())
        lengths = mask.sum(1).float()  # (B·G,)
        if R > 1:  # everyone sees all B·G rewards: group and batch statistics are global
            rewards = ddp.all_gather_cat(rewards.to(device), 0).cpu()
            correct = ddp.all_gather_cat(correct.to(device, torch.uint8), 0).cpu().bool()
            lengths = ddp.all_gather_cat(lengths, 0)
        rewards_bg = rewards.view(n_q, G)  # (B, G)
        advantages = group_advantages(rewards_bg, scale=cfg.scale).view(-1)[q0 * G:(q0 + k) * G].to(device)
        with torch.no_grad():
            old_lp = completion_log_probs(policy, prompts, completions)["log_probs"]
            ref_lp = completion_log_probs(ref_model, prompts, completions)["log_probs"] if cfg.beta > 0 else old_lp
        for it in range(cfg.mu):
            with meter.measure():
                out = completion_log_probs(policy, prompts, completions, with_entropy=it == 0)
                loss, stats = grpo_loss(out["log_probs"], old_lp, ref_lp, advantages, mask, cfg.clip_eps,
                                        cfg.clip_eps_high, cfg.beta, cfg.aggregation)
            if it == 0:
                ent = masked_mean(out["entropy"].detach(), mask)
            opt.zero_grad(set_to_none=True)
            if R == 1:
                loss.backward()
            else:
                ent, stats = _backward_and_sum(policy, loss, stats, ent, mask, cfg.aggregation, R, it == 0)
            grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
            opt.step()
        rec = {**stats, "reward/mean": rewards.mean(), "reward/std": rewards.std(),
               "reward/accuracy": correct.float().mean(),
               "stats/zero_std_frac": zero_std_groups(rewards_bg).float().mean(),
               "completion/length": lengths.mean(), "stats/entropy": ent,
               "stats/grad_norm": grad_norm, "time/seconds": time.perf_counter() - t0}
        if eval_problems is not None and ((cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps):
            rec["eval/accuracy"] = accuracy(policy, task, tok, eval_problems)
        if step == cfg.steps:
            rec["memory/state_mb"] = state_bytes([policy, ref_model], [opt]) / 2**20
            rec["memory/activations_mb"] = meter.peak / 2**20
            rec["model/params"] = policy.num_params() + ref_model.num_params()
        hist.log(step, rec)
    return hist


def _backward_and_sum(policy, loss, stats, ent, mask, aggregation: str, R: int, sum_entropy: bool):
    """Backward this rank's weighted loss and sum gradients and statistics over the R ranks.

    With equal shares of questions the global ``grpo`` and ``dr_grpo`` losses are the mean of the
    ranks' losses (weight 1/R); ``dapo`` (a mean over all tokens) and the token statistics weight
    each rank by its share of the tokens, n_tok_r / Σ n_tok.
    """
    n_tok = mask.sum().to(loss.dtype)
    total = ddp.all_reduce_sum(n_tok.detach().clone().reshape(1))[0]
    w_tok = n_tok / total
    w = w_tok if aggregation == "dapo" else torch.tensor(1.0 / R, dtype=loss.dtype, device=loss.device)
    (loss * w).backward()
    params = [p for p in policy.parameters() if p.grad is not None]  # the same set on every rank
    keys = sorted(stats)
    weights = torch.stack([w if key == "loss/policy" else w_tok for key in keys])
    flat = torch.cat([p.grad.reshape(-1) for p in params]
                     + [torch.stack([stats[key] for key in keys]).to(loss.dtype) * weights,
                        (ent * w_tok).reshape(1).to(loss.dtype)])
    ddp.all_reduce_sum(flat)
    i = 0
    for p in params:
        p.grad = flat[i:i + p.numel()].view_as(p).clone()
        i += p.numel()
    stats = dict(zip(keys, flat[i:i + len(keys)].clone()))
    return (flat[-1].clone() if sum_entropy else ent), stats
