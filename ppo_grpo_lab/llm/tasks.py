"""Toy reasoning tasks whose rewards are computed by code (verifiable rewards).

Two tasks, each a stream of problems ``(prompt, answer)`` with fixed-width prompts:

- :class:`AdditionTask`: ``"47+85="`` → ``"132"``.
- :class:`CountdownTask`: reach a target from n one-digit numbers with + − ×, each number
  used exactly once, usual precedence: ``"3,4,2>10="`` → ``"3*4-2"`` (any correct expression counts).

Rule-based reward, as in DeepSeek-R1 (accuracy reward plus format reward):

.. math::

    r(q, o) = \\mathbb 1[\\text{o is correct}] + w_\\text{fmt}\\, \\mathbb 1[\\text{o is well formed}]

"Well formed" means the answer matches the task's pattern and ends with EOS.
Held-out problems are chosen by a stable hash of the prompt (``crc32 % 5 == 0``, about
20%): training draws never contain them and evaluation draws contain only them.

Imperfect demonstrations for SFT: :meth:`AdditionTask.demo` forgets every carry with
probability ``error_rate`` (a systematic mistake a student makes, not random noise);
:meth:`CountdownTask.demo` swaps one operator with probability ``error_rate``.
"""
from __future__ import annotations

import itertools
import re
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["Problem", "AdditionTask", "CountdownTask", "is_heldout", "no_carry_sum", "eval_expression"]


@dataclass(frozen=True)
class Problem:
    """One question: ``prompt`` (text after BOS) and one reference ``answer`` (text before EOS)."""

    prompt: str
    answer: str


def is_heldout(prompt: str) -> bool:
    """True for the ~20% of prompts reserved for evaluation (stable across runs and machines)."""
    return zlib.crc32(prompt.encode()) % 5 == 0


def no_carry_sum(a: int, b: int) -> int:
    """The sum a student gets by forgetting every carry: digit-wise (a_k + b_k) mod 10. 47+85 → 22."""
    out, k = 0, 1
    while a or b:
        out += ((a % 10 + b % 10) % 10) * k
        a, b, k = a // 10, b // 10, k * 10
    return out


def eval_expression(expr: str) -> int:
    """Value of ``d op d op ...`` with + − × and usual precedence, e.g. ``"2+3*4"`` → 14."""
    if not re.fullmatch(r"\d+(?:[+\-*]\d+)*", expr):
        raise ValueError(f"expr: expected digits joined by + - *, got {expr!r}")
    total = 0
    for sign, term in re.findall(r"([+-]?)([^+-]+)", expr):
        prod = 1
        for f in term.split("*"):
            prod *= int(f)
        total += -prod if sign == "-" else prod
    return total


class _Task:
    name = "task"
    max_answer_len = 1  # tokens, EOS included

    def __init__(self, format_weight: float = 0.0):
        if not 0.0 <= format_weight <= 1.0:
            raise ValueError(f"format_weight: expected a value in [0, 1], got {format_weight}")
        self.format_weight = format_weight

    def _draw(self, rng: np.random.Generator) -> Problem:
        raise NotImplementedError

    def sample(self, n: int, rng: np.random.Generator, split: str = "train") -> list[Problem]:
        """N problems from the ``"train"`` or ``"eval"`` split (disjoint by :func:`is_heldout`)."""
        if split not in ("train", "eval"):
            raise ValueError(f"split: expected 'train' or 'eval', got {split!r}")
        want_heldout = split == "eval"
        out = []
        while len(out) < n:
            p = self._draw(rng)
            if is_heldout(p.prompt) == want_heldout:
                out.append(p)
        return out

    def eval_set(self, n: int = 200, seed: int = 1234) -> list[Problem]:
        """A seeded held-out evaluation set of n problems."""
        return self.sample(n, np.random.default_rng(seed), split="eval")

    def is_correct(self, problem: Problem, text: str) -> bool:
        raise NotImplementedError

    def is_formatted(self, text: str) -> bool:
        raise NotImplementedError

    def reward(self, problem: Problem, text: str, finished: bool) -> float:
        """``1[correct] + w_fmt · 1[well formed]``; an answer without EOS gets 0."""
        if not finished:
            return 0.0
        return float(self.is_correct(problem, text)) + self.format_weight * float(self.is_formatted(text))


class AdditionTask(_Task):
    """Add two ``digits``-digit numbers (zero-padded in the prompt): ``"07+85="`` → ``"92"``.

    Args:
        digits: digits per operand, 1–4.
        format_weight: w_fmt in [0, 1].
    """

    name = "addition"

    def __init__(self, digits: int = 2, format_weight: float = 0.0):
        super().__init__(format_weight)
        if not (isinstance(digits, int) and 1 <= digits <= 4):
            raise ValueError(f"digits: expected an integer in [1, 4], got {digits!r}")
        self.digits = digits
        self.max_answer_len = digits + 2  # up to digits + 1 answer digits, then EOS

    def _draw(self, rng):
        a, b = (int(x) for x in rng.integers(0, 10 ** self.digits, size=2))
        return Problem(f"{a:0{self.digits}d}+{b:0{self.digits}d}=", str(a + b))

    @staticmethod
    def operands(problem: Problem) -> tuple[int, int]:
        """``(a, b)`` read from the prompt ``"a+b="``."""
        a, b = problem.prompt.rstrip("=").split("+")
        return int(a), int(b)

    def has_carry(self, problem: Problem) -> bool:
        """True when forgetting every carry gives a wrong sum."""
        a, b = self.operands(problem)
        return no_carry_sum(a, b) != a + b

    def demo(self, problem: Problem, rng: np.random.Generator, error_rate: float) -> str:
        """A demonstration answer: the carry-free (wrong) sum with probability ``error_rate``."""
        a, b = self.operands(problem)
        return str(no_carry_sum(a, b)) if rng.random() < error_rate else str(a + b)

    def is_correct(self, problem, text):
        """True when ``text`` is exactly the sum."""
        return text == problem.answer

    def is_formatted(self, text):
        """True for a number without leading zeros."""
        return re.fullmatch(r"0|[1-9]\d*", text) is not None


class CountdownTask(_Task):
    """Reach a target from ``n_numbers`` one-digit numbers with + − ×: ``"3,4,2>10="`` → ``"3*4-2"``.

    Targets lie in 1..99 and are written with two digits. Any expression that uses each
    number exactly once and evaluates to the target is correct.

    Args:
        n_numbers: how many numbers, 2–4.
        format_weight: w_fmt in [0, 1].
    """

    name = "countdown"

    def __init__(self, n_numbers: int = 3, format_weight: float = 0.0):
        super().__init__(format_weight)
        if not (isinstance(n_numbers, int) and 2 <= n_numbers <= 4):
            raise ValueError(f"n_numbers: expected an integer in [2, 4], got {n_numbers!r}")
        self.n_numbers = n_numbers
        self.max_answer_len = 2 * n_numbers  # n digits, n-1 operators, EOS

    def _draw(self, rng):
        while True:
            nums = [int(x) for x in rng.integers(1, 10, size=self.n_numbers)]
            ops = [str(o) for o in rng.choice(list("+-*"), size=self.n_numbers - 1)]
            expr = "".join(str(n) + o for n, o in zip(nums, ops)) + str(nums[-1])
            target = eval_expression(expr)
            if 1 <= target <= 99:
                return Problem(",".join(map(str, nums)) + f">{target:02d}=", expr)

    @staticmethod
    def parse(problem: Problem) -> tuple[list[int], int]:
        """``(numbers, target)`` read from the prompt ``"3,4,2>10="``."""
        nums, target = problem.prompt.rstrip("=").split(">")
        return [int(x) for x in nums.split(",")], int(target)

    def solutions(self, problem: Problem) -> list[str]:
        """Every correct expression (all orders of the numbers, all operator choices)."""
        nums, target = self.parse(problem)
        sols = set()
        for perm in itertools.permutations(nums):
            for ops in itertools.product("+-*", repeat=len(nums) - 1):
                expr = "".join(str(n) + o for n, o in zip(perm, ops)) + str(perm[-1])
                if eval_expression(expr) == target:
                    sols.add(expr)
        return sorted(sols)

    def demo(self, problem: Problem, rng: np.random.Generator, error_rate: float) -> str:
        """A random correct expression; with probability ``error_rate`` one operator is swapped."""
        sols = self.solutions(problem)
        expr = sols[int(rng.integers(len(sols)))]
        if rng.random() < error_rate:
            k = 2 * int(rng.integers(self.n_numbers - 1)) + 1
            expr = expr[:k] + str(rng.choice([o for o in "+-*" if o != expr[k]])) + expr[k + 1:]
        return expr

    def is_formatted(self, text):
        """True for n one-digit numbers joined by + - *."""
        return re.fullmatch(r"[1-9](?:[+\-*][1-9]){%d}" % (self.n_numbers - 1), text) is not None

    def is_correct(self, problem, text):
        """True when ``text`` uses each number once and evaluates to the target."""
        if not self.is_formatted(text):
            return False
        nums, target = self.parse(problem)
        return sorted(int(c) for c in text[::2]) == sorted(nums) and eval_expression(text) == target
