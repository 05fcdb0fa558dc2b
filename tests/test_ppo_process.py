"""PPO with a critic and GAE over steps: step rewards on end tokens, by hand; one step at EOS is outcome PPO."""
import copy

import pytest
import torch

from ppo_grpo_lab.llm import (
    AdditionTask,
    CharTokenizer,
    PPOLMConfig,
    PPOLMTrainer,
    Problem,
    ScratchpadAddition,
    token_gae,
    token_rewards,
)
from ppo_grpo_lab.llm.preferences import encode_answers
from ppo_grpo_lab.llm.process_hooks import process_token_reward_fn, process_token_rewards

TOK = CharTokenizer()


def test_token_rewards_accepts_per_token_task_rewards():
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)
    old, ref = torch.tensor([[-0.1, -0.2, -0.3, -0.4]]), torch.tensor([[-0.3, -0.2, -0.1, -9.0]])
    per_token = torch.tensor([[0.0, 1.0, 1.0, 7.0]])  # 7.0 sits on padding: dropped
    r = token_rewards(per_token, old, ref, mask, beta=0.5)
    torch.testing.assert_close(r, torch.tensor([[-0.1, 1.0, 1.1, 0.0]]))
    outcome = token_rewards(torch.tensor([1.0]), old, ref, mask, beta=0.5)  # [B] form: on the last real token
    torch.testing.assert_close(token_rewards(torch.tensor([[0.0, 0.0, 1.0, 0.0]]), old, ref, mask, 0.5), outcome)
    with pytest.raises(ValueError, match=r"\[B\] or \[B, L\]"):
        token_rewards(torch.zeros(1, 3), old, ref, mask, 0.5)


def test_process_token_rewards_on_scratchpad_rows():
    task = ScratchpadAddition(digits=3)
    p = Problem("347+285=", "632")
    comps = encode_answers(TOK, ["12,12,06>622", "12,13,06>632", "632"], task.max_answer_len)  # (3, 14)
    r = process_token_rewards(task, TOK, [p] * 3, comps)
    want = torch.zeros(3, 14)
    want[0, [1, 7]] = 1.0  # columns 1 and 3 right; column 2 and the answer (closed by EOS at 12) wrong
    want[1, [1, 4, 7, 12]] = 1.0  # every step right; the last one on EOS
    want[2, 3] = 1.0  # a direct answer: one step, on EOS
    torch.testing.assert_close(r, want)
    unfinished = comps.clone()
    unfinished[1, 12] = TOK.stoi["2"]  # no EOS: no credit for any step
    assert process_token_rewards(task, TOK, [p] * 3, unfinished)[1].sum() == 0
    fn = process_token_reward_fn(task, TOK)
    torch.testing.assert_close(fn([p] * 3, comps, comps != 0), want)
    with pytest.raises(ValueError, match="step protocol"):
        process_token_rewards(AdditionTask(3), TOK, [p], comps[:1])


def test_gae_over_two_steps_by_hand():
    """``"3+5="`` answered ``"08>9"`` EOS: the column is right (token 1), the answer wrong (EOS, token 4)."""
    task = ScratchpadAddition(digits=1)
    p = Problem("3+5=", "8")
    comps = encode_answers(TOK, ["08>9"], 5)
    mask = comps != 0
    r = process_token_rewards(task, TOK, [p], comps)
    torch.testing.assert_close(r, torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0]]))
    zeros = torch.zeros(1, 5)
    r_tok = token_rewards(r, zeros, zeros, mask, beta=0.1)  # no KL: π_old = π_ref
    v = torch.tensor([[0.5, 0.5, 0.6, 0.6, 0.2]])
    adv, ret = token_gae(r_tok, v, mask, gamma=1.0, lam=1.0)  # returns [1, 1, 0, 0, 0]
    torch.testing.assert_close(ret, torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(adv, torch.tensor([[0.5, 0.5, -0.6, -0.6, -0.2]]))
    adv0, _ = token_gae(r_tok, v, mask, gamma=1.0, lam=0.0)  # δ_t = r_t + V_{t+1} − V_t
    torch.testing.assert_close(adv0, torch.tensor([[0.0, 1.1, 0.0, -0.4, -0.2]]))
    outcome, _ = token_gae(token_rewards(torch.tensor([0.0]), zeros, zeros, mask, 0.1), v, mask, 1.0, 1.0)
    torch.testing.assert_close(outcome, -v)  # the outcome reward gives the right column no credit


class OneStepAddition(AdditionTask):
    """Addition whose only step is the final answer: process supervision reduces to outcome supervision."""

    def steps(self, problem, text):
        return [(len(text) - 1, self.is_correct(problem, text))] if text else []


def test_one_step_at_eos_is_outcome_ppo(sft_one_digit):
    tok, _, ref = sft_one_digit
    task = OneStepAddition(digits=1)
    cfg = PPOLMConfig(num_updates=2, batch_size=32, update_epochs=2, beta=0.05, eval_every=0, seed=3, progress=False)
    runs = []
    for hook in (None, process_token_reward_fn(task, tok)):
        tr = PPOLMTrainer(task, tok, cfg, policy=copy.deepcopy(ref), reference=ref, token_reward_fn=hook)
        tr.train()
        runs.append(tr)
    out, proc = runs
    for key in ("loss/total", "loss/policy", "loss/value", "reward/mean"):
        torch.testing.assert_close(torch.as_tensor(out.history.series(key)[1]),
                                   torch.as_tensor(proc.history.series(key)[1]))
    for a, b in zip(out.model.parameters(), proc.model.parameters()):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(torch.as_tensor(proc.history.series("reward/token_sum")[1]),
                               torch.as_tensor(proc.history.series("reward/mean")[1]))
