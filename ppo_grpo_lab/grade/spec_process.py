"""Chapter 15's graded exercise: the process-supervised advantage (DeepSeekMath §4.1.3).

Visible case: the chapter's worked example; hidden cases: 0/1 and continuous step rewards, questions whose
real steps all score the same, garbage at padding; a property: all-equal questions give exactly 0, no NaN.
"""
from __future__ import annotations

import torch

from . import cases as C
from .core import Case, Exercise, call
from .references import LazyReference

T_ = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
B_ = lambda x: torch.tensor(x, dtype=torch.bool)  # noqa: E731

def _process_visible():
    # chapter 15's worked example: one question, G = 2, L = 4; answer 1 has steps ending at tokens 1 and 3
    # (rewards 1, 0), answer 2 one step ending at token 2 (reward 1) and a padding slot holding garbage
    r, m = T_([[[1.0, 0.0], [1.0, 99.0]]]), B_([[[True, True], [True, False]]])
    ends = torch.tensor([[[1, 3], [2, 0]]])
    return [Case("visible example", (r, m, ends, 4, 1e-4),
                 note="B=1, G=2, S=2, L=4: advantages [-0.577, -0.577, -1.154, -1.154] and [0.577, 0.577, 0.577, 0]")]


def _process_hidden(gen, i):
    B, G, S = C.randint(gen, 1, 4), C.randint(gen, 2, 6), C.randint(gen, 1, 5)
    L = C.randint(gen, S, 12)
    steps = C.worked_steps(gen, B, G, S, L)
    kind = ("0/1 step rewards", "continuous step rewards", "flat questions")[i % 3]
    r = C.normal(gen, (B, G, S), scale=2.0, loc=0.5) if kind == "continuous step rewards" else \
        C.flags(gen, (B, G, S), 0.6).to(torch.float64)
    mask = steps["step_mask"]
    if kind == "flat questions":  # question 0: every real step scores the same; the last: one real step at most
        r[0] = C.choice(gen, (0.0, 1.0, 0.7))
        mask[-1, 1:] = False
        mask[-1, 0, 1:] = False
    r = torch.where(mask, r, C.uniform(gen, (B, G, S), -50.0, 50.0))  # garbage at padding
    eps = C.choice(gen, (1e-4, 0.1, 0.5))
    note = f"B={B}, G={G}, S={S}, L={L}, {kind}, real steps per answer {mask.sum(-1).tolist()}, eps={eps}"
    return Case(f"hidden case {i}", (r, mask, steps["step_ends"], L, eps), note=note)


def _process_properties():
    def flat_gives_zero(fn, gen):
        r = torch.full((2, 3, 2), 0.7, dtype=torch.float64)
        r[1] = T_([[1.0, 0.0], [0.0, 5.0], [1.0, 1.0]])
        m = torch.ones(2, 3, 2, dtype=torch.bool)
        m[1, 1, 1] = False  # the 5.0 is padding
        ends = torch.tensor([[0, 2], [1, 3], [0, 3]]).expand(2, 3, 2).clone()
        got = torch.as_tensor(call(PROCESS["process_advantages"], fn, Case("all-equal question, eps=0",
                                                                            (r, m, ends, 4, 0.0)), (r, m, ends, 4, 0.0)))
        if not bool(torch.isfinite(got).all()) or bool((got[:3] != 0).any()):
            return (f"a question whose real step rewards are all equal must give advantages exactly 0 (even with "
                    f"eps=0, no NaN); step rewards all 0.7 gave {got[:3].tolist()}")
        return None
    return [flat_gives_zero]


SIGNATURE = "process_advantages(step_rewards, step_mask, step_ends, length, eps=1e-4)"
PROCESS: dict[str, Exercise] = {
    "process_advantages": Exercise(name="process_advantages", chapter=15, signature=SIGNATURE,
                                   reference=LazyReference("process_advantages"), visible=_process_visible,
                                   hidden=_process_hidden, properties=_process_properties(),
                                   points=3.0),  # a sum over later steps, like a recursion, with padding
}
