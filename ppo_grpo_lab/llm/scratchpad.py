"""Tasks where thinking helps: answers that may show their work before the final answer.

Two variants of the toy tasks of :mod:`~ppo_grpo_lab.llm.tasks`, with the same prompts and the
same held-out split, whose answers come in two forms:

- *direct*: the final answer alone, as before;
- *worked*: a scratchpad, then ``>``, then the final answer.

:class:`ScratchpadAddition` (``"347+285="``) writes every column's sum from the right as two
digits, carry then digit, the carry of each column included in the next one:
``7+5 = 12``, ``4+8+1 = 13``, ``3+2+1 = 06``, so the worked answer is ``"12,13,06>632"``.

:class:`ScratchpadCountdown` (``"3,4,2>10="``) tries expressions and checks each by writing
its value, until one reaches the target: ``"3*4+2=14,3*4-2=10>3*4-2"`` (at most ``max_wrong``
wrong attempts in a demonstration).

The reward looks at the final answer only (the text after the last ``>``, or the whole
answer when there is none); the working is never checked:

.. math::

    r(q, o) = \\mathbb 1[\\text{final}(o) \\text{ is correct}] + w_\\text{fmt}\\,\\mathbb 1[o \\text{ is well formed}]

Demonstrations (:meth:`demo`) show their work with probability ``worked_frac`` (a minority
by default) and otherwise answer directly; with probability ``error_rate`` the demonstrator
makes the parent task's mistake (forgets every carry; swaps one operator), in either form.
"""
from __future__ import annotations

import re

import numpy as np

from .tasks import AdditionTask, CountdownTask, Problem, eval_expression, no_carry_sum

__all__ = ["WORK_SEP", "is_worked", "final_answer", "addition_work", "countdown_attempt",
           "ScratchpadAddition", "ScratchpadCountdown"]

WORK_SEP = ">"  # separates the working from the final answer


def is_worked(text: str) -> bool:
    """True when an answer shows its work (contains ``>``): ``"12,13,06>632"`` yes, ``"632"`` no."""
    return WORK_SEP in text


def final_answer(text: str) -> str:
    """The text after the last ``>`` (the whole text for a direct answer): ``"12,13,06>632"`` → ``"632"``."""
    return text.rsplit(WORK_SEP, 1)[-1]


def addition_work(a: int, b: int, digits: int, carry: bool = True) -> str:
    """Column sums from the right, two digits each: ``addition_work(347, 285, 3)`` → ``"12,13,06"``.

    With ``carry=False`` each column ignores the carry coming in (the carry-forgetting student):
    ``addition_work(347, 285, 3, carry=False)`` → ``"12,12,05"``.
    """
    cols, c = [], 0
    for _ in range(digits):
        s = a % 10 + b % 10 + (c if carry else 0)
        cols.append(f"{s:02d}")
        a, b, c = a // 10, b // 10, s // 10
    return ",".join(cols)


class ScratchpadAddition(AdditionTask):
    """Addition whose answers may show column sums: ``"347+285="`` → ``"632"`` or ``"12,13,06>632"``.

    Args:
        digits: digits per operand, 1–4 (3 makes direct answers hard for the tiny model).
        worked_frac: share of demonstrations that show their work, in [0, 1].
        format_weight: w_fmt in [0, 1].
    """

    name = "addition_scratchpad"

    def __init__(self, digits: int = 3, worked_frac: float = 0.25, format_weight: float = 0.0):
        super().__init__(digits, format_weight)
        if not 0.0 <= worked_frac <= 1.0:
            raise ValueError(f"worked_frac: expected a share in [0, 1], got {worked_frac}")
        self.worked_frac = worked_frac
        # digits columns of 2 characters, digits-1 commas, '>', up to digits+1 answer digits, EOS
        self.max_answer_len = 4 * digits + 2

    def demo(self, problem: Problem, rng: np.random.Generator, error_rate: float) -> str:
        """Worked with probability ``worked_frac``; every carry forgotten with probability ``error_rate``."""
        a, b = self.operands(problem)
        careful = rng.random() >= error_rate
        answer = str(a + b) if careful else str(no_carry_sum(a, b))
        if rng.random() < self.worked_frac:
            return addition_work(a, b, self.digits, carry=careful) + WORK_SEP + answer
        return answer

    def is_correct(self, problem, text):
        """True when the final answer (after the working, if any) is the sum."""
        return final_answer(text) == problem.answer

    def steps(self, problem: Problem, text: str) -> list[tuple[int, bool]]:
        """The step protocol of :mod:`~ppo_grpo_lab.llm.step_reward`: ``(end, correct)`` per step.

        Each column of the working (its two characters "carry digit") is a step, right when it equals
        that column of :func:`addition_work`; the final answer is the last step, right when
        :meth:`is_correct`. A direct answer is one step. Empty columns (``"12,,06"``) are no step;
        columns beyond ``digits`` are wrong steps.

        Example: ``"347+285="``, ``"12,12,06>622"`` → ``[(1, True), (4, False), (7, True), (11, False)]``.
        """
        out, pos = [], 0
        if WORK_SEP in text:
            a, b = self.operands(problem)
            truth = addition_work(a, b, self.digits).split(",")
            for k, col in enumerate(text.rsplit(WORK_SEP, 1)[0].split(",")):
                pos += len(col)
                if col:
                    out.append((pos - 1, k < self.digits and col == truth[k]))
                pos += 1  # the comma, or the '>'
        if text:  # the final answer; when empty (text ends in '>'), the '>' is its last character
            out.append((len(text) - 1, self.is_correct(problem, text)))
        return out

    def is_formatted(self, text):
        """True for an optional column-by-column working, then a number without leading zeros."""
        work = r"\d\d(?:,\d\d){%d}%s" % (self.digits - 1, WORK_SEP)
        return re.fullmatch(rf"(?:{work})?(?:0|[1-9]\d*)", text) is not None


def countdown_attempt(expr: str) -> str:
    """One checked attempt, the expression and its value: ``"3*4+2"`` → ``"3*4+2=14"``."""
    return f"{expr}={eval_expression(expr)}"


def _random_expression(nums: list[int], rng: np.random.Generator) -> str:
    perm = [nums[i] for i in rng.permutation(len(nums))]
    ops = rng.choice(list("+-*"), size=len(nums) - 1)
    return "".join(f"{n}{o}" for n, o in zip(perm, ops)) + str(perm[-1])


class ScratchpadCountdown(CountdownTask):
    """Countdown whose answers may check attempts first: ``"3*4-2"`` or ``"3*4+2=14,3*4-2=10>3*4-2"``.

    Args:
        n_numbers: how many numbers, 2–4.
        worked_frac: share of demonstrations that show their work, in [0, 1].
        format_weight: w_fmt in [0, 1].
        max_wrong: most wrong attempts a worked demonstration tries before the right one.
    """

    name = "countdown_scratchpad"

    def __init__(self, n_numbers: int = 3, worked_frac: float = 0.25, format_weight: float = 0.0,
                 max_wrong: int = 2):
        super().__init__(n_numbers, format_weight)
        if not 0.0 <= worked_frac <= 1.0:
            raise ValueError(f"worked_frac: expected a share in [0, 1], got {worked_frac}")
        self.worked_frac = worked_frac
        if not (isinstance(max_wrong, int) and max_wrong >= 0):
            raise ValueError(f"max_wrong: expected an integer >= 0, got {max_wrong!r}")
        self.max_wrong = max_wrong
        # max_wrong + 1 attempts "expr=value," (value: at most 3 characters, e.g. 729 or -80), '>', expr, EOS
        width = 2 * n_numbers - 1
        self.max_answer_len = (max_wrong + 1) * (width + 5) + width + 1

    def demo(self, problem: Problem, rng: np.random.Generator, error_rate: float) -> str:
        """The parent's demonstration (maybe one operator swapped); w.p. ``worked_frac`` it comes after
        0..``max_wrong`` (uniform) checked wrong attempts, each with its value, and is checked itself.
        """
        expr = super().demo(problem, rng, error_rate)
        if rng.random() >= self.worked_frac:
            return expr
        nums, target = self.parse(problem)
        tries = []
        for _ in range(int(rng.integers(self.max_wrong + 1))):
            for _ in range(100):  # a wrong expression not tried yet (give up on repeats after 100 draws)
                wrong = _random_expression(nums, rng)
                if eval_expression(wrong) != target and countdown_attempt(wrong) not in tries:
                    break
            if eval_expression(wrong) != target:
                tries.append(countdown_attempt(wrong))
        return ",".join(tries + [countdown_attempt(expr)]) + WORK_SEP + expr

    def is_correct(self, problem, text):
        """True when the final expression (after the attempts, if any) reaches the target."""
        return super().is_correct(problem, final_answer(text))

    def is_formatted(self, text):
        """True for well-formed attempts (if any) followed by a well-formed expression."""
        if not is_worked(text):
            return super().is_formatted(text)
        work, expr = text.rsplit(WORK_SEP, 1)
        attempt = r"[1-9](?:[+\-*][1-9]){%d}=-?\d+" % (self.n_numbers - 1)
        return re.fullmatch(rf"{attempt}(?:,{attempt})*", work) is not None and super().is_formatted(expr)
