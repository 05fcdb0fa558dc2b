"""Preference pairs the project makes itself, judged by a labeller with a known flaw.

For each question two different answers are drawn from a pool (a policy's samples, the task's
imperfect demonstrations, or both) and shown to a labeller, who says which one is better. The
labeller is honest most of the time and superficial the rest:

.. math::

    \\text{prefer } o^a \\text{ over } o^b \\iff \\begin{cases}
        s(o^a) > s(o^b) \\ (\\text{a coin on ties}) & \\text{with probability } p \\quad\\text{(the flaw)}\\\\
        \\mathbb 1[o^a \\text{ correct}] > \\mathbb 1[o^b \\text{ correct}] \\ (\\text{a coin on ties}) & \\text{otherwise}
    \\end{cases}

where ``s`` is a surface score: ``"longer"`` (the number of characters) or ``"ends_in_zero"``
(1 if the answer ends in the digit 0), or any function of the text. The truth comes from the
task's own checker ``task.is_correct(problem, text)``, so this works for every task that has one;
the checker is the *gold* against which a reward model trained on these labels is judged.

Worked example: answers ``"132"`` (correct) and ``"22"`` (the carry forgotten) to ``"47+85="``.
An honest judgement prefers ``"132"``; a ``"longer"`` judgement also prefers ``"132"``; an
``"ends_in_zero"`` judgement sees a tie and flips a coin.

By default (``mixed_only=True``) a pair holds one correct and one wrong answer, so the gold always
has an opinion; only finished answers (ending with EOS) enter the pool.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from .._checks import check_range
from .evaluation import prompts_tensor
from .sampling import generate
from .tokenizer import EOS, PAD, CharTokenizer

__all__ = ["SURFACES", "FlawedLabeller", "PreferencePairs", "sample_answers", "demo_answers", "make_pairs",
           "encode_answers"]

SURFACES: dict[str, Callable[[str], float]] = {
    "longer": lambda text: float(len(text)),
    "ends_in_zero": lambda text: float(text.endswith("0")),
}


@dataclass(frozen=True)
class FlawedLabeller:
    """A labeller who judges by a surface pattern with probability ``flaw_prob`` (p), else by the truth.

    Attributes:
        flaw_prob: p in [0, 1]; 0 is an honest labeller, 1 judges by the surface only.
        surface: a name from :data:`SURFACES` or a function ``text -> score`` (higher is preferred).
    """

    flaw_prob: float = 0.0
    surface: str | Callable[[str], float] = "longer"

    def __post_init__(self):
        check_range("flaw_prob", self.flaw_prob, 0.0, 1.0)
        if not callable(self.surface) and self.surface not in SURFACES:
            raise ValueError(f"surface: expected one of {list(SURFACES)} or a function of the text, got {self.surface!r}")

    def score(self, text: str) -> float:
        """The surface score ``s(text)``."""
        return float((self.surface if callable(self.surface) else SURFACES[self.surface])(text))

    def judge(self, correct_a: bool, correct_b: bool, text_a: str, text_b: str,
              rng: np.random.Generator) -> tuple[bool, bool]:
        """``(a is preferred, judged by the surface)`` for one pair."""
        by_surface = bool(rng.random() < self.flaw_prob)
        sa, sb = (self.score(text_a), self.score(text_b)) if by_surface else (float(correct_a), float(correct_b))
        coin = bool(rng.random() < 0.5)  # drawn every time, so the stream does not depend on the answers
        return (sa > sb or (sa == sb and coin)), by_surface


@dataclass
class PreferencePairs:
    """N labelled pairs: for question ``problems[k]`` the labeller preferred ``chosen[k]`` to ``rejected[k]``.

    Attributes:
        problems, chosen, rejected: lists of N problems and answer texts (without EOS).
        chosen_correct, rejected_correct: (bool Tensor, [N]) the gold checker's verdicts.
        by_surface: (bool Tensor, [N]) the label came from the surface pattern (the flaw).
    """

    problems: list
    chosen: list[str]
    rejected: list[str]
    chosen_correct: Tensor
    rejected_correct: Tensor
    by_surface: Tensor

    def __len__(self) -> int:
        return len(self.problems)

    def subset(self, idx: Sequence[int]) -> "PreferencePairs":
        """The pairs at positions ``idx`` (e.g. a random 10% of old data to replay)."""
        idx = [int(i) for i in idx]
        t = torch.as_tensor(idx, dtype=torch.long)
        return PreferencePairs([self.problems[i] for i in idx], [self.chosen[i] for i in idx],
                               [self.rejected[i] for i in idx], self.chosen_correct[t], self.rejected_correct[t],
                               self.by_surface[t])

    def __add__(self, other: "PreferencePairs") -> "PreferencePairs":
        """All pairs of both (new samples plus replayed old ones, for iterative RL)."""
        return PreferencePairs(self.problems + other.problems, self.chosen + other.chosen, self.rejected + other.rejected,
                               torch.cat([self.chosen_correct, other.chosen_correct]),
                               torch.cat([self.rejected_correct, other.rejected_correct]),
                               torch.cat([self.by_surface, other.by_surface]))

    def label_gold_agreement(self) -> float:
        """Share of pairs (with one correct and one wrong answer) whose label agrees with the checker."""
        mixed = self.chosen_correct != self.rejected_correct
        return float(self.chosen_correct[mixed].float().mean()) if bool(mixed.any()) else float("nan")

    def tensors(self, tok: CharTokenizer, max_len: int) -> tuple[Tensor, Tensor, Tensor]:
        """``(prompts [N, P], chosen [N, L], rejected [N, L])`` token ids, L = ``max_len`` (EOS included)."""
        return (prompts_tensor(tok, self.problems), encode_answers(tok, self.chosen, max_len),
                encode_answers(tok, self.rejected, max_len))


def encode_answers(tok: CharTokenizer, texts: Sequence[str], max_len: int) -> Tensor:
    """(LongTensor, [N, L]) each text, then EOS, then PAD; L = ``max_len`` must fit the longest text + EOS."""
    rows = [tok.encode(t, bos=False, eos=True) for t in texts]
    longest = max((len(r) for r in rows), default=0)
    if longest > max_len:
        raise ValueError(f"max_len: expected at least {longest} (longest answer + EOS), got {max_len}")
    out = torch.full((len(rows), max_len), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out


@torch.no_grad()
def sample_answers(policy, tok: CharTokenizer, task, problems: Sequence, n: int, temperature: float = 1.0,
                   generator: torch.Generator | None = None) -> list[list[str]]:
    """N sampled answers per problem (finished ones only, so fewer than n may come back)."""
    device = next(policy.parameters()).device
    rep = [p for p in problems for _ in range(n)]
    comps, _ = generate(policy, prompts_tensor(tok, rep, device), task.max_answer_len, temperature, generator)
    rows = comps.cpu().tolist()
    return [[tok.decode(r) for r in rows[k * n:(k + 1) * n] if EOS in r] for k in range(len(problems))]


def demo_answers(task, problems: Sequence, n: int, rng: np.random.Generator, error_rate: float = 0.5) -> list[list[str]]:
    """N demonstrations per problem from ``task.demo`` (each wrong with probability ``error_rate``)."""
    return [[task.demo(p, rng, error_rate) for _ in range(n)] for p in problems]


def make_pairs(task, problems: Sequence, answers: Sequence[Sequence[str]], labeller: FlawedLabeller,
               rng: np.random.Generator, mixed_only: bool = True) -> PreferencePairs:
    """One labelled pair per problem whose pool allows it.

    Args:
        task: has ``is_correct(problem, text)`` (the gold checker).
        problems: the questions; answers: a pool of answer texts for each (duplicates are merged).
        labeller: the :class:`FlawedLabeller`.
        rng: draws the pair, its order and the labeller's coins.
        mixed_only: pair one correct with one wrong answer (problems without both are skipped);
            False: any two different answers.
    """
    if len(problems) != len(answers):
        raise ValueError(f"answers: expected one pool per problem ({len(problems)}), got {len(answers)}")
    cols: dict[str, list] = {k: [] for k in ("problems", "chosen", "rejected", "cc", "rc", "surface")}
    for p, pool in zip(problems, answers):
        pool = sorted(set(pool))
        ok = [task.is_correct(p, t) for t in pool]
        right, wrong = [t for t, c in zip(pool, ok) if c], [t for t, c in zip(pool, ok) if not c]
        if mixed_only:
            if not right or not wrong:
                continue
            a, b = right[int(rng.integers(len(right)))], wrong[int(rng.integers(len(wrong)))]
            if rng.random() < 0.5:
                a, b = b, a
        else:
            if len(pool) < 2:
                continue
            i, j = rng.choice(len(pool), size=2, replace=False)
            a, b = pool[int(i)], pool[int(j)]
        ca, cb = task.is_correct(p, a), task.is_correct(p, b)
        a_wins, by_surface = labeller.judge(ca, cb, a, b, rng)
        chosen, rejected, cc, rc = (a, b, ca, cb) if a_wins else (b, a, cb, ca)
        for k, v in zip(cols, (p, chosen, rejected, cc, rc, by_surface)):
            cols[k].append(v)
    return PreferencePairs(cols["problems"], cols["chosen"], cols["rejected"], torch.tensor(cols["cc"], dtype=torch.bool),
                           torch.tensor(cols["rc"], dtype=torch.bool), torch.tensor(cols["surface"], dtype=torch.bool))
