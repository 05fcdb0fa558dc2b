"""The formula exercises: visible examples (the chapters' worked examples), hidden cases, properties.

Hidden cases cover what a hard-coded answer or a half-right formula gets wrong: random
shapes (including T = 1, N = 1, G = 2), every done pattern (none, terminations,
truncations, both), several γ, λ, ε and n, all-equal GRPO groups, ragged token masks
with garbage in the padding, and the gradient of every loss.
"""
from __future__ import annotations

import torch

from . import cases as C
from .core import Case, Exercise, call
from .references import LazyReference

T_ = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
B_ = lambda x: torch.tensor(x, dtype=torch.bool)  # noqa: E731


# ch1 ------------------------------------------------------------------------------------------
def _reinforce_visible():
    lp = torch.log(T_([0.5, 0.25, 0.25]))
    return [Case("visible example", (lp, T_([1.0, 0.0, 2.0])), grad_arg=0, note="N=3")]


def _reinforce_hidden(gen, i):
    N = C.randint(gen, 1, 16) if i else 1
    lp = torch.log(C.uniform(gen, (N,), 0.05, 1.0))
    r = C.normal(gen, (N,), scale=2.0, loc=C.choice(gen, (0.0, 1.0, 5.0)))
    return Case(f"hidden case {i}", (lp, r), grad_arg=0, note=f"N={N}")


# ch2 ------------------------------------------------------------------------------------------
def _baseline_visible():
    return [Case("visible example", (T_([3.0, 1.0, 2.0]), T_([2.0, 2.0, 2.0])), note="N=3")]


def _baseline_hidden(gen, i):
    N = C.randint(gen, 1, 16) if i else 1
    return Case(f"hidden case {i}", (C.normal(gen, (N,), 2.0, 1.0), C.normal(gen, (N,), 2.0)), note=f"N={N}")


# ch3 ------------------------------------------------------------------------------------------
def _clip_visible():
    lp = torch.log(T_([0.75, 0.75, 0.3, 0.3]))
    old = torch.log(T_([0.5, 0.5, 0.5, 0.5]))  # ratios 1.5, 1.5, 0.6, 0.6
    return [Case("visible example", (lp, old, T_([1.0, -1.0, 1.0, -1.0]), 0.2), grad_arg=0,
                 note="ratios 1.5, 1.5, 0.6, 0.6; every branch of the min appears")]


def _clip_hidden(gen, i):
    N = C.randint(gen, 1, 24) if i else 1
    old, lp = C.log_probs_pair(gen, (N,), spread=C.choice(gen, (0.1, 0.4, 0.8)))
    adv = C.normal(gen, (N,), scale=1.5)
    eps = C.choice(gen, (0.1, 0.2, 0.3))
    return Case(f"hidden case {i}", (lp, old, adv, eps), grad_arg=0, note=f"N={N}, clip_eps={eps}")


# ch4 ------------------------------------------------------------------------------------------
def _kl_visible():
    return [Case("visible example", (torch.log(T_([0.5])), torch.log(T_([0.25]))), note="π=0.5, π_ref=0.25")]


def _kl_hidden(gen, i):
    shape = C.choice(gen, ((C.randint(gen, 1, 12),), (C.randint(gen, 1, 4), C.randint(gen, 1, 6)),
                           (2, C.randint(gen, 1, 3), C.randint(gen, 1, 4))))
    lp, rl = C.log_probs_pair(gen, shape, spread=C.choice(gen, (0.2, 1.0)))
    return Case(f"hidden case {i}", (lp, rl), note=f"shape {shape}")


def _kl_properties():
    def non_negative(fn, gen):
        lp, rl = C.log_probs_pair(gen, (64,), spread=1.5)
        k = torch.as_tensor(call(EXERCISES["kl_k3"], fn, Case("non-negativity", (lp, rl)), (lp, rl)))
        if bool((k < -1e-6).any()):  # float32 rounding near 0 is tolerated
            return f"k3 must be >= 0 everywhere, got a minimum of {k.min().item():.4g}"
        same = call(EXERCISES["kl_k3"], fn, Case("same policies", (lp, lp)), (lp, lp.clone()))
        if not torch.allclose(torch.as_tensor(same, dtype=torch.float64), torch.zeros_like(lp), atol=1e-12):
            return "k3 must be exactly 0 where log_probs == ref_log_probs"
        return None
    return [non_negative]


# ch5 ------------------------------------------------------------------------------------------
def _group_visible():
    return [Case("visible example", (T_([[1.0, 0.0, 0.0, 1.0]]), 1e-4), note="B=1, G=4")]


def _group_hidden(gen, i):
    B, G = C.randint(gen, 1, 6), C.randint(gen, 2, 8)
    kind = ("0/1 rewards", "continuous rewards", "some all-equal groups")[i % 3]
    if kind == "continuous rewards":
        r = C.normal(gen, (B, G), scale=C.choice(gen, (0.5, 3.0)), loc=1.0)
    else:
        r = C.flags(gen, (B, G), 0.5).to(torch.float64)
        if kind == "some all-equal groups":
            B = max(B, 2)
            r = torch.cat([r, C.normal(gen, (1, G))])[:B]
            r[0] = C.choice(gen, (0.0, 1.0, 0.7))
    eps = C.choice(gen, (1e-4, 0.1, 0.5))
    return Case(f"hidden case {i}", (r, eps), note=f"B={r.shape[0]}, G={G}, {kind}, eps={eps}")


def _group_properties():
    def all_equal_gives_zero(fn, gen):
        r = torch.stack([torch.full((4,), 1.0, dtype=torch.float64), T_([0.0, 1.0, 1.0, 0.0])])
        got = torch.as_tensor(call(EXERCISES["group_advantages"], fn, Case("all-equal group, eps=0", (r, 0.0)),
                                   (r.clone(), 0.0)))
        if not bool(torch.isfinite(got).all()) or bool((got[0] != 0).any()):
            return (f"a group whose rewards are all equal must give advantages exactly 0 (even with eps=0, "
                    f"no NaN); rewards [1, 1, 1, 1] gave {got[0].tolist()}. Hint: torch.where on the rows "
                    f"whose max equals their min")
        return None
    return [all_equal_gives_zero]


# ch6, ch7, ch10: rollouts -------------------------------------------------------------------------
def _returns_visible():
    # chapter 6, "Returns by hand": γ = 0.9, marks 0.5, 0.7, 0.6, cut after the third week, V(s_3) = 2
    r = T_([[0.5], [0.7], [0.6]])
    last = B_([[False], [False], [True]])
    never = B_([[False], [False], [False]])
    nv = T_([[0.0], [0.0], [2.0]])
    return [Case("visible example (truncated)", (r, never, last, nv, 0.9),
                 note="γ=0.9, truncated after the third step, V(s_3)=2: G = 3.074, 2.86, 2.4"),
            Case("visible example (terminated)", (r, last.clone(), never.clone(), nv, 0.9),
                 note="γ=0.9, terminated after the third step: G = 1.616, 1.24, 0.6")]


def _returns_hidden(gen, i):
    ro = C.rollout(gen, i)
    g = C.choice(gen, C.GAMMAS)
    return Case(f"hidden case {i}", (ro["rewards"], ro["terminated"], ro["truncated"], ro["next_values"], g),
                note=C.ends_note(ro, gamma=g))


def _td_visible():
    args = (T_([[1.0], [1.0]]), T_([[2.0], [2.0]]), T_([[3.0], [3.0]]), B_([[False], [True]]), 0.9)
    return [Case("visible example", args, note="γ=0.9; second step terminated")]


def _td_hidden(gen, i):
    ro = C.rollout(gen, i)
    g = C.choice(gen, C.GAMMAS)
    return Case(f"hidden case {i}", (ro["rewards"], ro["values"], ro["next_values"], ro["terminated"], g),
                note=C.ends_note(ro, gamma=g))


def _gae_visible():
    r = T_([[1.0], [0.0], [1.0]])
    v = T_([[0.5], [0.5], [0.5]])
    nv = T_([[0.5], [0.5], [2.0]])
    term = B_([[False], [False], [False]])
    trunc = B_([[False], [False], [True]])
    return [Case("visible example", (r, v, nv, term, trunc, 0.9, 0.8),
                 note="γ=0.9, λ=0.8; truncated at the last step")]


def _gae_hidden(gen, i):
    ro = C.rollout(gen, i)
    g, lam = C.choice(gen, C.GAMMAS), C.LAMBDAS[(i // 4) % len(C.LAMBDAS)]
    args = (ro["rewards"], ro["values"], ro["next_values"], ro["terminated"], ro["truncated"], g, lam)
    return Case(f"hidden case {i}", args, note=C.ends_note(ro, gamma=g, lam=lam))


def _nstep_visible():
    r = T_([[1.0], [1.0], [1.0], [1.0]])
    v = T_([[0.0], [0.0], [0.0], [0.0]])
    nv = T_([[0.0], [0.0], [0.0], [10.0]])
    no = B_([[False]] * 4)
    return [Case("visible example", (r, v, nv, no, no.clone(), 0.5, 2),
                 note="γ=0.5, n=2, V=0 except V(s_4)=10")]


def _nstep_hidden(gen, i):
    ro = C.rollout(gen, i, T=C.randint(gen, 1, 9))
    g = C.choice(gen, C.GAMMAS)
    n = (1, 2, 3, 5, 12)[(i // 4) % 5]
    args = (ro["rewards"], ro["values"], ro["next_values"], ro["terminated"], ro["truncated"], g, n)
    return Case(f"hidden case {i}", args, note=C.ends_note(ro, gamma=g, n=n))


# ch8 ------------------------------------------------------------------------------------------
def _q_visible():
    # chapter 8's two-state example, with a third, absorbing state s_2 standing for "the episode ended":
    # s_0: study (mark 1, go to s_1) or skip (mark 0, end); s_1: every action gives 2 and ends; γ = 0.9
    P = T_([[[0, 1, 0], [0, 0, 1]], [[0, 0, 1], [0, 0, 1]], [[0, 0, 1], [0, 0, 1]]])
    R = T_([[1.0, 0.0], [2.0, 2.0], [0.0, 0.0]])
    V = T_([0.7, 2.0, 0.0])
    return [Case("visible example", (P, R, V, 0.9), note="chapter 8's example: Q(s_0, .) = (2.8, 0)")]


def _q_hidden(gen, i):
    S, A = C.randint(gen, 1, 6), C.randint(gen, 1, 4)
    if i % 3 == 0:
        S = A = C.randint(gen, 2, 4)  # square shapes hide transposition bugs no longer
    P = torch.exp(C.normal(gen, (S, A, S), scale=2.0))
    P = P / P.sum(dim=-1, keepdim=True)  # rows of P(.|s, a) sum to 1
    R, V = C.normal(gen, (S, A)), C.normal(gen, (S,), scale=3.0, loc=1.0)
    g = C.choice(gen, C.GAMMAS)
    return Case(f"hidden case {i}", (P, R, V, g), note=f"S={S}, A={A}, gamma={g}")


# ch9 ------------------------------------------------------------------------------------------
def _vl_visible():
    return [Case("visible example", (T_([3.0, 1.5]), T_([1.0, 2.0]), T_([2.5, 1.0]), 0.2), grad_arg=0,
                 note="clip_eps=0.2")]


def _vl_hidden(gen, i):
    N = C.randint(gen, 1, 20) if i else 1
    old = C.normal(gen, (N,), scale=2.0)
    vals = old + C.normal(gen, (N,), scale=C.choice(gen, (0.1, 0.5, 1.0)))
    targets = old + C.normal(gen, (N,), scale=1.0)
    eps = C.choice(gen, (0.1, 0.2, 0.5))
    return Case(f"hidden case {i}", (vals, targets, old, eps), grad_arg=0, note=f"N={N}, clip_eps={eps}")


# ch11 -----------------------------------------------------------------------------------------
def _agg_visible():
    x = T_([[1.0, 1.0, 1.0, 1.0], [4.0, 0.0, 0.0, 0.0]])
    m = B_([[True, True, True, True], [True, False, False, False]])
    return [Case("visible example", (x, m), note="B=2, L=4, lengths 4 and 1")]


def _agg_hidden(gen, i):
    B, L = C.randint(gen, 1, 6), C.randint(gen, 1, 10)
    if i % 2:
        B, L = max(B, 2), max(L, 3)
    mask = C.token_mask(gen, B, L)
    x = C.normal(gen, (B, L), scale=2.0, loc=0.5)
    x = torch.where(mask, x, C.uniform(gen, (B, L), -50.0, 50.0))  # garbage in the padding
    return Case(f"hidden case {i}", (x, mask), note=f"B={B}, L={L}, lengths {mask.sum(1).tolist()}")


# ch14 -----------------------------------------------------------------------------------------
def _bt_visible():
    # chapter 14's worked example: margins 2, 0, −1 → losses 0.127, 0.693, 1.313, mean 0.711
    return [Case("visible example", (T_([2.5, 0.0, 1.0]), T_([0.5, 0.0, 2.0])), grad_arg=0,
                 note="margins 2, 0, -1: loss 0.711")]


def _bt_hidden(gen, i):
    N = (1, 7, 64)[i % 3]
    r_chosen = C.normal(gen, (N,), scale=C.choice(gen, (0.5, 2.0, 5.0)), loc=C.choice(gen, (0.0, 3.0, -2.0)))
    r_rejected = C.normal(gen, (N,), scale=C.choice(gen, (0.5, 2.0, 5.0)), loc=C.choice(gen, (0.0, 1.0)))
    note = f"N={N}"
    if (i // 3) % 2:  # float32 with margins of ±100: log(sigmoid(m)) gives log(0) = -inf at m = -100
        k = C.randint(gen, 1, N)
        sign = torch.where(C.flags(gen, (k,), 0.5), 1.0, -1.0).to(torch.float64)
        sign[0] = -1.0  # at least one margin of −100
        r_rejected[:k] = r_chosen[:k] - 100.0 * sign
        r_chosen, r_rejected = r_chosen.float(), r_rejected.float()
        note += f", float32, {k} margin(s) of ±100 (exp(100) overflows float32; sigmoid(-100) rounds to 0)"
    return Case(f"hidden case {i}", (r_chosen, r_rejected), grad_arg=i % 2, note=note)


_SPECS = [
    ("reinforce_loss", 1, "reinforce_loss(log_probs, rewards)", _reinforce_visible, _reinforce_hidden, []),
    ("baseline_advantage", 2, "baseline_advantage(rewards, values)", _baseline_visible, _baseline_hidden, []),
    ("clipped_surrogate", 3, "clipped_surrogate(log_probs, old_log_probs, advantages, clip_eps)", _clip_visible,
     _clip_hidden, []),
    ("kl_k3", 4, "kl_k3(log_probs, ref_log_probs)", _kl_visible, _kl_hidden, _kl_properties()),
    ("group_advantages", 5, "group_advantages(rewards, eps=1e-4)", _group_visible, _group_hidden,
     _group_properties()),
    ("discounted_returns", 6, "discounted_returns(rewards, terminated, truncated, next_values, gamma)",
     _returns_visible, _returns_hidden, []),
    ("td_residuals", 7, "td_residuals(rewards, values, next_values, terminated, gamma)", _td_visible,
     _td_hidden, []),
    ("gae", 7, "gae(rewards, values, next_values, terminated, truncated, gamma, lam)", _gae_visible,
     _gae_hidden, []),
    ("q_from_v", 8, "q_from_v(P, R, V, gamma)", _q_visible, _q_hidden, []),
    ("value_loss", 9, "value_loss(values, targets, old_values, clip_eps)", _vl_visible, _vl_hidden, []),
    ("n_step_advantages", 10, "n_step_advantages(rewards, values, next_values, terminated, truncated, gamma, n)",
     _nstep_visible, _nstep_hidden, []),
    ("aggregate_grpo", 11, "aggregate_grpo(per_token, mask)", _agg_visible, _agg_hidden, []),
    ("bradley_terry_loss", 14, "bradley_terry_loss(r_chosen, r_rejected)", _bt_visible, _bt_hidden, []),
]

# Points when passed (all or nothing): 1 for a one-line formula, 2 for a formula with a trap
# (a min, a guard, a clip), 3 for a backward recursion with episode ends. `--points` overrides.
POINTS = {"reinforce_loss": 1, "baseline_advantage": 1, "clipped_surrogate": 2, "kl_k3": 1, "group_advantages": 2,
          "discounted_returns": 3, "td_residuals": 1, "gae": 3, "q_from_v": 1, "value_loss": 2,
          "n_step_advantages": 3, "aggregate_grpo": 1, "bradley_terry_loss": 2}

# the references are looked up when a case runs (instructor's first, then packaged): see references.py
EXERCISES: dict[str, Exercise] = {
    name: Exercise(name=name, chapter=ch, signature=sig, reference=LazyReference(name), visible=vis,
                   hidden=hid, properties=props, points=float(POINTS.get(name, 1)))
    for name, ch, sig, vis, hid, props in _SPECS
}

# appended, so the registry above stays one table: the capstones (grade/capstones.py: a whole update, graded by
# the policy's parameters after it, 5 points each) and chapter 15's process advantage (grade/spec_process.py)
from .capstones import CAPSTONES  # noqa: E402
from .spec_process import PROCESS  # noqa: E402

for _extra in (CAPSTONES, PROCESS):
    POINTS.update({name: int(ex.points) for name, ex in _extra.items()})
    EXERCISES.update(_extra)
