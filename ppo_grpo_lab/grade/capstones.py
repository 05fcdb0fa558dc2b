"""The two capstones: a whole update, graded by the parameters it leaves behind.

``ppo_update`` (chapter 3) and ``grpo_step`` (chapter 11) receive a policy and its optimizer
and change them in place. Each case is built fresh, deep-copied for the reference and for
the submission (policy, optimizer state and minibatch generator alike), and the two
parameter vectors after the call are compared. The policies are float64 tables (PPO) and tiny
float32 transformers (GRPO); the optimizers are mostly plain SGD with large steps, so a wrong
loss moves the parameters far beyond the tolerance while rounding differences between correct
answers (whose Adam steps near zero gradients would amplify) stay far below it; the float32 GRPO
cases that use Adam give it ε = 1e-3 for the same reason (a gradient of 1e-8 from rounding would
otherwise take a step of ``lr · g / (abs(g) + ε)``, a large fraction of lr, in either direction).

A submission must assemble the pieces itself: a property check fails it when it calls the
package's own loss for the exercise (``grpo_loss``, ``clipped_surrogate``...), directly or through
a helper of its own.
"""
from __future__ import annotations

import copy
import inspect
import types

import torch

from . import cases as C
from .core import Case, Exercise
from .references import LazyReference

__all__ = ["CAPSTONES", "parameters_after", "package_answers_used"]

F64 = torch.float64
REFERENCE_MODULES = ("ppo_grpo_lab.exercises.references", "_ppo_grpo_lab_instructor_references")
AGGREGATION_CYCLE = ("grpo", "bnpo", "dr_grpo", "dapo")


def parameters_after(args: tuple, returned) -> torch.Tensor:
    """The outcome compared: every parameter of the policy (``args[0]``) after the call, flattened."""
    return torch.cat([p.detach().reshape(-1).to(F64) for p in args[0].parameters()])


parameters_after.what = ", the policy's parameters after the call (flattened)"


def _seed(gen: torch.Generator) -> int:
    return C.randint(gen, 0, 2**31 - 1)


def _optimizer(gen, params, i: int, adam_lr=(0.05, 0.1, 0.3), sgd_lr=(0.5, 1.0, 2.0), adam_eps=1e-8):
    if i % 3 == 0:
        lr = C.choice(gen, adam_lr)
        if adam_eps == 1e-8:
            return torch.optim.Adam(params, lr=lr), f"Adam(lr={lr})"
        return torch.optim.Adam(params, lr=lr, eps=adam_eps), f"Adam(lr={lr}, eps={adam_eps})"
    lr, momentum = C.choice(gen, sgd_lr), (0.0 if i % 3 == 1 else 0.9)
    return torch.optim.SGD(params, lr=lr, momentum=momentum), f"SGD(lr={lr}, momentum={momentum})"


# ppo_update ------------------------------------------------------------------------------------
def _bandit_policy(S: int, A: int, logits: torch.Tensor):
    from ..bandit.policy import TabularSoftmaxPolicy
    policy = TabularSoftmaxPolicy(S, A).double()
    with torch.no_grad():
        policy.logits.copy_(logits)
    return policy


def _ppo_args(policy, opt, students, actions, old_lp, adv, seed, epochs, M, eps):
    obs = torch.nn.functional.one_hot(students, policy.logits.shape[0]).to(F64)  # (N, S)
    return (policy, opt, obs, actions, old_lp, adv, torch.Generator().manual_seed(seed), epochs, M, eps)


def _ppo_visible():
    # chapter 3's exam: two students, four study strategies, the reference habits; eight exams
    probs = torch.tensor([[0.55, 0.25, 0.19, 0.01], [0.55, 0.25, 0.19, 0.01]], dtype=F64)
    policy = _bandit_policy(2, 4, probs.log())
    opt = torch.optim.Adam(policy.parameters(), lr=0.1)
    students, actions = torch.tensor([0, 0, 1, 1, 0, 1, 0, 1]), torch.tensor([0, 1, 2, 3, 1, 0, 2, 1])
    adv = torch.tensor([0.1, 0.3, -0.2, 0.5, -0.1, -0.3, 0.2, 0.4], dtype=F64)
    old = torch.log(probs[students, actions])
    args = _ppo_args(policy, opt, students, actions, old, adv, 0, 2, 4, 0.2)
    return [Case("visible example", args, note="S=2, A=4, N=8, epochs=2, minibatch_size=4, clip_eps=0.2, "
                                              "Adam(lr=0.1), generator seed 0")]


def _ppo_hidden(gen, i):
    S, A = C.randint(gen, 1, 4), C.randint(gen, 2, 5)
    N = C.randint(gen, 1, 40) if i else 1
    M = C.choice(gen, (1, 2, 3, 5, 8, 16, 64))
    epochs, eps = C.randint(gen, 1, 4), C.choice(gen, (0.1, 0.2, 0.3))
    policy = _bandit_policy(S, A, C.normal(gen, (S, A)))
    opt, opt_note = _optimizer(gen, policy.parameters(), i)
    students = torch.randint(0, S, (N,), generator=gen)
    actions = torch.randint(0, A, (N,), generator=gen)
    obs = torch.nn.functional.one_hot(students, S).to(F64)
    with torch.no_grad():
        old = policy.log_prob(obs, actions)
    stale = i % 2 == 1  # the rollout's policy was not quite this one: ratios start away from 1
    if stale:
        old = old + C.normal(gen, (N,), scale=0.3)
    adv = C.normal(gen, (N,), scale=C.choice(gen, (0.5, 1.0, 2.0)))
    args = _ppo_args(policy, opt, students, actions, old, adv, _seed(gen), epochs, M, eps)
    note = (f"S={S}, A={A}, N={N}, epochs={epochs}, minibatch_size={M}, clip_eps={eps}, {opt_note}, "
            f"{'stale' if stale else 'fresh'} old_log_probs")
    return Case(f"hidden case {i}", args, note=note)


# grpo_step -------------------------------------------------------------------------------------
def _tiny_gpt(gen, V: int, block: int):
    from ..llm.model import GPTConfig, TinyGPT
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_seed(gen))
        return TinyGPT(GPTConfig(vocab_size=V, block_size=block, n_layer=1, n_head=2, n_embd=16))


def _grpo_case(gen, B, G, P, L, mask, rewards, beta, eps, aggregation, opt_kind: int, label, note=""):
    from ..llm.sampling import completion_log_probs
    V = 11
    policy = _tiny_gpt(gen, V, P + L)
    reference = copy.deepcopy(policy).eval()
    with torch.no_grad():  # the reference: the policy's earlier self, a little apart
        for q in reference.parameters():
            q.add_(0.05 * torch.randn(q.shape, generator=gen))
    opt, opt_note = _optimizer(gen, policy.parameters(), opt_kind, adam_lr=(1e-3, 3e-3), sgd_lr=(0.2, 0.5, 1.0),
                                 adam_eps=1e-3)  # float32: a large ε keeps rounding-level gradients' steps tiny
    prompts = torch.randint(0, V, (B, P), generator=gen).repeat_interleave(G, dim=0)  # (B·G, P)
    completions = torch.randint(0, V, (B * G, L), generator=gen)
    with torch.no_grad():
        old = completion_log_probs(policy, prompts, completions)["log_probs"]
    old = old + 0.3 * torch.randn(old.shape, generator=gen)  # π_θold a little apart: ratios off 1, some clipped
    old = torch.where(mask, old, -3.0 + 6.0 * torch.rand(old.shape, generator=gen))  # arbitrary padding
    args = (policy, reference, opt, prompts, completions, mask, old, rewards.float(), beta, eps, aggregation)
    note = f"B={B}, G={G}, P={P}, L={L}, beta={beta}, clip_eps={eps}, aggregation={aggregation!r}, {opt_note}{note}"
    return Case(label, args, note=note)


def _grpo_visible():
    gen = torch.Generator().manual_seed(11)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    return [_grpo_case(gen, 2, 2, 3, 4, mask, rewards, 0.04, 0.2, "grpo", 1, "visible example",
                       "; the second group's rewards are all equal")]


def _grpo_hidden(gen, i):
    B, G, P, L = C.randint(gen, 1, 3), C.randint(gen, 2, 5), C.randint(gen, 1, 3), C.randint(gen, 1, 6)
    mask = C.token_mask(gen, B * G, L)
    if i % 3 == 2:  # continuous rewards
        rewards = C.normal(gen, (B, G), scale=C.choice(gen, (0.5, 3.0)), loc=1.0)
    else:  # 0/1 rewards, all-equal groups included
        rewards = C.flags(gen, (B, G), 0.5).to(F64)
    beta = C.choice(gen, (0.0, 0.04, 0.1, 0.5))
    eps = C.choice(gen, (0.1, 0.2, 0.3))
    aggregation = AGGREGATION_CYCLE[i % len(AGGREGATION_CYCLE)]
    return _grpo_case(gen, B, G, P, L, mask, rewards, beta, eps, aggregation, 1 + i % 2 if i % 5 else 0,
                      f"hidden case {i}")


# no package answers ----------------------------------------------------------------------------
FORBIDDEN = {
    "ppo_update": ("ppo_grpo_lab.surrogate", ("clipped_surrogate", "clipped_objective", "_clipped_surrogate",
                                              "_clipped_objective")),
    "grpo_step": ("ppo_grpo_lab", ("grpo_loss", "clipped_surrogate", "clipped_objective", "_clipped_objective",
                                   "group_advantages", "_group_advantages", "kl_k3", "_kl_k3", "aggregate",
                                   "_aggregate", "aggregate_grpo", "aggregate_bnpo", "aggregate_dr_grpo",
                                   "aggregate_dapo", "masked_mean", "_masked_mean")),
}


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def package_answers_used(fn, name: str, _seen=None) -> list[str]:
    """The package functions of ``FORBIDDEN[name]`` that ``fn`` (or a helper it calls) uses, by name."""
    prefix, banned = FORBIDDEN[name]
    seen = set() if _seen is None else _seen
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None or code in seen:
        return []
    seen.add(code)
    fn = inspect.unwrap(fn)
    space = dict(getattr(fn, "__globals__", {}))
    for var, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            space[var] = cell.cell_contents  # names a closure sees (imports inside the enclosing function)
        except ValueError:  # an empty cell
            pass
    found = []
    for n in sorted(_code_names(code) | set(code.co_freevars)):
        obj = space.get(n)
        if isinstance(obj, types.ModuleType) and obj.__name__.startswith("ppo_grpo_lab"):
            found += [f"{obj.__name__}.{a}" for a in sorted(_code_names(code) & set(banned)) if hasattr(obj, a)]
        elif callable(obj) and (getattr(obj, "__module__", "") or "").startswith(prefix):
            found += [f"{obj.__module__}.{n}"] if getattr(obj, "__name__", n) in banned else []
        elif inspect.isfunction(obj) and not (obj.__module__ or "").startswith("ppo_grpo_lab"):
            found += package_answers_used(obj, name, seen)  # the student's own helper: look inside
    return sorted(set(found))


def _no_package_answer(name: str):
    def own_assembly(fn, gen):
        if getattr(inspect.unwrap(fn), "__module__", "") in REFERENCE_MODULES:
            return None  # the reference itself (an instructor's self-test) may use the package
        used = package_answers_used(fn, name)
        if used:
            return (f"your {name} calls {', '.join(used)} from the package; the capstone asks you to write "
                    f"these pieces yourself (your own functions from the earlier exercises are fine)")
        return None
    own_assembly.__name__ = f"{name}_own_assembly"
    return own_assembly


def _exercise(name, chapter, signature, visible, hidden, n_hidden, points):
    return Exercise(name=name, chapter=chapter, signature=signature, reference=LazyReference(name), visible=visible,
                    hidden=hidden, n_hidden=n_hidden, properties=[_no_package_answer(name)], atol=1e-6, rtol=1e-5,
                    points=float(points), outcome=parameters_after, timeout=60.0)  # a training step: more time


CAPSTONES: dict[str, Exercise] = {
    "ppo_update": _exercise(
        "ppo_update", 3, "ppo_update(policy, optimizer, obs, actions, old_log_probs, advantages, generator, epochs, "
        "minibatch_size, clip_eps)", _ppo_visible, _ppo_hidden, 24, 5),
    "grpo_step": _exercise(
        "grpo_step", 11, "grpo_step(policy, reference, optimizer, prompts, completions, mask, old_log_probs, rewards, "
        "beta, clip_eps, aggregation)", _grpo_visible, _grpo_hidden, 24, 5),
}
