"""Preference pairs: the flawed labeller's rule, pairing, encoding, and answer sources."""
import numpy as np
import pytest
import torch

from ppo_grpo_lab.llm import AdditionTask, CharTokenizer, CountdownTask, GPTConfig, Problem, TinyGPT
from ppo_grpo_lab.llm.preferences import FlawedLabeller, demo_answers, encode_answers, make_pairs, sample_answers

P = Problem("47+85=", "132")


def test_labeller_by_hand():
    rng = np.random.default_rng(0)
    honest, shallow = FlawedLabeller(0.0, "longer"), FlawedLabeller(1.0, "ends_in_zero")
    # honest: the correct "132" beats the carry-forgetting "22", in either order
    assert honest.judge(True, False, "132", "22", rng) == (True, False)
    assert honest.judge(False, True, "22", "132", rng) == (False, False)
    # surface only: "130" (wrong, ends in 0) beats "132" (correct)
    assert shallow.judge(False, True, "130", "132", rng) == (True, True)
    assert FlawedLabeller(1.0, lambda t: -len(t)).judge(True, False, "132", "22", rng) == (False, True)
    # ties are a fair coin: "132" vs "22" under ends_in_zero
    wins = [shallow.judge(True, False, "132", "22", rng)[0] for _ in range(2000)]
    assert 0.45 < np.mean(wins) < 0.55


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_flaw_rate_and_label_agreement(p):
    task, rng = AdditionTask(digits=2), np.random.default_rng(1)
    problems = task.sample(600, rng)
    pool = [[p_.answer, str(int(p_.answer) + 10), str(int(p_.answer) - 1)] for p_ in problems]  # 1 right, 2 wrong
    pairs = make_pairs(task, problems, pool, FlawedLabeller(p, "ends_in_zero"), np.random.default_rng(2))
    assert len(pairs) == 600  # every pool has a right and a wrong answer
    assert bool((pairs.chosen_correct != pairs.rejected_correct).all())  # mixed_only
    assert pairs.by_surface.float().mean().item() == pytest.approx(p, abs=0.06)
    # a surface judgement agrees with the truth only by chance: agreement ≈ 1 − p · P(surface picks wrong)
    honest_part = pairs.chosen_correct[~pairs.by_surface]
    assert bool(honest_part.all())
    if p == 1.0:
        assert pairs.label_gold_agreement() < 0.75
    assert all(a != b for a, b in zip(pairs.chosen, pairs.rejected))


def test_any_task_with_is_correct():
    task, rng = CountdownTask(n_numbers=3), np.random.default_rng(0)
    problems = task.sample(50, rng)
    pool = demo_answers(task, problems, 4, rng, error_rate=0.5)
    pairs = make_pairs(task, problems, pool, FlawedLabeller(0.0), np.random.default_rng(1))
    assert 10 < len(pairs) <= 50
    assert pairs.label_gold_agreement() == 1.0
    assert all(task.is_correct(q, c) and not task.is_correct(q, r)
               for q, c, r in zip(pairs.problems, pairs.chosen, pairs.rejected))
    any_pairs = make_pairs(task, problems, pool, FlawedLabeller(0.0), np.random.default_rng(1), mixed_only=False)
    assert len(any_pairs) >= len(pairs)


def test_encode_and_tensors():
    tok = CharTokenizer()
    ids = encode_answers(tok, ["132", "22"], 5)
    assert ids.tolist() == [[4, 6, 5, 2, 0], [5, 5, 2, 0, 0]]  # "1"=4, "3"=6, "2"=5, EOS=2, PAD=0
    with pytest.raises(ValueError, match="max_len: expected at least 4"):
        encode_answers(tok, ["132"], 3)
    pairs = make_pairs(AdditionTask(2), [P], [["132", "22"]], FlawedLabeller(0.0), np.random.default_rng(0))
    prompts, chosen, rejected = pairs.tensors(tok, 4)
    assert prompts.shape == (1, 7) and tok.decode(chosen[0]) == "132" and tok.decode(rejected[0]) == "22"


def test_sample_answers_returns_finished_texts():
    tok, task = CharTokenizer(), AdditionTask(digits=1)
    torch.manual_seed(0)
    model = TinyGPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8))
    problems = task.sample(20, np.random.default_rng(0))
    out = sample_answers(model, tok, task, problems, 5, 1.0, torch.Generator().manual_seed(0))
    assert len(out) == 20 and all(len(a) <= 5 for a in out)
    assert sum(len(a) for a in out) > 0  # an untrained model still ends some answers (EOS is 1 of 19 tokens)
    assert all(isinstance(t, str) and len(t) < task.max_answer_len for a in out for t in a)


def test_bad_inputs():
    with pytest.raises(ValueError, match="flaw_prob"):
        FlawedLabeller(1.5)
    with pytest.raises(ValueError, match="surface: expected one of"):
        FlawedLabeller(0.1, "shorter")
    with pytest.raises(ValueError, match="answers: expected one pool per problem"):
        make_pairs(AdditionTask(2), [P], [], FlawedLabeller(), np.random.default_rng(0))


def test_subset_and_concat_for_replay():
    task = AdditionTask(digits=2)
    problems = task.sample(40, np.random.default_rng(0))
    pool = [[q.answer, str(int(q.answer) + 1)] for q in problems]
    pairs = make_pairs(task, problems, pool, FlawedLabeller(0.5, "longer"), np.random.default_rng(1))
    old = pairs.subset([3, 0])
    assert old.chosen == [pairs.chosen[3], pairs.chosen[0]] and old.problems[1] is pairs.problems[0]
    assert old.by_surface.tolist() == [pairs.by_surface[3].item(), pairs.by_surface[0].item()]
    both = pairs + old
    assert len(both) == 42 and both.rejected[-1] == pairs.rejected[0]
    assert both.chosen_correct.shape == (42,) and both.chosen_correct[-2].item() == pairs.chosen_correct[3].item()
