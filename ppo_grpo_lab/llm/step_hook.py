"""GRPO with a step you wrote: the trainer samples and scores, your function takes the gradient step.

:class:`StepHookGRPOTrainer` is :class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer` with one change: after
sampling and scoring a batch of groups (and computing π_θold's log-probabilities), it calls

    step_fn(policy, reference, optimizer, prompts, completions, mask, old_log_probs, rewards,
            beta, clip_eps, aggregation)

μ = ``update_epochs`` times, the signature of chapter 11's capstone ``grpo_step``. Everything the
trainer logs about the batch (``reward/*``, ``stats/zero_std_frac``, ``completion/length``,
``eval/accuracy``) is still logged; the loss statistics are the step's business and are not.
:func:`learning_check` is the capstone's check that such a step learns: a fresh tiny model, a reward
for writing the digit 7, a few seconds of training.
"""
from __future__ import annotations

from typing import Callable

import torch

from .grpo import GRPOConfig, GRPOTrainer
from .grpo_batch import collect_groups
from .model import GPTConfig
from .sampling import completion_log_probs
from .tasks import AdditionTask
from .tokenizer import CharTokenizer

__all__ = ["StepHookGRPOTrainer", "learning_check"]


class StepHookGRPOTrainer(GRPOTrainer):
    """A GRPO trainer whose optimisation step is ``step_fn`` (one process; no ``clip_eps_high``).

    Args:
        task, tok, config, policy, reference, model_config, eval_problems, reward_fn: as for
            :class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer`.
        step_fn: ``grpo_step(policy, reference, optimizer, prompts, completions, mask, old_log_probs,
            rewards, beta, clip_eps, aggregation)``; ``rewards`` is (Tensor, [B, G]), the other tensors [B·G, ·].
    """

    def __init__(self, task, tok, step_fn: Callable, config: GRPOConfig | None = None, policy=None, reference=None,
                 model_config: GPTConfig | None = None, eval_problems=None, reward_fn=None):
        super().__init__(task, tok, config, policy, reference, model_config, eval_problems, reward_fn=reward_fn)
        if not callable(step_fn):
            raise ValueError(f"step_fn: expected a function, got {type(step_fn).__name__}")
        if self.world_size != 1 or self.config.clip_eps_high is not None:
            raise ValueError("StepHookGRPOTrainer: expected one process and clip_eps_high=None (the step takes "
                             f"one ε), got {self.world_size} processes and clip_eps_high={self.config.clip_eps_high}")
        self.step_fn = step_fn

    def samples_with_graph(self) -> bool:
        """False: ``step_fn`` takes its own log-prob passes."""
        return False

    def _update(self):
        cfg = self.config
        batch = collect_groups(self)
        with torch.no_grad():
            old = completion_log_probs(self.model, batch.prompts, batch.completions)["log_probs"]  # (B·G, L)
        for _ in range(cfg.update_epochs):
            self.step_fn(self.model, self.reference, self.optimizer, batch.prompts, batch.completions, batch.mask,
                         old, batch.rewards.to(self.device), cfg.beta, cfg.clip_eps, cfg.aggregation)
        return dict(batch.metrics())


def _sevens(problems, texts, finished):
    """Share of the answer's characters that are the digit 7 (a reward a fresh model can climb fast)."""
    return torch.tensor([t.count("7") / max(len(t), 1) for t in texts])


def learning_check(step_fn: Callable, num_updates: int = 12, seed: int = 0) -> tuple[float, float]:
    """Train a fresh tiny model with ``step_fn`` to write 7s; returns the mean reward ``(first 2, last 2 updates)``.

    A right ``grpo_step`` lifts it from about 0.07 to above 0.9 in 12 updates (under 1 s of CPU);
    a step that does nothing leaves it where it was.
    """
    tok = CharTokenizer()
    cfg = GRPOConfig(num_updates=num_updates, batch_size=64, group_size=8, learning_rate=1e-2, beta=0.0,
                     eval_every=0, seed=seed, progress=False)
    model_cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=12, n_layer=1, n_head=2, n_embd=32)
    trainer = StepHookGRPOTrainer(AdditionTask(digits=2), tok, step_fn, cfg, model_config=model_cfg,
                                  reward_fn=_sevens)
    rewards = trainer.train().series("reward/mean")[1]
    return float(rewards[:2].mean()), float(rewards[-2:].mean())
