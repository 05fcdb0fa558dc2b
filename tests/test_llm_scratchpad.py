"""Scratchpad tasks (worked vs direct answers, reward on the final answer only) and pass@k."""
import math

import numpy as np
import pytest
import torch

from ppo_grpo_lab.llm import CharTokenizer, GPTConfig, Problem, TinyGPT, demo_batch
from ppo_grpo_lab.llm.evaluation import answer_stats, answers, pass_at_k
from ppo_grpo_lab.llm.scratchpad import (
    ScratchpadAddition,
    ScratchpadCountdown,
    addition_work,
    countdown_attempt,
    final_answer,
    is_worked,
)


def test_addition_work_by_hand():
    assert addition_work(347, 285, 3) == "12,13,06"  # 7+5=12, 4+8+1=13, 3+2+1=06
    assert addition_work(347, 285, 3, carry=False) == "12,12,05"  # carries forgotten
    assert addition_work(999, 1, 3) == "10,10,10"
    assert addition_work(7, 85, 2) == "12,09"
    assert is_worked("12,13,06>632") and not is_worked("632")
    assert final_answer("12,13,06>632") == "632" and final_answer("632") == "632"


def test_scratchpad_addition_rewards_final_answer_only():
    task = ScratchpadAddition(3, format_weight=0.1)
    p = Problem("347+285=", "632")
    assert task.reward(p, "632", True) == pytest.approx(1.1)
    assert task.reward(p, "12,13,06>632", True) == pytest.approx(1.1)
    assert task.reward(p, "99,99,99>632", True) == pytest.approx(1.1)  # the working is never checked
    assert task.reward(p, "12,12,05>522", True) == pytest.approx(0.1)  # carry forgotten: formatted, wrong
    assert task.reward(p, "12,13>632", True) == pytest.approx(1.0)  # right answer, two columns: not formatted
    assert task.reward(p, "12,13,06>632", False) == 0.0  # no EOS
    assert task.max_answer_len == 14 == len("12,13,06>1000") + 1  # longest worked answer + EOS
    assert ScratchpadAddition(4).max_answer_len == len("00,00,00,00>10000") + 1


def test_countdown_attempts_by_hand():
    task = ScratchpadCountdown(3, format_weight=0.1)
    p = Problem("3,4,2>10=", "3*4-2")
    assert countdown_attempt("3*4+2") == "3*4+2=14"
    assert countdown_attempt("2-9+3") == "2-9+3=-4"
    assert task.reward(p, "3*4+2=14,3*4-2=10>3*4-2", True) == pytest.approx(1.1)
    assert task.reward(p, "4*3-2", True) == pytest.approx(1.1)
    assert task.reward(p, "3*4-2=10>3*4+2", True) == pytest.approx(0.1)  # only the final answer counts
    assert task.reward(p, "3*4+2=14>", True) == 0.0  # no final expression
    assert task.reward(p, "3*4+2=14,>3*4-2", True) == pytest.approx(1.0)  # right, but badly formed
    assert task.max_answer_len == 3 * len("9*9*9=729,") + len("9*9*9") + 1  # max_wrong + 1 attempts


@pytest.mark.parametrize("task", [ScratchpadAddition(3, worked_frac=0.3), ScratchpadCountdown(3, worked_frac=0.3)])
def test_demo_mixture(task):
    rng = np.random.default_rng(0)
    probs = task.sample(600, rng)
    demos = [task.demo(p, rng, 0.0) for p in probs]
    worked = np.mean([is_worked(d) for d in demos])
    assert 0.25 < worked < 0.35  # a minority, as configured
    assert all(task.is_correct(p, d) and task.is_formatted(d) for p, d in zip(probs, demos))
    assert max(len(d) for d in demos) + 1 <= task.max_answer_len  # EOS fits
    never = type(task)(3, worked_frac=0.0)
    assert not any(is_worked(never.demo(p, rng, 0.0)) for p in probs[:50])
    bad = [task.demo(p, rng, 1.0) for p in probs[:200]]
    assert np.mean([not task.is_correct(p, d) for p, d in zip(probs, bad)]) > 0.5  # the demonstrator's habit


def test_countdown_worked_demos_check_attempts():
    task = ScratchpadCountdown(3, worked_frac=1.0, max_wrong=2)
    rng = np.random.default_rng(1)
    for p in task.sample(100, rng):
        d = task.demo(p, rng, 0.0)
        work, expr = d.rsplit(">", 1)
        tries = work.split(",")
        _, target = task.parse(p)
        assert 1 <= len(tries) <= 3 and tries[-1] == countdown_attempt(expr)
        assert all(int(t.split("=")[1]) != target for t in tries[:-1])  # wrong attempts are checked wrong
        assert len(set(tries)) == len(tries)


def test_scratchpad_keeps_split_and_parent_behaviour():
    task = ScratchpadAddition(3)
    ev = task.eval_set(50, seed=3)
    from ppo_grpo_lab.llm import AdditionTask
    assert ev == AdditionTask(3).eval_set(50, seed=3)
    with pytest.raises(ValueError, match="worked_frac"):
        ScratchpadAddition(3, worked_frac=1.5)
    with pytest.raises(ValueError, match="max_wrong"):
        ScratchpadCountdown(3, max_wrong=-1)


def test_demo_batch_fits_worked_answers():
    tok = CharTokenizer()
    task = ScratchpadAddition(3, worked_frac=1.0)
    seq, mask = demo_batch(task, tok, 8, np.random.default_rng(0), 0.0)
    assert seq.shape == (8, 9 + task.max_answer_len)
    text = tok.decode(seq[0, 9:])
    assert is_worked(text)


# ---------------------------------------------------------------- pass@k

def test_pass_at_k_by_hand():
    assert pass_at_k(2, 1, 1) == pytest.approx(0.5)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(8, 1, 8) == 1.0 and pass_at_k(8, 0, 8) == 0.0 and pass_at_k(8, 8, 1) == 1.0
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)  # pass@1 is the fraction correct
    np.testing.assert_allclose(pass_at_k(4, np.array([0, 1, 4]), 2), [0.0, 0.5, 1.0])


def test_pass_at_k_matches_binomials():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 30))
        k, c = int(rng.integers(1, n + 1)), int(rng.integers(0, n + 1))
        assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))
    with pytest.raises(ValueError, match="k, n"):
        pass_at_k(4, 1, 5)
    with pytest.raises(ValueError, match="c: expected"):
        pass_at_k(4, 5, 1)


def test_answer_stats_by_hand():
    ans = {"correct": torch.tensor([[True, False, False, False], [False, False, False, False]]),
           "worked": torch.tensor([[True, True, False, False], [False, False, False, False]]),
           "length": torch.tensor([[14.0, 14.0, 4.0, 4.0], [4.0, 4.0, 4.0, 4.0]])}
    st = answer_stats(ans, ks=(1, 2, 8))
    assert st["eval/accuracy"] == pytest.approx(1 / 8) == pytest.approx(st["eval/pass@1"])
    assert st["eval/pass@2"] == pytest.approx((0.5 + 0.0) / 2)
    assert "eval/pass@8" not in st  # k > n skipped
    assert st["eval/worked_frac"] == pytest.approx(0.25) and st["eval/length"] == pytest.approx(6.5)
    with pytest.raises(ValueError, match="one shape"):
        answer_stats({**ans, "length": torch.zeros(3)})


def test_answers_shapes_and_greedy_repeats():
    tok = CharTokenizer()
    task = ScratchpadAddition(2)
    model = TinyGPT(GPTConfig(vocab_size=tok.vocab_size, block_size=7 + task.max_answer_len, n_layer=1, n_embd=32))
    probs = task.eval_set(5, seed=0)
    g = answers(model, task, tok, probs, n=3, temperature=0.0)
    assert g["correct"].shape == g["worked"].shape == g["length"].shape == (5, 3)
    assert all(len(set(t)) == 1 for t in g["text"])  # greedy: the n answers agree
    s = answers(model, task, tok, probs, n=3, temperature=1.0, seed=1)
    assert s["text"] == answers(model, task, tok, probs, n=3, temperature=1.0, seed=1)["text"]
    assert ((s["length"] >= 1) & (s["length"] <= task.max_answer_len)).all()
