"""Step-level rewards for worked answers, checked by code (process supervision's input).

A task that can grade the working line by line offers one method, the *step protocol*:

.. code-block:: python

    def steps(self, problem: Problem, text: str) -> list[tuple[int, bool]]:
        '''(end, correct) for every step of ``text``, in order.'''

``end`` is the index in ``text`` of the step's last character (inclusive), strictly increasing;
``correct`` says whether that step is right. The steps should cover the text: the last one is
normally the final answer and ends at ``len(text) - 1``. For the scratchpad addition format
``"12,13,06>632"`` (column sums from the right, then the answer) the steps are
``[(1, c1), (4, c2), (7, c3), (11, answer correct)]``.

:func:`step_rewards` turns the steps of a batch into the padded tensors of
:mod:`ppo_grpo_lab.process`, reward 1 for a correct step and 0 otherwise, with three rules:

- the last step is extended to the EOS token (index ``len(text)``) of a finished answer, so the
  EOS token carries the final step's advantage, as in outcome supervision;
- an answer without EOS gets 0 on every step (as the outcome reward: no EOS, no credit);
- an answer for which ``steps`` returns nothing gets one wrong step ending at its last token.

Ends are character indices of the text; :func:`step_rewards_from_completions` maps them to token
indices of sampled rows (the tokenizer is character-level, so they differ only where a row holds
special tokens before its EOS).
"""
from __future__ import annotations

from typing import Protocol, Sequence

import torch
from torch import Tensor

from .tokenizer import EOS, CharTokenizer

__all__ = ["StepTask", "step_rewards", "step_rewards_from_completions"]


class StepTask(Protocol):
    """What a task provides for process supervision (see the module docstring)."""

    def steps(self, problem, text: str) -> list[tuple[int, bool]]:
        """``[(end_char, correct), ...]``: where each step of ``text`` ends (inclusive) and whether it is right."""
        ...


def _one_answer(task, problem, text: str, finished: bool) -> list[tuple[int, float]]:
    steps = list(task.steps(problem, text))
    last = len(text) if finished else max(len(text) - 1, 0)  # token index of EOS, or of the last token
    if not steps:
        return [(last, 0.0)]
    ends = [int(e) for e, _ in steps]
    if any(b <= a for a, b in zip(ends, ends[1:])) or ends[0] < 0 or ends[-1] >= max(len(text), 1):
        raise ValueError(f"steps: expected strictly increasing ends in [0, {len(text)}) for {text!r}, got {ends}")
    out = [(e, float(bool(c)) if finished else 0.0) for e, c in steps]
    out[-1] = (last, out[-1][1])
    return out


def step_rewards(task, problems: Sequence, texts: Sequence[str], finished: Sequence[bool],
                 max_steps: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Per-step rewards of N answers, padded to S steps.

    Args:
        task: implements the step protocol (``steps(problem, text)``).
        problems: N problems; texts: N answers (decoded, without EOS); finished: N flags (answer ended with EOS).
        max_steps: S, pad to this many steps (default: the most steps of any answer); raises if an answer has more.

    Returns:
        ``(rewards, step_mask, step_ends)``: (float Tensor, [N, S]), (bool Tensor, [N, S]) and
        (LongTensor, [N, S]) token index of each step's last token (0 at padding). Reshape to
        ``[B, G, S]`` for :func:`~ppo_grpo_lab.process.process_advantages`.
    """
    if not (len(problems) == len(texts) == len(finished)):
        raise ValueError(f"problems, texts, finished: expected equal lengths, got {len(problems)}, {len(texts)}, "
                         f"{len(finished)}")
    per = [_one_answer(task, p, t, bool(f)) for p, t, f in zip(problems, texts, finished)]
    S = max((len(s) for s in per), default=1) if max_steps is None else max_steps
    if any(len(s) > S for s in per):
        raise ValueError(f"max_steps: expected at least {max(len(s) for s in per)} (the most steps of an answer), got {S}")
    rewards = torch.zeros(len(per), S)
    mask = torch.zeros(len(per), S, dtype=torch.bool)
    ends = torch.zeros(len(per), S, dtype=torch.long)
    for i, s in enumerate(per):
        k = len(s)
        ends[i, :k] = torch.tensor([e for e, _ in s])
        rewards[i, :k] = torch.tensor([r for _, r in s])
        mask[i, :k] = True
    return rewards, mask, ends


def step_rewards_from_completions(task, tok: CharTokenizer, problems: Sequence, completions: Tensor,
                                  max_steps: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`step_rewards` of sampled token rows (LongTensor, [N, L]), ends as token indices in [0, L).

    A sampled row may hold special tokens (PAD, BOS) before its EOS; they are not characters of the
    text, so character ends are mapped back to the token positions they came from.
    """
    if completions.ndim != 2 or completions.shape[0] != len(problems):
        raise ValueError(f"completions: expected [N, L] with N = {len(problems)}, got {tuple(completions.shape)}")
    L = completions.shape[1]
    texts, finished, positions = [], [], []
    for row in completions.tolist():
        chars, pos = [], []
        for t, i in enumerate(row):
            if i == EOS:
                break
            if i in tok.itos:
                chars.append(tok.itos[i])
                pos.append(t)
        done = EOS in row
        pos.append(row.index(EOS) if done else L - 1)  # the EOS token (or the last token) closes the last step
        texts.append("".join(chars))
        finished.append(done)
        positions.append(pos)
    rewards, mask, ends = step_rewards(task, problems, texts, finished, max_steps)
    for i, pos in enumerate(positions):
        k = int(mask[i].sum())
        ends[i, :k] = torch.tensor(pos)[ends[i, :k]]
        if not finished[i]:
            ends[i, k - 1] = L - 1  # every token of an unfinished row belongs to a step
    return rewards, mask, ends
