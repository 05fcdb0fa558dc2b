"""Rule-based rewards of the toy tasks, held-out split, imperfect demonstrations."""
import numpy as np
import pytest
import torch

from ppo_grpo_lab.llm import (
    EOS,
    PAD,
    AdditionTask,
    CharTokenizer,
    CountdownTask,
    Problem,
    demo_batch,
    eval_expression,
    is_heldout,
    no_carry_sum,
    score,
)


def test_no_carry_sum_and_expressions():
    assert no_carry_sum(47, 85) == 22
    assert no_carry_sum(12, 34) == 46  # no carry: the same as the true sum
    assert no_carry_sum(5, 5) == 0
    assert eval_expression("2+3*4") == 14
    assert eval_expression("3*4-2") == 10
    assert eval_expression("9-2*3") == 3
    assert eval_expression("2*3*4-9") == 15
    with pytest.raises(ValueError, match="digits joined"):
        eval_expression("2++3")


def test_addition_rewards_by_hand():
    task = AdditionTask(digits=2, format_weight=0.1)
    p = Problem("47+85=", "132")
    assert task.reward(p, "132", finished=True) == pytest.approx(1.1)
    assert task.reward(p, "22", finished=True) == pytest.approx(0.1)  # well formed but wrong
    assert task.reward(p, "0132", finished=True) == 0.0  # leading zero: neither correct nor formatted
    assert task.reward(p, "132", finished=False) == 0.0  # no EOS
    assert task.has_carry(p) and not task.has_carry(Problem("12+34=", "46"))


def test_countdown_rewards_by_hand():
    task = CountdownTask(n_numbers=3, format_weight=0.1)
    p = Problem("3,4,2>10=", "3*4-2")
    assert task.is_correct(p, "3*4-2") and task.is_correct(p, "4*3-2")
    assert not task.is_correct(p, "3*4+2")
    assert not task.is_correct(p, "4*4-6")  # wrong numbers
    assert not task.is_correct(p, "3*4")  # not every number used
    assert task.reward(p, "3*4+2", True) == pytest.approx(0.1)
    assert task.reward(p, "34-2", True) == 0.0
    assert "3*4-2" in task.solutions(p) and "2*4+3" not in task.solutions(p)


@pytest.mark.parametrize("task", [AdditionTask(2), AdditionTask(3), CountdownTask(3)])
def test_splits_are_disjoint_and_seeded(task):
    rng = np.random.default_rng(0)
    train = task.sample(300, rng, "train")
    ev = task.eval_set(100, seed=7)
    assert not any(is_heldout(p.prompt) for p in train)
    assert all(is_heldout(p.prompt) for p in ev)
    assert not {p.prompt for p in train} & {p.prompt for p in ev}
    assert ev == task.eval_set(100, seed=7)
    assert len({len(p.prompt) for p in train + ev}) == 1  # fixed width
    for p in ev[:20]:
        assert task.is_correct(p, p.answer)
    with pytest.raises(ValueError, match="split"):
        task.sample(1, rng, "test")


def test_demos_error_rate():
    rng = np.random.default_rng(0)
    add = AdditionTask(2)
    probs = [p for p in add.sample(400, rng) if add.has_carry(p)]
    wrong = np.mean([add.demo(p, rng, 0.6) != p.answer for p in probs])
    assert 0.5 < wrong < 0.7
    assert all(add.demo(p, rng, 0.0) == p.answer for p in probs)
    cd = CountdownTask(3)
    cps = cd.sample(100, rng)
    assert all(cd.is_correct(p, cd.demo(p, rng, 0.0)) for p in cps)
    assert np.mean([not cd.is_correct(p, cd.demo(p, rng, 1.0)) for p in cps]) > 0.7


def test_score_and_demo_batch():
    tok = CharTokenizer()
    task = AdditionTask(2)
    probs = [Problem("47+85=", "132"), Problem("12+34=", "46"), Problem("12+34=", "46")]
    comps = torch.tensor([tok.encode("132", bos=False, eos=True),
                          tok.encode("47", bos=False, eos=True) + [PAD],
                          tok.encode("4666", bos=False)])  # no EOS: unfinished
    r, c = score(task, tok, probs, comps)
    assert r.tolist() == [1.0, 0.0, 0.0] and c.tolist() == [True, False, False]
    seq, mask = demo_batch(task, tok, 8, np.random.default_rng(0), 0.0)
    assert seq.shape == (8, 7 + 4) and mask.shape == (8, 10)
    for row, m in zip(seq, mask):
        targets = row[1:][m]
        assert targets[-1] == EOS and int(m.sum()) == len(tok.decode(row).split("=")[1]) + 1
    with pytest.raises(ValueError, match="digits"):
        AdditionTask(digits=7)
    with pytest.raises(ValueError, match="format_weight"):
        CountdownTask(format_weight=2.0)
