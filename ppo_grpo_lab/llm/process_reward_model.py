"""A learned process reward model (PRM): a teacher's assistant who learned to mark each line.

The code checker of :mod:`~ppo_grpo_lab.llm.step_reward` marks every step of a worked answer; a PRM
learns to do the same from examples. It is the toy transformer with a scalar head read at *every*
answer position; the logit at the last token of step j predicts that the step is right:

.. math::

    p_\\phi(\\text{step } j \\text{ correct} \\mid q, o_{\\le index(j)}) = \\sigma\\big(w^\\top \\operatorname{LN}(h^L_{|q| + index(j)})\\big)

(causal attention: the logit of a step has seen the question and the answer up to the step's end,
nothing after). Trained with the binary cross-entropy at step-end tokens, labels from the code
checker on answers sampled from a policy (Lightman et al. 2023 label with humans instead):

.. math::

    \\mathcal L_\\text{BCE}(\\phi) = -\\operatorname{mean}_{i,j}\\Big[y_{ij}\\log p_{ij} + (1 - y_{ij})\\log(1 - p_{ij})\\Big]

Worked example: logits [2, 0, −1] with labels [1, 0, 0] → losses [0.127, 0.693, 0.313], mean
0.378; thresholded at p = ½ (logit 0, ties count as "wrong") the step accuracy is 3/3.

:func:`prm_advantage_fn` plugs the PRM into GRPO in place of the checker: the steps' boundaries come
from the task's ``steps()`` (where a line ends is layout, not judgement), their rewards are the PRM's
probabilities p_ij (soft by default: a confident mark counts more than a hesitant one, and the
normalisation over the group only needs differences; ``hard=True`` thresholds at ½ to mimic the
checker's 0/1 marks). The last step of a finished answer ends at EOS, so the PRM also judges the
final answer.
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

from .._checks import as_bool_mask, as_tensor, check_bool, check_int, check_same_shape
from ..device import resolve_device
from ..history import History
from ..process import process_advantages
from ..progress import tqdm
from .evaluation import prompts_tensor
from .model import GPTConfig, TinyGPT
from .reward_model import RewardModelConfig
from .step_reward import step_rewards_from_completions

__all__ = ["ProcessRewardModel", "ProcessRewardModelConfig", "step_bce_loss", "train_process_reward_model",
           "step_probabilities", "step_accuracy", "prm_advantage_fn"]


def step_bce_loss(step_logits: Tensor, labels: Tensor, step_mask: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Binary cross-entropy of step logits against 0/1 step labels, averaged over real steps.

    Args:
        step_logits: (Tensor, [N, S]) PRM logits at the steps' end tokens.
        labels: (Tensor, [N, S]) 1 for a correct step, 0 for a wrong one.
        step_mask: (bool Tensor, [N, S]) True for real steps (padding ignored); at least one.

    Returns:
        ``(loss, stats)``: ``loss/bce`` and ``stats/step_accuracy`` (logit > 0 agrees with the label).
    """
    step_logits, labels = as_tensor("step_logits", step_logits), as_tensor("labels", labels)
    step_mask = as_bool_mask("step_mask", as_tensor("step_mask", step_mask))
    check_same_shape("step_logits", step_logits, labels=labels, step_mask=step_mask)
    n = step_mask.sum()
    if int(n) == 0:
        raise ValueError("step_mask: expected at least one real step, got none")
    per = F.binary_cross_entropy_with_logits(step_logits, labels.to(step_logits.dtype), reduction="none")  # (N, S)
    loss = (per * step_mask).sum() / n
    with torch.no_grad():
        hit = ((step_logits > 0) == (labels > 0.5)) & step_mask
        stats = {"loss/bce": loss.detach(), "stats/step_accuracy": hit.sum() / n}
    return loss, stats


class ProcessRewardModel(nn.Module):
    """TinyGPT's trunk with a scalar head at every answer position: the logit of "this step is right".

    Args:
        cfg: the transformer's :class:`GPTConfig` (``block_size`` >= prompt + answer length).
        init_from: a language model (e.g. the SFT policy) whose weights initialise the trunk (as
            :class:`~ppo_grpo_lab.llm.reward_model.RewardModel`); None: random init.

    The head starts at zero: an untrained PRM gives every step probability ½.
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

    def forward(self, prompts: Tensor, completions: Tensor) -> Tensor:
        """Logits [B, L], one per answer token: column t has read the prompt and ``o_0..o_t``.

        Args:
            prompts: (LongTensor, [B, P]) BOS + prompt; completions: (LongTensor, [B, L]) answers.
        """
        if prompts.ndim != 2 or completions.ndim != 2 or prompts.shape[0] != completions.shape[0]:
            raise ValueError(f"prompts, completions: expected [B, P] and [B, L] with the same B, "
                             f"got {tuple(prompts.shape)} and {tuple(completions.shape)}")
        h, _ = self.trunk.hidden(torch.cat([prompts, completions], dim=1))  # (B, P + L, d)
        return self.trunk.value_head(h[:, prompts.shape[1]:]).squeeze(-1)  # (B, L)

    def step_logits(self, prompts: Tensor, completions: Tensor, step_ends: Tensor) -> Tensor:
        """(Tensor, [B, S]) the logits at each step's end token (``step_ends``: LongTensor [B, S] in [0, L))."""
        return self(prompts, completions).gather(1, step_ends.to(completions.device))


@dataclass(kw_only=True)
class ProcessRewardModelConfig(RewardModelConfig):
    """PRM training settings.

    Attributes:
        num_updates: AdamW steps, 100–1000 (``batch_size`` answers each, every answer once per epoch).
        batch_size: answers per step, 32–256 (each holds one to ``digits + 1`` steps).
        learning_rate: α, 3e-4–3e-3 for this tiny model.
        weight_decay: AdamW decay, 0–0.1.
        max_grad_norm: gradient-norm clip, 0.5–1.0.
        eval_every: held-out step accuracy every this many steps (and at the last); 0: only at the last.
    """

    # the same fields, defaults and validation as the outcome reward model's (RewardModelConfig)


def _labelled(task, tok, problems, completions: Tensor):
    """Prompts [N, P], the code checker's step labels, step mask and step ends [N, S]."""
    labels, mask, ends = step_rewards_from_completions(task, tok, problems, completions.cpu())
    return prompts_tensor(tok, problems), labels, mask, ends


def train_process_reward_model(prm: ProcessRewardModel, task, tok, problems, completions: Tensor,
                               config: ProcessRewardModelConfig, eval_problems=None,
                               eval_completions: Tensor | None = None) -> History:
    """Fit ``prm`` in place to the code checker's step labels of sampled answers; returns a History.

    Args:
        prm: the :class:`ProcessRewardModel`; task: has the step protocol (``steps(problem, text)``);
            tok: the tokenizer.
        problems: N problems; completions: (LongTensor, [N, L]) answers to them (e.g. a policy's samples).
        config: :class:`ProcessRewardModelConfig`.
        eval_problems, eval_completions: held-out answers for ``eval/step_accuracy`` (:func:`step_accuracy`).

    Metrics per step: ``loss/bce``, ``stats/step_accuracy`` (on the batch), ``stats/grad_norm``,
    ``time/seconds``; with held-out answers, ``eval/step_accuracy``, ``eval/final_accuracy``,
    ``eval/majority`` (see :func:`step_accuracy`).
    """
    if completions.ndim != 2 or completions.shape[0] != len(problems):
        raise ValueError(f"completions: expected [N, L] with N = {len(problems)}, got {tuple(completions.shape)}")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    prm.to(device).train()
    prompts, labels, mask, ends = (t.to(device) for t in _labelled(task, tok, problems, completions))
    completions = completions.to(device)
    opt = torch.optim.AdamW(prm.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    hist, t0, order = History(), time.perf_counter(), np.empty(0, dtype=np.int64)
    for step in tqdm(range(1, config.num_updates + 1), desc="process reward model", disable=not config.progress):
        if len(order) < config.batch_size:  # a new epoch: every answer once before any repeats
            order = np.concatenate([order, rng.permutation(len(problems))])
        idx, order = torch.as_tensor(order[:config.batch_size], device=device), order[config.batch_size:]
        logits = prm.step_logits(prompts[idx], completions[idx], ends[idx])  # (n, S)
        loss, stats = step_bce_loss(logits, labels[idx], mask[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(prm.parameters(), config.max_grad_norm)
        opt.step()
        rec = {**stats, "stats/grad_norm": grad_norm, "time/seconds": time.perf_counter() - t0}
        if eval_completions is not None and ((config.eval_every and step % config.eval_every == 0)
                                             or step == config.num_updates):
            acc = step_accuracy(prm, task, tok, eval_problems, eval_completions)
            rec.update({f"eval/{k}": v for k, v in acc.items() if k in ("step_accuracy", "final_accuracy", "majority")})
        hist.log(step, rec)
    prm.eval()
    return hist


@torch.no_grad()
def step_probabilities(prm: ProcessRewardModel, tok, problems, completions: Tensor, step_ends: Tensor) -> Tensor:
    """(Tensor, [N, S]) the PRM's ``P(step correct)`` at ``step_ends`` (LongTensor [N, S]); on the CPU."""
    device = next(prm.parameters()).device
    was_training = prm.training
    prm.eval()
    logits = prm.step_logits(prompts_tensor(tok, problems, device), completions.to(device), step_ends)
    prm.train(was_training)
    return torch.sigmoid(logits).cpu()


def step_accuracy(prm: ProcessRewardModel, task, tok, problems, completions: Tensor) -> dict[str, float]:
    """Agreement of the PRM (p > ½) with the code checker on every step of the given answers.

    Returns:
        ``step_accuracy`` over all real steps; ``working_accuracy`` over the steps before the last
        (NaN if none); ``final_accuracy`` over the last steps (the final answers); ``majority``: the
        accuracy of the best constant guess on these same steps (a trivial baseline that has peeked
        at the answers' label balance); ``positive_rate``: share of steps that are right; ``wrong_caught``:
        share of the wrong steps that the PRM marks wrong (NaN if none: its blind spots show here); ``n_steps``.
    """
    _, labels, mask, ends = _labelled(task, tok, problems, completions)
    p = step_probabilities(prm, tok, problems, completions, ends)  # (N, S)
    hit = ((p > 0.5) == (labels > 0.5)) & mask
    last = torch.zeros_like(mask)
    last[torch.arange(len(mask)), mask.sum(1) - 1] = True  # every answer has at least one step
    working = mask & ~last
    n, pos = mask.sum(), (labels * mask).sum()
    return {"step_accuracy": float(hit.sum() / n),
            "working_accuracy": float(hit[working].float().mean()) if bool(working.any()) else float("nan"),
            "final_accuracy": float(hit[last].float().mean()),
            "majority": float(max(pos, n - pos) / n), "positive_rate": float(pos / n),
            "wrong_caught": float(hit[mask & (labels < 0.5)].float().mean()) if bool(pos < n) else float("nan"),
            "n_steps": int(n)}


def prm_advantage_fn(prm: ProcessRewardModel, task, tok, group_size: int, hard: bool = False,
                     check_final: bool = False, scale: str = "group", eps: float = 1e-4) -> Callable:
    """An ``advantage_fn`` for :class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer` whose step rewards come from ``prm``.

    The same interface as :func:`~ppo_grpo_lab.llm.process_hooks.process_advantage_fn`: step boundaries from
    ``task.steps()``, step rewards ``p_ij`` (``hard=True``: ``1[p_ij > ½]``), then
    :func:`~ppo_grpo_lab.process.process_advantages`. With ``check_final=True`` the last step (the final
    answer, ending at EOS) gets the task's checked reward instead (1 right, 0 wrong or unfinished): the PRM
    marks only the working, as when the answer can be verified but the lines cannot. The PRM is not trained
    here (freeze it or retrain it between calls). Without ``check_final`` an answer without EOS is scored by
    the PRM like any other (no rule decides for it).

    Returns:
        ``fn(problems, completions, mask, rewards) -> (Tensor, [N, L])`` with N = B·G rows.
    """
    if not callable(getattr(task, "steps", None)):
        raise ValueError(f"task: expected a task with the step protocol (a steps(problem, text) method), "
                         f"got {type(task).__name__}")
    check_int("group_size", group_size, 2)
    check_bool("hard", hard)
    check_bool("check_final", check_final)

    def fn(problems, completions: Tensor, mask: Tensor, rewards: Tensor | None = None) -> Tensor:
        N, L = completions.shape
        if N % group_size or len(problems) != N:
            raise ValueError(f"completions: expected B·G rows with G = {group_size} and one problem per row, "
                             f"got {N} rows and {len(problems)} problems")
        code, m, e = step_rewards_from_completions(task, tok, problems, completions.cpu())  # (N, S): boundaries
        r = step_probabilities(prm, tok, problems, completions, e)  # (N, S)
        r = (r > 0.5).float() if hard else r
        if check_final:
            last = (torch.arange(N), m.sum(1) - 1)  # every row has at least one step
            r[last] = code[last]
        B = N // group_size
        adv = process_advantages(r.view(B, group_size, -1), m.view(B, group_size, -1), e.view(B, group_size, -1),
                                 L, mask.cpu(), scale, eps)  # (N, L)
        return adv.to(completions.device)

    return fn
