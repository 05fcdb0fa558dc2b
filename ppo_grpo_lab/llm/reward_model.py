"""A learned reward model: the toy transformer with a scalar head, trained on preference pairs.

The reward model reads the whole sequence ``BOS q o EOS`` and gives one number, the value head
of :class:`~ppo_grpo_lab.llm.model.TinyGPT` at the last real token of the answer (EOS when the
answer has one), which has seen every token before it:

.. math::

    r_\\phi(q, o) = w^\\top \\operatorname{LN}(h^L_{|q| + |o|})

Trained on pairs ``(q, o^+, o^-)`` where a labeller preferred ``o^+``, with the Bradley–Terry
model ``P(o^+ \\succ o^-) = \\sigma(r_\\phi(q, o^+) - r_\\phi(q, o^-))`` and its negative
log-likelihood (InstructGPT, Ouyang et al. 2022):

.. math::

    \\mathcal L_\\text{BT}(\\phi) = -\\operatorname{mean}\\ \\log \\sigma\\big(r_\\phi(q, o^+) - r_\\phi(q, o^-)\\big)

Worked example: margins [2, 0, −1] → losses [0.127, 0.693, 1.313], mean 0.711; pairwise
accuracy (ties count one half) (1 + 0.5 + 0) / 3 = 0.5.

Only differences of rewards are learned: adding a constant to r_φ changes nothing.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import as_bool_mask, as_tensor, check_finite, check_int, check_ndim, check_range, check_same_shape
from ..config import TrainerConfig
from ..device import resolve_device
from ..history import History
from ..progress import tqdm
from .evaluation import prompts_tensor
from .model import GPTConfig, TinyGPT
from .sampling import completion_mask
from .tokenizer import PAD

__all__ = ["RewardModel", "bradley_terry_loss", "RewardModelConfig", "pairwise_accuracy", "train_reward_model",
           "reward_fn"]


def bradley_terry_loss(r_chosen: Tensor, r_rejected: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Bradley–Terry loss ``−mean log σ(r⁺ − r⁻)`` of preference pairs.

    Args:
        r_chosen: (Tensor, [N]) rewards of the preferred answers.
        r_rejected: (Tensor, [N]) rewards of the other answers.

    Returns:
        ``(loss, stats)``: the scalar loss (``softplus(−(r⁺ − r⁻))``, stable for large margins) and
        ``loss/bradley_terry`` (detached), ``stats/accuracy`` (share of pairs with r⁺ > r⁻, ties ½),
        ``stats/margin`` (mean of r⁺ − r⁻).
    """
    r_chosen, r_rejected = as_tensor("r_chosen", r_chosen), as_tensor("r_rejected", r_rejected)
    check_ndim("r_chosen", r_chosen, 1, "[N] (one reward per pair)")
    check_same_shape("r_chosen", r_chosen, r_rejected=r_rejected)
    if r_chosen.numel() == 0:
        raise ValueError("r_chosen: expected at least one pair, got N = 0")
    check_finite(r_chosen=r_chosen, r_rejected=r_rejected)
    margin = r_chosen - r_rejected  # (N,)
    loss = F.softplus(-margin).mean()
    with torch.no_grad():
        acc = (margin > 0).float() + 0.5 * (margin == 0).float()
        stats = {"loss/bradley_terry": loss.detach(), "stats/accuracy": acc.mean(), "stats/margin": margin.mean()}
    return loss, stats


class RewardModel(nn.Module):
    """A scalar reward per (prompt, answer): TinyGPT's trunk and value head, read at the last real token.

    Args:
        cfg: the transformer's :class:`GPTConfig` (``block_size`` >= prompt + answer length).
        init_from: a language model (e.g. the SFT policy) whose transformer weights initialise the
            trunk, as InstructGPT initialises its reward model from the SFT model; None: random init.

    The head starts at zero, so an untrained model scores every answer 0. The trunk's unused
    ``lm_head`` stays in the module (it makes ``init_from`` a plain ``load_state_dict``).
    """

    def __init__(self, cfg: GPTConfig, init_from: TinyGPT | None = None):
        super().__init__()
        self.trunk = TinyGPT(cfg, with_value_head=True)
        if init_from is not None:
            if init_from.cfg != cfg:
                raise ValueError(f"init_from: expected a model with config {cfg}, got {init_from.cfg}")
            self.trunk.load_state_dict(copy.deepcopy(init_from.state_dict()), strict=False)
        nn.init.zeros_(self.trunk.value_head.weight)
        nn.init.zeros_(self.trunk.value_head.bias)

    @property
    def cfg(self) -> GPTConfig:
        """The trunk's :class:`GPTConfig`."""
        return self.trunk.cfg

    def forward(self, prompts: Tensor, completions: Tensor, mask: Tensor | None = None) -> Tensor:
        """Rewards ``r_φ(q, o)`` [B].

        Args:
            prompts: (LongTensor, [B, P]) BOS + prompt.
            completions: (LongTensor, [B, L]) answers (EOS, then PAD).
            mask: (bool Tensor, [B, L]) real answer tokens, EOS included; None: computed by
                :func:`~ppo_grpo_lab.llm.sampling.completion_mask`.

        Returns:
            (Tensor, [B]) the value head at token ``P + |o| − 1`` (the EOS, or the last token of an
            answer without EOS); an empty mask row reads the last prompt token.
        """
        check_ndim("prompts", prompts, 2, "[B, P]")
        check_ndim("completions", completions, 2, "[B, L]")
        if prompts.shape[0] != completions.shape[0]:
            raise ValueError(f"prompts, completions: expected the same B, got {tuple(prompts.shape)} and "
                             f"{tuple(completions.shape)}")
        mask = completion_mask(completions) if mask is None else as_bool_mask("mask", mask)
        check_same_shape("completions", completions, mask=mask)
        seq = torch.cat([prompts, completions], dim=1)  # (B, P + L)
        h, _ = self.trunk.hidden(seq)  # (B, P + L, d)
        last = prompts.shape[1] + mask.sum(1) - 1  # (B,) index of the last real token
        h_last = h[torch.arange(seq.shape[0], device=seq.device), last]  # (B, d)
        return self.trunk.value_head(h_last).squeeze(-1)  # (B,)


@dataclass(kw_only=True)
class RewardModelConfig(TrainerConfig):
    """Reward-model training settings.

    Attributes:
        num_updates: Adam steps, 100–1000 (each on ``batch_size`` pairs drawn without replacement per epoch).
        batch_size: pairs per step, 32–256.
        learning_rate: α, 3e-4–3e-3 for this tiny model.
        weight_decay: AdamW decay, 0–0.1 (a little helps a model trained on few pairs).
        max_grad_norm: gradient-norm clip, 0.5–1.0.
        eval_every: held-out pairwise accuracies every this many steps (and at the last), 0: only at the last.
    """

    num_updates: int = 300
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    eval_every: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("num_updates", self.num_updates, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("eval_every", self.eval_every, 0)
        check_range("learning_rate", self.learning_rate, 0.0, float("inf"), low_open=True)
        check_range("weight_decay", self.weight_decay, 0.0, float("inf"))
        check_range("max_grad_norm", self.max_grad_norm, 0.0, float("inf"), low_open=True)


@torch.no_grad()
def pairwise_accuracy(rm: RewardModel, tok, pairs, max_len: int, labeller=None) -> dict[str, float]:
    """Held-out pairwise accuracies of ``rm`` (ties count ½).

    Returns:
        ``label``: share of pairs where ``r(chosen) > r(rejected)`` (agreement with the labeller);
        ``gold``: among pairs with one correct and one wrong answer, share where the correct one
        scores higher (agreement with the task's checker; NaN if there is no such pair);
        with a ``labeller``, ``surface``: among pairs whose surface scores differ, share where the
        answer with the higher surface score scores higher (how much of the flaw the model learned).
    """
    device = next(rm.parameters()).device
    prompts, chosen, rejected = (t.to(device) for t in pairs.tensors(tok, max_len))
    was_training = rm.training
    rm.eval()
    margin = (rm(prompts, chosen) - rm(prompts, rejected)).cpu()  # (N,)
    rm.train(was_training)
    win = (margin > 0).float() + 0.5 * (margin == 0).float()
    mixed = pairs.chosen_correct != pairs.rejected_correct
    gold = torch.where(pairs.chosen_correct, win, 1 - win)[mixed]  # the correct answer wins
    out = {"label": float(win.mean()), "gold": float(gold.mean()) if gold.numel() else float("nan")}
    if labeller is not None:
        ds = torch.tensor([labeller.score(a) - labeller.score(b) for a, b in zip(pairs.chosen, pairs.rejected)])
        surf = torch.where(ds > 0, win, 1 - win)[ds != 0]  # the surface winner wins
        out["surface"] = float(surf.mean()) if surf.numel() else float("nan")
    return out


def train_reward_model(rm: RewardModel, tok, pairs, config: RewardModelConfig, max_len: int,
                       eval_pairs=None) -> History:
    """Fit ``rm`` in place to the labels of ``pairs`` with :func:`bradley_terry_loss`; returns a History.

    Args:
        rm: the :class:`RewardModel`; tok: the tokenizer; pairs: training
            :class:`~ppo_grpo_lab.llm.preferences.PreferencePairs`; config: :class:`RewardModelConfig`.
        max_len: L, answer tokens incl. EOS (``task.max_answer_len``).
        eval_pairs: held-out pairs for ``eval/label_accuracy`` and ``eval/gold_accuracy`` (see :func:`pairwise_accuracy`).

    Metrics per step: ``loss/bradley_terry``, ``stats/accuracy``, ``stats/margin`` (on the batch),
    ``stats/grad_norm``, ``time/seconds``; with ``eval_pairs``, the two eval metrics.
    Calling it again continues from ``rm``'s current weights with a fresh optimiser (how iterative RL
    retrains the reward model on new pairs plus replayed old ones).
    """
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    rm.to(device).train()
    prompts, chosen, rejected = (t.to(device) for t in pairs.tensors(tok, max_len))  # (N, P), (N, L), (N, L)
    opt = torch.optim.AdamW(rm.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    hist, t0, order = History(), time.perf_counter(), np.empty(0, dtype=np.int64)
    for step in tqdm(range(1, config.num_updates + 1), desc="reward model", disable=not config.progress):
        if len(order) < config.batch_size:  # a new epoch: every pair once before any repeats
            order = np.concatenate([order, rng.permutation(len(pairs))])
        idx, order = torch.as_tensor(order[:config.batch_size], device=device), order[config.batch_size:]
        n = len(idx)
        r = rm(torch.cat([prompts[idx], prompts[idx]]), torch.cat([chosen[idx], rejected[idx]]))  # (2n,)
        loss, stats = bradley_terry_loss(r[:n], r[n:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(rm.parameters(), config.max_grad_norm)
        opt.step()
        rec = {**stats, "stats/grad_norm": grad_norm, "time/seconds": time.perf_counter() - t0}
        if eval_pairs is not None and ((config.eval_every and step % config.eval_every == 0)
                                       or step == config.num_updates):
            acc = pairwise_accuracy(rm, tok, eval_pairs, max_len)
            rec["eval/label_accuracy"], rec["eval/gold_accuracy"] = acc["label"], acc["gold"]
        hist.log(step, rec)
    rm.eval()
    return hist


def reward_fn(rm: RewardModel, tok, max_len: int) -> Callable:
    """The learned reward as a function ``(problems, texts, finished) -> (Tensor, [B])`` for an RL trainer.

    Unfinished answers are scored as they are (their tokens without EOS): the reward model, not a
    rule, decides what they are worth, which is part of what a policy may exploit.
    """
    @torch.no_grad()
    def fn(problems, texts, finished) -> Tensor:
        device = next(rm.parameters()).device
        rows = [tok.encode(t, bos=False, eos=bool(f)) for t, f in zip(texts, finished)]
        comps = torch.full((len(rows), max_len), PAD, dtype=torch.long)
        for i, r in enumerate(rows):
            comps[i, :min(len(r), max_len)] = torch.tensor(r[:max_len])
        mask = comps != PAD
        rm.eval()
        return rm(prompts_tensor(tok, problems, device), comps.to(device), mask.to(device)).cpu()
    return fn
