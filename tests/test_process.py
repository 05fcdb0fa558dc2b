"""Process supervision: normalised step rewards and per-token advantages, by hand, loop = fast, properties."""
import math

import pytest
import torch

from ppo_grpo_lab.group import group_advantages
from ppo_grpo_lab.process import (
    normalize_step_rewards,
    process_advantages,
    process_advantages_loop,
    step_rewards_to_tokens,
)

# One question, G = 2 answers, L = 4 tokens. Answer 1: two steps ending at tokens 1 and 3, rewards 1 and 0.
# Answer 2: one real step ending at token 2 (its EOS), reward 1; its second step slot is padding.
R = [[[1.0, 0.0], [1.0, 99.0]]]  # 99 sits at padding and must be ignored
MASK = [[[True, True], [True, False]]]
ENDS = [[[1, 3], [2, 0]]]


def _t():
    return torch.tensor(R, dtype=torch.float64), torch.tensor(MASK), torch.tensor(ENDS)


def test_two_step_example_by_hand():
    r, m, e = _t()
    # all steps of the question: [1, 0, 1], mean 2/3, unbiased std sqrt(((1/3)^2 + (2/3)^2 + (1/3)^2) / 2) = sqrt(1/3)
    std = math.sqrt(1 / 3)
    hi, lo = (1 - 2 / 3) / (std + 1e-4), (0 - 2 / 3) / (std + 1e-4)  # 0.5773 and -1.1545
    assert hi == pytest.approx(0.57725, abs=1e-4) and lo == pytest.approx(-1.1545, abs=1e-4)
    tilde = normalize_step_rewards(r, m)
    assert tilde[0, 0].tolist() == pytest.approx([hi, lo])
    assert tilde[0, 1].tolist() == pytest.approx([hi, 0.0])  # padding → 0
    adv = process_advantages(r, m, e, length=4)
    # answer 1: tokens 0–1 see both steps (hi + lo = -0.577), tokens 2–3 only the second (lo)
    # answer 2: tokens 0–2 see its one step (hi), token 3 comes after its last step (0)
    want = [[hi + lo, hi + lo, lo, lo], [hi, hi, hi, 0.0]]
    assert adv.tolist() == [pytest.approx(row) for row in want]
    assert adv[0, 0].item() == pytest.approx(-0.5773, abs=1e-3)


def test_completion_mask_zeroes_padding_tokens():
    r, m, e = _t()
    cmask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    full = process_advantages(r, m, e, 4)
    masked = process_advantages(r, m, e, 4, completion_mask=cmask)
    assert torch.equal(masked, full * cmask)
    assert masked[1, 3].item() == 0.0 and masked[0, 3].item() != 0.0


def test_step_rewards_on_their_end_tokens():
    r, m, e = _t()
    tok = step_rewards_to_tokens(r, m, e, 4)
    assert tok.tolist() == [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]  # the padding's 99 is dropped


def _random_steps(B, G, S, L, seed):
    g = torch.Generator().manual_seed(seed)
    n = torch.randint(0, S + 1, (B, G), generator=g)  # 0..S real steps per answer (ragged)
    mask = torch.arange(S)[None, None, :] < n[..., None]
    ends = torch.sort(torch.randint(0, L, (B, G, S), generator=g), dim=-1).values  # repeats allowed
    rewards = torch.randint(0, 3, (B, G, S), generator=g).double() / 2  # ties on purpose
    return rewards, mask, ends


@pytest.mark.parametrize("seed", range(5))
def test_fast_equals_loop(seed):
    rewards, mask, ends = _random_steps(3, 4, 3, 6, seed)
    cmask = torch.rand(12, 6, generator=torch.Generator().manual_seed(seed)) < 0.8
    for cm in (None, cmask):
        fast = process_advantages(rewards, mask, ends, 6, completion_mask=cm)
        loop = process_advantages_loop(rewards, mask, ends, 6, completion_mask=cm)
        torch.testing.assert_close(fast, loop)
    assert fast.abs().sum() > 0  # the random cases carry signal


def test_one_step_is_outcome_supervision():
    # each answer one step ending at its EOS → every token of answer i carries the group advantage A_i
    g = torch.Generator().manual_seed(0)
    outcome = torch.randint(0, 2, (5, 4), generator=g).float()  # [B, G]
    eos = torch.randint(0, 6, (5, 4), generator=g)  # EOS index of each answer
    cmask = torch.arange(6)[None, :] <= eos.reshape(-1, 1)  # [B·G, L]
    adv = process_advantages(outcome[..., None], torch.ones(5, 4, 1, dtype=torch.bool), eos[..., None], 6,
                             completion_mask=cmask)
    want = group_advantages(outcome).reshape(-1, 1) * cmask
    torch.testing.assert_close(adv, want)
    assert (outcome.amax(1) > outcome.amin(1)).any()  # some group carries signal, so the check is not 0 = 0


def test_zero_spread_and_single_step_give_zero():
    # question 0: every step reward equal; question 1: a single real step in the whole group
    rewards = torch.tensor([[[0.5, 0.5], [0.5, 0.0]], [[1.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[[True, True], [True, False]], [[True, False], [False, False]]])
    ends = torch.tensor([[[0, 1], [1, 0]], [[2, 0], [0, 0]]])
    adv = process_advantages(rewards, mask, ends, 3)
    assert torch.equal(adv, torch.zeros(4, 3))
    assert not torch.isnan(normalize_step_rewards(rewards, mask)).any()


def test_shift_invariant_and_scales():
    rewards, mask, ends = _random_steps(2, 3, 3, 5, 7)
    a = process_advantages(rewards, mask, ends, 5)
    torch.testing.assert_close(process_advantages(rewards + 3.0, mask, ends, 5), a)
    none = normalize_step_rewards(rewards, mask, scale="none")
    per_q = (none * mask).sum((1, 2))  # centred: real steps sum to 0 in each question
    torch.testing.assert_close(per_q, torch.zeros_like(per_q))


def test_bad_inputs_say_what_was_expected():
    r, m, e = _t()
    with pytest.raises(ValueError, match=r"step_rewards: expected a 3-D tensor"):
        process_advantages(r[0], m[0], e[0], 4)
    with pytest.raises(ValueError, match=r"step_ends: expected token indices in \[0, 3\)"):
        process_advantages(r, m, e, 3)
    with pytest.raises(ValueError, match="step_mask: expected shape"):
        process_advantages(r, m[..., :1], e, 4)
    with pytest.raises(ValueError, match="step_ends: expected an integer tensor"):
        process_advantages(r, m, e.double(), 4)
    with pytest.raises(ValueError, match="completion_mask: expected shape"):
        process_advantages(r, m, e, 4, completion_mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="scale"):
        normalize_step_rewards(r, m, scale="token")


def test_batch_scale_uses_every_step_of_the_batch():
    rewards, mask, ends = _random_steps(1, 4, 3, 5, 3)
    torch.testing.assert_close(normalize_step_rewards(rewards, mask, scale="batch"), normalize_step_rewards(rewards, mask))
    r2 = torch.cat([rewards, 10 * rewards])  # [2, G, S]: the second question's spread dominates the batch std
    m2 = torch.cat([mask, mask])
    real = r2[m2]
    want = (r2[0] - r2[0][mask[0]].mean()) / (real.std() + 1e-4) * mask[0]
    torch.testing.assert_close(normalize_step_rewards(r2, m2, scale="batch")[0], want)
    assert want.abs().sum() > 0
