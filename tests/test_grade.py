"""The grader is honest: references pass, stubs are "not implemented", plausible wrong answers fail.

For every exercise, WRONG lists answers a reader could plausibly write (a classic bug, a
half-remembered formula, an answer hard-coded to the chapter's visible example); each
must fail on every seed tried. A grader that let one through would be a defect.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest
import torch
from test_grade_capstones import ALTERNATIVES_CAPSTONES, WRONG_CAPSTONES

from ppo_grpo_lab import aggregate_dapo, aggregate_dr_grpo, kl_k1, kl_k2
from ppo_grpo_lab import gae as pkg_gae
from ppo_grpo_lab.exercises import CHAPTERS, NAMES
from ppo_grpo_lab.exercises import references as R
from ppo_grpo_lab.grade import EXERCISES, check, example, grade
from ppo_grpo_lab.nstep import n_step_advantages as pkg_nstep

SEEDS = (0, 1, 2)


def _hardcoded(name):
    """An answer memorised from the chapter's visible example: right there (gradient included),
    and the same memorised number for any other input."""
    visible = EXERCISES[name].visible()
    answer = R.REFERENCES[name](*visible[0].args).detach()

    def same(a, b):
        if isinstance(a, torch.Tensor):
            return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a.detach(), b)
        return a == b

    def cheat(*args):
        for case in visible:
            if len(args) == len(case.args) and all(same(a, b) for a, b in zip(args, case.args)):
                return R.REFERENCES[name](*args)
        return answer.clone()
    return cheat


def _f(x):
    return x.to(torch.float64)


# --- wrong answers, per exercise -----------------------------------------------------------------
def _clip_parts(lp, old, adv, eps):
    ratio = torch.exp(lp - old)
    return ratio * adv, torch.clamp(ratio, 1 - eps, 1 + eps) * adv


def _returns_custom(r, te, tr, nv, g, boot_on_term=False, last_boot=True):
    """Returns where every episode end cuts the trace; bootstraps with next_values at truncations
    (and at terminations too if ``boot_on_term``) and after the last row if ``last_boot``."""
    done = te | tr
    boot = _f(tr | te) if boot_on_term else _f(tr & ~te)
    out = torch.zeros_like(r)
    last = torch.ones_like(r[0]) if boot_on_term else _f(~te[-1])
    acc = last * nv[-1] if last_boot else torch.zeros_like(r[0])
    for t in reversed(range(r.shape[0])):
        if t < r.shape[0] - 1:
            acc = _f(~done[t]) * acc + boot[t] * nv[t]
        acc = r[t] + g * acc
        out[t] = acc
    return out


def _gae_custom(r, v, nv, term_in_delta, cut, gamma, lam):
    delta = r + gamma * nv * (~term_in_delta).to(r.dtype) - v
    out, acc = torch.zeros_like(r), torch.zeros_like(r[0])
    for t in reversed(range(r.shape[0])):
        acc = delta[t] + gamma * lam * (~cut[t]).to(r.dtype) * acc
        out[t] = acc
    return out


WRONG = {
    "reinforce_loss": {
        "missing minus sign": lambda lp, r: (lp * r).mean(),
        "sum instead of mean": lambda lp, r: -(lp * r).sum(),
        "probabilities instead of log-probabilities": lambda lp, r: -(lp.exp() * r).mean(),
        "detached loss (no gradient)": lambda lp, r: -(lp * r).mean().detach(),
        "baseline subtracted (that is chapter 2)": lambda lp, r: -(lp * (r - r.mean())).mean(),
        "hard-coded visible answer": _hardcoded("reinforce_loss"),
    },
    "baseline_advantage": {
        "wrong sign": lambda r, v: v - r,
        "batch mean instead of the critic": lambda r, v: r - r.mean(),
        "ratio instead of difference": lambda r, v: r / v,
        "hard-coded visible answer": _hardcoded("baseline_advantage"),
    },
    "clipped_surrogate": {
        "forgot the min (clipped branch only)": lambda lp, o, a, e: -_clip_parts(lp, o, a, e)[1].mean(),
        "max instead of min": lambda lp, o, a, e: -torch.maximum(*_clip_parts(lp, o, a, e)).mean(),
        "objective not negated": lambda lp, o, a, e: torch.minimum(*_clip_parts(lp, o, a, e)).mean(),
        "ratio of log-probabilities": lambda lp, o, a, e: -torch.minimum(
            (lp / o) * a, torch.clamp(lp / o, 1 - e, 1 + e) * a).mean(),
        "upper clip only": lambda lp, o, a, e: -torch.minimum(
            torch.exp(lp - o) * a, torch.clamp(torch.exp(lp - o), max=1 + e) * a).mean(),
        "hard-coded visible answer": _hardcoded("clipped_surrogate"),
    },
    "kl_k3": {
        "k1 instead of k3": kl_k1,
        "k2 instead of k3": kl_k2,
        "ratio the wrong way round": lambda lp, rl: torch.expm1(lp - rl) - (lp - rl),
        "averaged instead of per element": lambda lp, rl: R.kl_k3(lp, rl).mean(),
        "hard-coded visible answer": _hardcoded("kl_k3"),
    },
    "group_advantages": {
        "normalised over the batch, not the group": lambda r, eps=1e-4: (r - r.mean(1, keepdim=True)) / (r.std() + eps),
        "population std (unbiased=False)": lambda r, eps=1e-4: torch.nan_to_num(
            (r - r.mean(1, keepdim=True)) / (r.std(1, unbiased=False, keepdim=True) + eps)),
        "no guard for all-equal groups": lambda r, eps=1e-4: (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + eps),
        "eps ignored": lambda r, eps=1e-4: R.group_advantages(r, 1e-8),
        "centred only, not scaled": lambda r, eps=1e-4: r - r.mean(1, keepdim=True),
        "statistics over the wrong dimension": lambda r, eps=1e-4: torch.nan_to_num(
            (r - r.mean(0, keepdim=True)) / (r.std(0, keepdim=True) + eps)),
        "hard-coded visible answer": _hardcoded("group_advantages"),
    },
    "discounted_returns": {
        "truncation treated as termination": lambda r, te, tr, nv, g: R.discounted_returns(r, te | tr, torch.zeros_like(tr), nv, g),
        "episode ends ignored": lambda r, te, tr, nv, g: R.discounted_returns(r, torch.zeros_like(te), torch.zeros_like(tr), nv, g),
        "bootstrap at termination too": lambda r, te, tr, nv, g: _returns_custom(r, te, tr, nv, g, boot_on_term=True),
        "no bootstrap after the last row": lambda r, te, tr, nv, g: _returns_custom(r, te, tr, nv, g, last_boot=False),
        "hard-coded visible answer": _hardcoded("discounted_returns"),
    },
    "td_residuals": {
        "termination ignored": lambda r, v, nv, te, g: r + g * nv - v,
        "gamma forgotten": lambda r, v, nv, te, g: r + nv * _f(~te) - v,
        "wrong sign": lambda r, v, nv, te, g: v - r - g * nv * _f(~te),
        "hard-coded visible answer": _hardcoded("td_residuals"),
    },
    "gae": {
        "episode ends ignored": lambda r, v, nv, te, tr, g, l: _gae_custom(r, v, nv, torch.zeros_like(te), torch.zeros_like(te), g, l),
        "truncation treated as termination": lambda r, v, nv, te, tr, g, l: _gae_custom(r, v, nv, te | tr, te | tr, g, l),
        "trace not cut at truncation": lambda r, v, nv, te, tr, g, l: _gae_custom(r, v, nv, te, te, g, l),
        "lambda forgotten": lambda r, v, nv, te, tr, g, l: pkg_gae(r, v, nv, te, tr, gamma=g, lam=1.0)[0],
        "returns (advantages, targets)": lambda r, v, nv, te, tr, g, l: pkg_gae(r, v, nv, te, tr, gamma=g, lam=l),
        "value targets instead of advantages": lambda r, v, nv, te, tr, g, l: pkg_gae(r, v, nv, te, tr, gamma=g, lam=l)[1],
        "values[t+1] as next value (final observation lost)": lambda r, v, nv, te, tr, g, l: R.gae(
            r, v, torch.cat([v[1:], nv[-1:]]), te, tr, g, l),
        "hard-coded visible answer": _hardcoded("gae"),
    },
    "q_from_v": {
        "gamma forgotten": lambda P, Rw, V, g: Rw + P @ V,
        "V of the current state, no expectation": lambda P, Rw, V, g: Rw + g * V[:, None].expand_as(Rw),
        "sum over the wrong state index": lambda P, Rw, V, g: Rw + g * torch.einsum("tas,t->sa", P, V),
        "advantage instead of Q": lambda P, Rw, V, g: Rw + g * P @ V - V[:, None],
        "hard-coded visible answer": _hardcoded("q_from_v"),
    },
    "value_loss": {
        "min instead of max": lambda v, t, o, e: torch.minimum(
            (v - t) ** 2, (o + torch.clamp(v - o, -e, e) - t) ** 2).mean(),
        "no clipping": lambda v, t, o, e: ((v - t) ** 2).mean(),
        "max of the two means": lambda v, t, o, e: torch.maximum(
            ((v - t) ** 2).mean(), ((o + torch.clamp(v - o, -e, e) - t) ** 2).mean()),
        "halved squared error": lambda v, t, o, e: 0.5 * R.value_loss(v, t, o, e),
        "clipped around the targets": lambda v, t, o, e: torch.maximum(
            (v - t) ** 2, (t + torch.clamp(v - t, -e, e) - t) ** 2).mean(),
        "detached (no gradient)": lambda v, t, o, e: R.value_loss(v.detach(), t, o, e),
        "hard-coded visible answer": _hardcoded("value_loss"),
    },
    "n_step_advantages": {
        "off by one (n + 1 rewards)": lambda r, v, nv, te, tr, g, n: pkg_nstep(r, v, nv, te, tr, gamma=g, n=n + 1),
        "off by one (n − 1 rewards)": lambda r, v, nv, te, tr, g, n: pkg_nstep(r, v, nv, te, tr, gamma=g, n=max(n - 1, 1)) if n > 1 else r * 0,
        "episode ends ignored": lambda r, v, nv, te, tr, g, n: pkg_nstep(r, v, nv, torch.zeros_like(te), torch.zeros_like(tr), gamma=g, n=n),
        "truncation treated as termination": lambda r, v, nv, te, tr, g, n: pkg_nstep(r, v, nv, te | tr, torch.zeros_like(tr), gamma=g, n=n),
        "Monte Carlo whatever n": lambda r, v, nv, te, tr, g, n: pkg_gae(r, v, nv, te, tr, gamma=g, lam=1.0)[0],
        "hard-coded visible answer": _hardcoded("n_step_advantages"),
    },
    "aggregate_grpo": {
        "mean over all tokens (DAPO)": aggregate_dapo,
        "sum over B * L (Dr. GRPO)": aggregate_dr_grpo,
        "mask ignored": lambda x, m: x.mean(),
        "padding left in the sum": lambda x, m: (x.sum(1) / m.sum(1)).mean(),
        "per-sequence sum, not mean": lambda x, m: (x * m).sum(1).mean(),
        "hard-coded visible answer": _hardcoded("aggregate_grpo"),
    },
    "bradley_terry_loss": {
        "log(sigmoid) (inf at a margin of -100 in float32)": lambda rc, rr: -torch.log(torch.sigmoid(rc - rr)).mean(),
        "log(1 + exp(-m)) (overflows at a margin of -100 in float32)": lambda rc, rr: torch.log1p(torch.exp(rr - rc)).mean(),
        "sign flipped (rejected preferred)": lambda rc, rr: torch.nn.functional.softplus(rc - rr).mean(),
        "sum instead of mean": lambda rc, rr: torch.nn.functional.softplus(rr - rc).sum(),
        "missing minus (log-likelihood, not its negative)": lambda rc, rr: torch.nn.functional.logsigmoid(rc - rr).mean(),
        "rejected reward detached": lambda rc, rr: torch.nn.functional.softplus(rr.detach() - rc).mean(),
        "hard-coded visible answer": _hardcoded("bradley_terry_loss"),
    },
}

WRONG.update(WRONG_CAPSTONES)  # the capstones' wrong updates (tests/test_grade_capstones.py)


def test_every_exercise_has_wrong_answers_stub_and_reference():
    assert set(WRONG) == set(NAMES) == set(EXERCISES) == set(CHAPTERS) == set(R.REFERENCES) == set(ALTERNATIVES)
    for name, wrongs in WRONG.items():
        assert len(wrongs) >= 3, name
        assert any("hard-coded" in w for w in wrongs), name


def test_custom_wrong_helpers_are_right_when_set_right():
    """The helpers that build wrong answers reproduce the reference with the bug switched off."""
    gen = torch.Generator().manual_seed(0)
    for i in range(8):
        case = EXERCISES["discounted_returns"].hidden(gen, i)
        torch.testing.assert_close(_returns_custom(*case.args), R.discounted_returns(*case.args))
        case = EXERCISES["gae"].hidden(gen, i)
        r, v, nv, te, tr, g, lam = case.args
        torch.testing.assert_close(_gae_custom(r, v, nv, te, te | tr, g, lam), R.gae(*case.args))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", SEEDS + (12345,))
def test_reference_passes(name, seed):
    result = grade(name, R.REFERENCES[name], seed=seed, allow_reference=True)  # a submission may not: see below
    assert result.passed, result.message
    assert result.cases_run == len(EXERCISES[name].visible()) + EXERCISES[name].n_hidden + len(EXERCISES[name].properties)


# --- independent correct answers (the chapters' solutions and plain loops), not the package's code
def _alt_returns(rewards, terminated, truncated, next_values, gamma):
    T = rewards.shape[0]
    out = torch.zeros_like(rewards)
    future = next_values[-1] * (~terminated[-1])
    for t in reversed(range(T)):
        if t < T - 1:
            keep = ~(terminated[t] | truncated[t])
            future = torch.where(keep, out[t + 1], next_values[t] * (truncated[t] & ~terminated[t]))
        out[t] = rewards[t] + gamma * future
    return out


def _alt_gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    delta = rewards + gamma * next_values * (~terminated) - values
    adv = torch.zeros_like(delta)
    adv[-1] = delta[-1]
    for t in reversed(range(delta.shape[0] - 1)):
        adv[t] = delta[t] + gamma * lam * (~(terminated[t] | truncated[t])) * adv[t + 1]
    return adv


def _alt_group(rewards, eps=1e-4):
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    adv = centred / (rewards.std(dim=1, keepdim=True) + eps)
    flat = (rewards.amax(dim=1) == rewards.amin(dim=1)).unsqueeze(1)
    return torch.where(flat, torch.zeros_like(adv), adv)


def _alt_nstep(rewards, values, next_values, terminated, truncated, gamma, n):
    delta = R.td_residuals(rewards, values, next_values, terminated, gamma)
    done = terminated | truncated
    out = torch.zeros_like(delta)
    for t in range(delta.shape[0]):
        alive = torch.ones_like(delta[0])
        for k in range(min(n, delta.shape[0] - t)):
            out[t] += alive * gamma**k * delta[t + k]
            alive = alive * _f(~done[t + k])
    return out


ALTERNATIVES = {
    "reinforce_loss": lambda log_probs, rewards: -(log_probs * rewards.detach()).mean(),
    "baseline_advantage": lambda rewards, values: rewards - values.detach(),
    "clipped_surrogate": lambda lp, old, adv, eps: -torch.minimum(
        torch.exp(lp - old.detach()) * adv, torch.clamp(torch.exp(lp - old.detach()), 1 - eps, 1 + eps) * adv).mean(),
    "kl_k3": lambda lp, rl: torch.exp(rl - lp) - 1 - (rl - lp),
    "group_advantages": _alt_group,
    "discounted_returns": _alt_returns,
    "td_residuals": lambda r, v, nv, te, g: r + g * nv * (1 - te.float()) - v,
    "gae": _alt_gae,
    "q_from_v": lambda P, Rw, V, g: Rw + g * (P * V).sum(-1),
    "value_loss": lambda v, t, o, e: torch.maximum(
        (v - t) ** 2, (o + torch.clamp(v - o, -e, e) - t) ** 2).mean(),
    "n_step_advantages": _alt_nstep,
    "aggregate_grpo": lambda x, m: ((x * m.float()).sum(1) / m.float().sum(1).clamp(min=1)).mean(),
    "bradley_terry_loss": lambda rc, rr: -torch.nn.functional.logsigmoid(rc - rr).mean(),
}

ALTERNATIVES.update(ALTERNATIVES_CAPSTONES)


# --- process_advantages (chapter 15): wrong answers and an independent loop ----------------------
def _process_custom(r, m, e, L, eps=1e-4, stats="question", unbiased=True, own=True, later=True, guard=True):
    """Process advantages by loops, with one switch per plausible bug (the defaults give the right answer).

    stats: "question" (all real steps of the G answers), "answer" (each answer's own steps), "slots" (every
    one of the G·S slots, padding included). own: a token's own step counts. later: steps ending at or
    after t (False: before or at t). guard: flat questions give 0."""
    B, G, S = r.shape
    out = torch.zeros(B * G, L, dtype=torch.float64)
    for b in range(B):
        for g in range(G):
            if stats == "answer":
                pool = r[b, g][m[b, g]]
            else:
                pool = r[b][m[b]] if stats == "question" else r[b].flatten()
            flat = pool.numel() < 2 or bool(pool.max() == pool.min())
            if flat and guard:
                continue
            mean, std = pool.mean(), pool.std(unbiased=unbiased)
            for j in range(S):
                if not m[b, g, j]:
                    continue
                end = int(e[b, g, j])
                tokens = (range(end + 1) if own else range(end)) if later else range(end, L)
                for t in tokens:
                    out[b * G + g, t] += (r[b, g, j] - mean) / (std + eps)
    return out


def _process_outcome_only(r, m, e, L, eps=1e-4):
    """Outcome supervision: each answer's last real step alone, normalised over the question's answers."""
    last = torch.where(m, r, torch.zeros_like(r))
    k = m.sum(-1)
    final = last.gather(-1, (k - 1).clamp(min=0).unsqueeze(-1))  # (B, G, 1)
    keep = (k > 0).unsqueeze(-1)
    ends = e.gather(-1, (k - 1).clamp(min=0).unsqueeze(-1))
    return R.process_advantages(final, keep, ends, L, eps)


WRONG["process_advantages"] = {
    "normalised per answer, not per question": lambda r, m, e, L, eps=1e-4: _process_custom(r, m, e, L, eps, stats="answer"),
    "padding slots in the mean and std": lambda r, m, e, L, eps=1e-4: _process_custom(r, m, e, L, eps, stats="slots"),
    "padding as zero rewards in the statistics": lambda r, m, e, L, eps=1e-4: _process_custom(
        torch.where(m, r, torch.zeros_like(r)), m, e, L, eps, stats="slots"),
    "population std (unbiased=False)": lambda r, m, e, L, eps=1e-4: _process_custom(r, m, e, L, eps, unbiased=False),
    "own step excluded (only steps ending after t)": lambda r, m, e, L, eps=1e-4: _process_custom(r, m, e, L, eps, own=False),
    "earlier steps summed instead of later ones": lambda r, m, e, L, eps=1e-4: _process_custom(r, m, e, L, eps, later=False),
    "no guard for flat questions": lambda r, m, e, L, eps=1e-4: _process_custom(r, m, e, L, eps, guard=False),
    "outcome supervision (last step only)": _process_outcome_only,
    "hard-coded visible answer": _hardcoded("process_advantages"),
}
ALTERNATIVES["process_advantages"] = _process_custom


@pytest.mark.parametrize("name", NAMES)
def test_independent_correct_answer_passes(name):
    for seed in SEEDS:
        result = grade(name, ALTERNATIVES[name], seed=seed)
        assert result.passed, result.message


@pytest.mark.parametrize("name", NAMES)
def test_stub_is_not_implemented_and_does_not_raise(name, capsys):
    stub = getattr(importlib.import_module(f"ppo_grpo_lab.exercises.{name}"), name)
    result = check(name, stub)
    assert result.status == "not implemented" and not result.passed
    assert "not implemented yet" in capsys.readouterr().out


@pytest.mark.filterwarnings(r"ignore:std\(\)")
@pytest.mark.parametrize("name,label", [(n, w) for n, ws in WRONG.items() for w in ws])
def test_wrong_answer_fails(name, label):
    wrong = WRONG[name][label]
    for seed in SEEDS:
        result = grade(name, wrong, seed=seed)
        assert result.status == "failed", f"{name}: wrong answer {label!r} passed with seed {seed}"
        assert f"seed={seed}" in result.message
    if "hard-coded" in label:  # the visible example alone would not catch it: hidden cases do
        assert "hidden case" in result.message


def test_failure_is_loud_and_explains(capsys):
    with pytest.raises(AssertionError) as info:
        check("gae", WRONG["gae"]["truncation treated as termination"], seed=4)
    msg = str(info.value)
    assert "expected" in msg and "got" in msg and "index" in msg and "seed=4" in msg and "inputs:" in msg
    assert msg.startswith("gae: FAILED")
    result = check("gae", WRONG["gae"]["truncation treated as termination"], seed=4, raise_on_fail=False)
    assert result.status == "failed" and not result and "FAILED" in capsys.readouterr().out


def test_failure_messages_for_shape_tuple_and_crash():
    msg = grade("gae", WRONG["gae"]["returns (advantages, targets)"], seed=0).message
    assert "tuple" in msg
    msg = grade("kl_k3", WRONG["kl_k3"]["averaged instead of per element"], seed=0).message
    assert "expected shape" in msg
    msg = grade("td_residuals", lambda r, v, nv, te, g: r + g * nv * (1 - te) - v, seed=0).message
    assert "raised RuntimeError" in msg and "Hint" in msg  # 1 - bool tensor
    msg = grade("reinforce_loss", WRONG["reinforce_loss"]["detached loss (no gradient)"], seed=0).message
    assert "not differentiable" in msg
    msg = grade("bradley_terry_loss", WRONG["bradley_terry_loss"]["rejected reward detached"], seed=0).message
    assert "not differentiable in `r_rejected`" in msg  # the last argument, named without its ")"


def test_in_place_modification_is_reported():
    def sneaky(rewards, values):
        rewards -= values
        return rewards
    msg = grade("baseline_advantage", sneaky, seed=0).message
    assert "in place" in msg


def test_same_seed_same_cases_and_fresh_seed_is_printed(capsys):
    a = grade("gae", WRONG["gae"]["trace not cut at truncation"], seed=11)
    b = grade("gae", WRONG["gae"]["trace not cut at truncation"], seed=11)
    assert a.message == b.message and a.cases_run == b.cases_run
    result = check("kl_k3", ALTERNATIVES["kl_k3"])  # R.kl_k3 itself is a re-export: test_grade_class
    assert result.passed and f"seed {result.seed}" in capsys.readouterr().out


def test_numpy_and_float32_answers_are_accepted():
    assert grade("baseline_advantage", lambda r, v: (r - v).numpy(), seed=0).passed
    assert grade("td_residuals", lambda r, v, nv, te, g: R.td_residuals(r.float(), v.float(), nv.float(), te, g),
                 seed=0).passed


def test_example_gives_the_visible_cases():
    ex = example("discounted_returns")
    assert len(ex) == 2 and "truncated" in ex[0]["note"]
    torch.testing.assert_close(ex[0]["expected"].flatten(), torch.tensor([3.074, 2.86, 2.4], dtype=torch.float64))
    torch.testing.assert_close(example("q_from_v")[0]["expected"][0], torch.tensor([2.8, 0.0], dtype=torch.float64))


def test_unknown_name_is_a_value_error():
    with pytest.raises(ValueError, match="expected one of"):
        check("gea", R.gae)


# --- command line ------------------------------------------------------------------------------
def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ppo_grpo_lab.grade", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_cli_stubs_exit_1_with_table():
    proc = _cli("gae", "kl_k3", "--seed", "0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not implemented" in proc.stdout and "gae" in proc.stdout and "0/2 passed" in proc.stdout


def test_cli_file_with_references_fails_and_self_test_passes(tmp_path):
    """Re-exporting the references scored 12/12 once; now every exercise fails, saying why.
    The references themselves still pass when the instructor grades them (--self-test)."""
    f = tmp_path / "mine.py"
    f.write_text("from ppo_grpo_lab.exercises.references import *\n")
    proc = _cli("--file", str(f), "--seed", "3")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"0/{len(NAMES)} passed" in proc.stdout and "re-exported" in proc.stdout
    proc = _cli("--self-test", "--seed", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(NAMES)}/{len(NAMES)} passed" in proc.stdout


def test_cli_file_with_a_wrong_answer_exits_1(tmp_path):
    f = tmp_path / "mine.py"
    f.write_text(textwrap.dedent("""
        import torch
        def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
            delta = rewards + gamma * next_values * (~terminated) - values
            adv = torch.zeros_like(delta)
            adv[-1] = delta[-1]
            for t in reversed(range(delta.shape[0] - 1)):
                adv[t] = delta[t] + gamma * lam * (~(terminated[t] | truncated[t])) * adv[t + 1]
            return adv
        def td_residuals(rewards, values, next_values, terminated, gamma):
            return rewards + gamma * next_values - values   # ignores termination
    """))
    proc = _cli("--file", str(f), "--seed", "0")
    assert proc.returncode == 1
    assert "td_residuals" in proc.stdout and "failed" in proc.stdout and "1/2 passed" in proc.stdout
    proc = _cli("--file", str(f), "gae")
    assert proc.returncode == 0, proc.stdout


def test_cli_usage_errors_exit_2():
    assert _cli("not_an_exercise").returncode == 2
