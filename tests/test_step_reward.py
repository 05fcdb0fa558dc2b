"""Step rewards from the step protocol, on a scratchpad addition format written here for the tests."""
import pytest
import torch

from ppo_grpo_lab.llm import AdditionTask, CharTokenizer
from ppo_grpo_lab.llm.step_reward import step_rewards, step_rewards_from_completions
from ppo_grpo_lab.process import process_advantages


class WorkedAddition(AdditionTask):
    """``"347+285="`` → ``"12,13,06>632"``: column sums from the right (carry, digit), then the answer.

    The step protocol: each column is a step, the final answer is the last step; a direct answer
    (no ``>``) is a single step.
    """

    def __init__(self):
        super().__init__(digits=3)
        self.max_answer_len = 4 * 3 + 2

    def columns(self, problem):
        a, b = self.operands(problem)
        cols, c = [], 0
        for _ in range(self.digits):
            s = a % 10 + b % 10 + c
            cols.append(f"{s:02d}")
            a, b, c = a // 10, b // 10, s // 10
        return cols

    def is_correct(self, problem, text):
        return text.rsplit(">", 1)[-1] == problem.answer

    def steps(self, problem, text):
        out, pos = [], 0
        if ">" in text:
            work, _ = text.rsplit(">", 1)
            for k, col in enumerate(work.split(",")):
                pos += len(col)
                good = k < self.digits and col == self.columns(problem)[k]
                out.append((pos - 1, good))
                pos += 1  # the comma, or the '>'
        if text:  # the final answer (possibly empty after '>', then the '>' is its last character)
            out.append((len(text) - 1, self.is_correct(problem, text)))
        return out


TASK = WorkedAddition()


def _problem(prompt):
    from ppo_grpo_lab.llm import Problem
    a, b = (int(x) for x in prompt.rstrip("=").split("+"))
    return Problem(prompt, str(a + b))


def test_protocol_example_and_rewards_by_hand():
    p = _problem("347+285=")
    assert TASK.columns(p) == ["12", "13", "06"]
    assert TASK.steps(p, "12,13,06>632") == [(1, True), (4, True), (7, True), (11, True)]
    # the carry forgotten in the second column: "12,12,06>622" → steps 2 and 4 are wrong
    texts = ["12,13,06>632", "12,12,06>622", "632"]
    r, m, e = step_rewards(TASK, [p] * 3, texts, [True, True, True])
    assert r.tolist() == [[1, 1, 1, 1], [1, 0, 1, 0], [1, 0, 0, 0]]
    assert m.tolist() == [[True] * 4, [True] * 4, [True, False, False, False]]
    # the last step ends at the EOS token: index len(text)
    assert e.tolist() == [[1, 4, 7, 12], [1, 4, 7, 12], [3, 0, 0, 0]]


def test_unfinished_and_empty_answers():
    p = _problem("347+285=")
    r, m, e = step_rewards(TASK, [p, p], ["12,13,06>632", ""], [False, True])
    assert r.tolist() == [[0, 0, 0, 0], [0, 0, 0, 0]]  # no EOS, no credit; an empty answer is one wrong step
    assert e[0, 3].item() == 11 and e[1, 0].item() == 0 and m[1].tolist() == [True, False, False, False]


def test_from_completions_maps_to_token_positions():
    tok = CharTokenizer()
    p = _problem("347+285=")
    L = TASK.max_answer_len
    rows = [tok.encode("12,13,06>632", bos=False, eos=True), tok.encode("632", bos=False, eos=True)]
    # a sampled row may hold a stray special token (BOS = 1) before its EOS: it shifts the positions
    rows.append([1] + tok.encode("632", bos=False, eos=True))
    rows.append(tok.encode("12,13,06>6321", bos=False) + [3])  # 14 tokens, no EOS (unfinished)
    comps = torch.tensor([r + [0] * (L - len(r)) for r in rows])
    r, m, e = step_rewards_from_completions(TASK, tok, [p] * 4, comps)
    assert e[:3, :m.shape[1]].tolist()[0] == [1, 4, 7, 12]
    assert e[1, 0].item() == 3 and e[2, 0].item() == 4  # EOS at index 3, and at 4 after the stray BOS
    assert e[3, 3].item() == L - 1 and r[3].sum().item() == 0
    adv = process_advantages(r.view(1, 4, -1), m.view(1, 4, -1), e.view(1, 4, -1), L)
    assert adv.shape == (4, L)
    # the correct worked answer beats the correct direct one on every token of its working (more correct
    # steps still to come); from its last column on only the final step remains: the same credit
    assert (adv[0, :8] > adv[1, 0]).all() and adv[0, 8:13].tolist() == pytest.approx([adv[1, 0].item()] * 5)
    assert (adv[3] < 0).all()  # the unfinished answer: every step 0 ⇒ below the mean on every token


def test_bad_protocol_raises():
    class Bad(WorkedAddition):
        def steps(self, problem, text):
            return [(3, True), (1, True)]

    with pytest.raises(ValueError, match="strictly increasing"):
        step_rewards(Bad(), [_problem("347+285=")], ["12,13"], [True])
    with pytest.raises(ValueError, match="max_steps: expected at least 4"):
        step_rewards(TASK, [_problem("347+285=")], ["12,13,06>632"], [True], max_steps=2)
