"""The capstones ``ppo_update`` and ``grpo_step``: plausible wrong updates fail, independent right ones pass,
a submission that calls the package's own loss is caught, and a right update plugged into a trainer learns.

``WRONG_CAPSTONES`` and ``ALTERNATIVES_CAPSTONES`` join test_grade.py's tables (its tests run them on
every seed); each wrong answer is the independent solution below with one switch flipped, and the
test at the end checks that with every switch right it is the reference again.
"""
from __future__ import annotations

import copy
import time

import pytest
import torch

from ppo_grpo_lab.grade import EXERCISES, example, grade
from ppo_grpo_lab.grade.capstones import package_answers_used
from ppo_grpo_lab.llm.sampling import completion_log_probs


# --- ppo_update: one independent solution with switches ----------------------------------------
def _ppo(policy, optimizer, obs, actions, old_log_probs, advantages, generator, epochs, minibatch_size, clip_eps,
         shuffle=True, fresh_order=True, clip=True, pick=torch.minimum, reduce="mean", step="minibatch",
         zero_grad=True, minibatches=True, recompute_old=False):
    n = actions.shape[0]
    order = torch.randperm(n, generator=generator) if not fresh_order else None
    if recompute_old:
        with torch.no_grad():
            old_log_probs = policy.log_prob(obs, actions)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator) if fresh_order else order
        if not shuffle:
            perm = torch.arange(n)
        for mb in (perm.split(minibatch_size) if minibatches else [perm]):
            ratio = torch.exp(policy.log_prob(obs[mb], actions[mb]) - old_log_probs[mb])
            adv = advantages[mb]
            clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) if clip else ratio
            per_exam = pick(ratio * adv, clipped * adv)
            loss = -(per_exam.mean() if reduce == "mean" else per_exam.sum())
            if zero_grad and step == "minibatch":
                optimizer.zero_grad()
            loss.backward()
            if step == "minibatch":
                optimizer.step()
        if step == "epoch":
            optimizer.step()
            optimizer.zero_grad()


def _ppo_with(**switches):
    def ppo_update(policy, optimizer, obs, actions, old_log_probs, advantages, generator, epochs, minibatch_size,
                   clip_eps):
        _ppo(policy, optimizer, obs, actions, old_log_probs, advantages, generator, epochs, minibatch_size, clip_eps,
             **switches)
    return ppo_update


def _hardcoded_update(name):
    """Sets the parameters to those the chapter's visible example ends with, whatever the inputs."""
    answer = example(name)[0]["expected"]

    def cheat(policy, *args):
        flat = [p for p in policy.parameters()]
        if sum(p.numel() for p in flat) == answer.numel():
            with torch.no_grad():
                torch.nn.utils.vector_to_parameters(answer.to(flat[0].dtype), flat)
    return cheat


# --- grpo_step: one independent solution with switches -----------------------------------------
def _group_adv(rewards, normalise=True):
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if not normalise:
        return centred
    adv = centred / (rewards.std(dim=1, keepdim=True) + 1e-4)
    return torch.where((rewards.amax(1) == rewards.amin(1))[:, None], torch.zeros_like(adv), adv)


def _grpo(policy, reference, optimizer, prompts, completions, mask, old_log_probs, rewards, beta, clip_eps,
          aggregation, normalise=True, group_order=True, use_mask=True, clip=True, pick=torch.minimum, kl="k3",
          kl_sign=-1.0, reduce="mean", rule=None):
    adv = _group_adv(rewards, normalise)  # (B, G)
    adv = (adv if group_order else adv.t()).reshape(-1, 1)  # (B·G, 1); transposed: answers of one question scattered
    lp = completion_log_probs(policy, prompts, completions)["log_probs"]
    with torch.no_grad():
        ref = completion_log_probs(reference, prompts, completions)["log_probs"]
    ratio = torch.exp(lp - old_log_probs)
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) if clip else ratio
    d = ref - lp
    k = torch.exp(d) - 1 - d if kl == "k3" else -d
    x = pick(ratio * adv, clipped * adv) + kl_sign * beta * k
    m = mask.float() if use_mask else torch.ones_like(mask, dtype=torch.float32)
    x = torch.where(m > 0, x, torch.zeros_like(x))
    rule = rule or aggregation
    if rule == "grpo":
        per_answer = x.sum(1) / (m.sum(1) if reduce == "mean" else 1.0)
        agg = per_answer.mean()
    elif rule in ("bnpo", "dapo"):
        agg = x.sum() / (m.sum() if reduce == "mean" else 1.0)
    else:
        agg = x.sum() / (x.shape[0] * x.shape[1] if reduce == "mean" else 1.0)
    optimizer.zero_grad()
    (-agg).backward()
    optimizer.step()


def _grpo_with(**switches):
    def grpo_step(policy, reference, optimizer, prompts, completions, mask, old_log_probs, rewards, beta, clip_eps,
                  aggregation):
        _grpo(policy, reference, optimizer, prompts, completions, mask, old_log_probs, rewards, beta, clip_eps,
              aggregation, **switches)
    return grpo_step


WRONG_CAPSTONES = {
    "ppo_update": {
        "no minibatch shuffling": _ppo_with(shuffle=False),
        "one order for every epoch": _ppo_with(fresh_order=False),
        "ratio not clipped": _ppo_with(clip=False),
        "max instead of min": _ppo_with(pick=torch.maximum),
        "sum instead of mean over the minibatch": _ppo_with(reduce="sum"),
        "optimizer step per epoch instead of per minibatch": _ppo_with(step="epoch"),
        "no zero_grad (gradients pile up)": _ppo_with(zero_grad=False),
        "whole rollout as one batch": _ppo_with(minibatches=False),
        "old log-probs recomputed (ratio starts at 1)": _ppo_with(recompute_old=True),
        "hard-coded visible answer": _hardcoded_update("ppo_update"),
    },
    "grpo_step": {
        "mask ignored": _grpo_with(use_mask=False),
        "sum instead of mean aggregation": _grpo_with(reduce="sum"),
        "advantages not normalised": _grpo_with(normalise=False),
        "advantages flattened in the wrong order": _grpo_with(group_order=False),
        "ratio not clipped": _grpo_with(clip=False),
        "max instead of min": _grpo_with(pick=torch.maximum),
        "KL added instead of subtracted": _grpo_with(kl_sign=1.0),
        "k1 instead of k3": _grpo_with(kl="k1"),
        "aggregation argument ignored (always grpo)": _grpo_with(rule="grpo"),
        "hard-coded visible answer": _hardcoded_update("grpo_step"),
    },
}

ALTERNATIVES_CAPSTONES = {"ppo_update": _ppo_with(), "grpo_step": _grpo_with()}


def test_switches_off_give_the_reference_and_every_wrong_answer_fails_somewhere_early():
    for name in WRONG_CAPSTONES:
        assert grade(name, ALTERNATIVES_CAPSTONES[name], seed=7).passed
        for label, wrong in WRONG_CAPSTONES[name].items():
            result = grade(name, wrong, seed=7)
            assert result.status == "failed" and "parameters" in result.message, (name, label, result.message)


def test_grading_leaves_the_case_objects_untouched_and_says_what_differs():
    ex = EXERCISES["ppo_update"]
    case = ex.visible()[0]
    before = case.args[0].logits.detach().clone()
    ex.reference(*copy.deepcopy(case.args))
    from ppo_grpo_lab.grade.core import _run_case
    _run_case(ex, ALTERNATIVES_CAPSTONES["ppo_update"], case)  # passes: no exception
    assert torch.equal(case.args[0].logits.detach(), before)
    msg = grade("ppo_update", WRONG_CAPSTONES["ppo_update"]["max instead of min"], seed=0).message
    assert "visible example, the policy's parameters after the call" in msg and "minibatch_size=4" in msg
    assert "<Adam>" in msg or "Adam" in msg


def _student_kl(log_probs, ref_log_probs):
    d = ref_log_probs - log_probs
    return torch.exp(d) - 1 - d


def test_calling_the_package_loss_is_caught_but_own_helpers_are_fine():
    import ppo_grpo_lab
    from ppo_grpo_lab.llm import grpo_loss

    def lazy_grpo(policy, reference, optimizer, prompts, completions, mask, old_log_probs, rewards, beta, clip_eps,
                  aggregation):
        adv = ppo_grpo_lab.group_advantages(rewards).reshape(-1)
        lp = completion_log_probs(policy, prompts, completions)["log_probs"]
        ref = completion_log_probs(reference, prompts, completions)["log_probs"].detach()
        loss, _ = grpo_loss(lp, old_log_probs, ref, adv, mask, clip_eps=clip_eps, beta=beta, aggregation=aggregation)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    assert package_answers_used(lazy_grpo, "grpo_step") == ["ppo_grpo_lab.group_advantages",
                                                            "ppo_grpo_lab.llm.grpo_loss.grpo_loss"]
    result = grade("grpo_step", lazy_grpo, seed=0)
    assert result.status == "failed" and "property check" in result.message and "grpo_loss" in result.message
    assert package_answers_used(ALTERNATIVES_CAPSTONES["grpo_step"], "grpo_step") == []
    assert package_answers_used(_student_kl, "grpo_step") == []  # a student's own k3 (chapter 4) is theirs


def _ppo_hook(ppo_update, seed=0, epochs=4, minibatch_size=16, clip_eps=0.2):
    gen = torch.Generator().manual_seed(seed)

    def hook(policy, optimizer, obs, actions, old_log_probs, advantages):
        ppo_update(policy, optimizer, obs, actions, old_log_probs, advantages, gen, epochs, minibatch_size, clip_eps)
    return hook


def test_ppo_update_plugged_into_the_bandit_trainer_learns():
    from ppo_grpo_lab.bandit import BanditConfig, train_bandit
    cfg = BanditConfig(baseline="critic", clip_eps=0.2, num_updates=30, seed=0, progress=False)
    t0 = time.process_time()
    _, _, hist = train_bandit(cfg, policy_update=_ppo_hook(ALTERNATIVES_CAPSTONES["ppo_update"]))
    j = hist.series("reward/expected")[1]
    assert j[-1] > j[0] + 0.2, (j[0], j[-1])  # measured 0.591 -> 0.877 (seed 0), as the trainer's own μ = 4
    assert time.process_time() - t0 < 10
    _, _, flat = train_bandit(cfg, policy_update=lambda *args: None)  # a hook that does nothing: nothing learns
    still = flat.series("reward/expected")[1]
    assert still.max() == still.min() < j[-1] - 0.2  # J of π_ref (0.592) from start to end
    with pytest.raises(ValueError, match="beta"):
        train_bandit(BanditConfig(beta=0.1, num_updates=1, progress=False), policy_update=lambda *a: None)


def test_grpo_step_plugged_into_the_trainer_learns():
    from ppo_grpo_lab.llm.step_hook import learning_check
    t0 = time.process_time()
    start, end = learning_check(ALTERNATIVES_CAPSTONES["grpo_step"], num_updates=12)
    assert end > start + 0.5, (start, end)  # measured 0.07 -> 0.91 (seed 0)
    assert time.process_time() - t0 < 20
    start, end = learning_check(lambda *args: None, num_updates=3)
    assert abs(end - start) < 0.15
