"""Process supervision plugged into GRPO: an ``advantage_fn`` for tasks that grade their answers step by step.

:class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer` accepts ``advantage_fn(problems, completions, mask, rewards)``
returning per-token advantages ``[N, L]``. :func:`process_advantage_fn` builds one for a task with the step
protocol (``steps(problem, text)``, :mod:`~ppo_grpo_lab.llm.step_reward`): each step is checked by code
(reward 1 right, 0 wrong), the step rewards are normalised over the G answers of a question and every
token gets the sum of the normalised rewards of its own step and the later ones
(:func:`~ppo_grpo_lab.process.process_advantages`, DeepSeekMath §4.1.3)::

    trainer = GRPOTrainer(task, tok, cfg, policy, ref,
                          advantage_fn=process_advantage_fn(task, tok, group_size=cfg.group_size))

The outcome reward that GRPO would otherwise use (``rewards``) is not read: the last step, which ends at
the EOS token, already carries whether the final answer is right.

For PPO with a critic, :func:`process_token_rewards` puts each code-checked step's reward (1 right, 0 wrong)
on the step's last token, unnormalised; :class:`~ppo_grpo_lab.llm.ppo.PPOLMTrainer` adds the per-token KL
term and runs GAE over them (the critic learns what the rest of the answer is worth after each line)::

    trainer = PPOLMTrainer(task, tok, cfg, policy, ref, token_reward_fn=process_token_reward_fn(task, tok))

With a task whose only step is the final answer ending at EOS, this is outcome PPO (tested).
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor

from ..process import process_advantages, step_rewards_to_tokens
from .step_reward import step_rewards_from_completions

__all__ = ["process_advantage_fn", "process_token_rewards", "process_token_reward_fn"]


def _check_step_task(task) -> None:
    if not callable(getattr(task, "steps", None)):
        raise ValueError(f"task: expected a task with the step protocol (a steps(problem, text) method), "
                         f"got {type(task).__name__}")


def process_advantage_fn(task, tok, group_size: int, scale: str = "group", eps: float = 1e-4) -> Callable:
    """An ``advantage_fn`` for :class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer` from a task's step protocol.

    Args:
        task: implements ``steps(problem, text) -> [(end, correct), ...]``.
        tok: the character tokenizer of the sampled rows.
        group_size: G, answers per question (rows come as B groups of G consecutive rows).
        scale, eps: as in :func:`~ppo_grpo_lab.process.normalize_step_rewards`.

    Returns:
        ``fn(problems, completions, mask, rewards) -> (Tensor, [N, L])`` with N = B·G rows: completions
        (LongTensor, [N, L]), mask (bool Tensor, [N, L]); advantages are 0 where the mask is False.
    """
    _check_step_task(task)

    def fn(problems, completions: Tensor, mask: Tensor, rewards: Tensor | None = None) -> Tensor:
        N, L = completions.shape
        if N % group_size or len(problems) != N:
            raise ValueError(f"completions: expected B·G rows with G = {group_size} and one problem per row, "
                             f"got {N} rows and {len(problems)} problems")
        r, m, e = step_rewards_from_completions(task, tok, problems, completions.cpu())  # (N, S) each
        B = N // group_size
        adv = process_advantages(r.view(B, group_size, -1), m.view(B, group_size, -1), e.view(B, group_size, -1),
                                 L, mask.cpu(), scale, eps)  # (N, L)
        return adv.to(completions.device)

    return fn


def process_token_rewards(task, tok, problems, completions: Tensor) -> Tensor:
    """Each code-checked step's reward (1 right, 0 wrong) on its last token; 0 on every other token.

    Args:
        task: implements ``steps(problem, text)``; tok: the tokenizer; problems: N problems.
        completions: (LongTensor, [N, L]) sampled answers.

    Returns:
        (Tensor, [N, L]) on the CPU. The last step ends at EOS (an unfinished answer: all 0), as in
        :func:`~ppo_grpo_lab.llm.step_reward.step_rewards`. Example: ``"347+285="``, ``"12,12,06>622"`` EOS →
        1 on tokens 1 and 7, 0 elsewhere (the second column and the answer are wrong).
    """
    _check_step_task(task)
    r, m, e = step_rewards_from_completions(task, tok, problems, completions.cpu())  # (N, S) each
    return step_rewards_to_tokens(r.unsqueeze(1), m.unsqueeze(1), e.unsqueeze(1), completions.shape[1])  # (N, L)


def process_token_reward_fn(task, tok) -> Callable:
    """A ``token_reward_fn(problems, completions, mask) -> (Tensor, [N, L])`` for
    :class:`~ppo_grpo_lab.llm.ppo.PPOLMTrainer`: :func:`process_token_rewards`, on the completions' device.
    """
    _check_step_task(task)

    def fn(problems, completions: Tensor, mask: Tensor | None = None) -> Tensor:
        return process_token_rewards(task, tok, problems, completions).to(completions.device)

    return fn
