"""The step protocol of ScratchpadAddition: every column "carry digit" is a step, the final answer the last."""
import numpy as np
import pytest

from ppo_grpo_lab.llm import CharTokenizer, Problem
from ppo_grpo_lab.llm.scratchpad import ScratchpadAddition, addition_work
from ppo_grpo_lab.llm.step_reward import step_rewards, step_rewards_from_completions
from ppo_grpo_lab.process import process_advantages

P3 = Problem("347+285=", "632")


def test_steps_by_hand_three_digits():
    task = ScratchpadAddition(3)
    assert task.steps(P3, "12,13,06>632") == [(1, True), (4, True), (7, True), (11, True)]
    # the carry forgotten in the second column (4+8 = 12, not 13): that step and the answer are wrong
    assert task.steps(P3, "12,12,06>622") == [(1, True), (4, False), (7, True), (11, False)]
    # right answer after wrong working: only the answer step is right
    assert task.steps(P3, "99,99,99>632") == [(1, False), (4, False), (7, False), (11, True)]
    assert task.steps(P3, "632") == [(2, True)]  # a direct answer is one step
    assert task.steps(P3, "") == []


def test_steps_by_hand_four_digits_brief_example():
    task = ScratchpadAddition(4)
    p = Problem("4347+5285=", "9632")
    text = "12,13,06,09>9632"  # 7+5=12, 4+8+1=13, 3+2+1=06, 4+5+0=09
    assert addition_work(4347, 5285, 4) == "12,13,06,09"
    assert task.steps(p, text) == [(1, True), (4, True), (7, True), (10, True), (15, True)]
    assert [text[e] for e, _ in task.steps(p, text)] == ["2", "3", "6", "9", "2"]


def test_malformed_working():
    task = ScratchpadAddition(3)
    # an empty column is no step; the third slot still compares with the third column
    assert task.steps(P3, "12,,06>632") == [(1, True), (5, True), (9, True)]
    # a column beyond the digits is a wrong step even when it looks right
    assert task.steps(P3, "12,13,06,12>632") == [(1, True), (4, True), (7, True), (10, False), (14, True)]
    # nothing after '>': the '>' closes the (wrong) final step
    assert task.steps(P3, "12,13>") == [(1, True), (4, True), (5, False)]
    assert task.steps(P3, ">") == [(0, False)]
    # one-character columns are still checked as text ("2" != "12")
    assert task.steps(P3, "2,13>632") == [(0, False), (3, True), (7, True)]


def test_steps_cover_every_demo_and_agree_with_the_checker():
    task = ScratchpadAddition(3, worked_frac=0.5)
    rng = np.random.default_rng(0)
    seen_worked = seen_wrong_col = 0
    for p in task.sample(200, rng):
        text = task.demo(p, rng, error_rate=0.5)
        st = task.steps(p, text)
        ends = [e for e, _ in st]
        assert ends == sorted(set(ends)) and ends[-1] == len(text) - 1
        assert st[-1][1] == task.is_correct(p, text)  # the last step is the outcome
        if ">" in text:
            seen_worked += 1
            assert len(st) == task.digits + 1
            # the careful demonstrator's working is all right; the careless one's is wrong after the first
            # carry (or, as "09,00,11>109" for 503+606, right in every column but the final carry dropped)
            cols_ok = [c for _, c in st[:-1]]
            assert all(cols_ok) or not task.is_correct(p, text)
            seen_wrong_col += not all(cols_ok)
    assert seen_worked > 50 and seen_wrong_col > 10


def test_step_rewards_and_process_advantages_on_scratchpad():
    task, tok = ScratchpadAddition(3), CharTokenizer()
    texts = ["12,13,06>632", "12,12,05>522", "632"]
    r, m, e = step_rewards(task, [P3] * 3, texts, [True] * 3)
    assert r.tolist() == [[1, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0]]
    assert e.tolist() == [[1, 4, 7, 12], [1, 4, 7, 12], [3, 0, 0, 0]]
    L = task.max_answer_len
    comps = np.zeros((3, L), dtype=np.int64)
    for i, t in enumerate(texts):
        row = tok.encode(t, bos=False, eos=True)
        comps[i, :len(row)] = row
    import torch
    r2, m2, e2 = step_rewards_from_completions(task, tok, [P3] * 3, torch.as_tensor(comps))
    assert r2.tolist() == r.tolist() and e2.tolist() == e.tolist()
    adv = process_advantages(r.view(1, 3, 4), m.view(1, 3, 4), e.view(1, 3, 4), L)
    # R = [1,1,1,1, 1,0,0,0, 1]: six 1s, three 0s: mean 2/3, unbiased std √(2/8) = 0.5; r̃ = 2/3 or −4/3
    hi, lo = 2 / 3, -4 / 3
    assert adv[0, 0].item() == pytest.approx(4 * hi, rel=1e-3)
    assert adv[1, 0].item() == pytest.approx(hi + 3 * lo, rel=1e-3)  # the first column right, then wrong
    assert adv[1, 2].item() == pytest.approx(3 * lo, rel=1e-3)  # from the second column on: all wrong
    assert adv[2, 0].item() == pytest.approx(hi, rel=1e-3) and adv[2, 4].item() == 0.0
