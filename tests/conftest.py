"""Shared test setup.

Tests run under pytest-xdist with one worker per core; letting every worker also start
one torch thread per core oversubscribes the CPU (measured here: a tiny PPO run took
23 s instead of 3.5 s). One thread per worker is the right size for these small tensors.
"""
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def sft_one_digit():
    """A 1-digit adder trained on demos that forget the carry 70% of the time (GRPO and LM-PPO tests)."""
    from ppo_grpo_lab.llm import AdditionTask, CharTokenizer, GPTConfig, SFTConfig, train_sft

    tok, task = CharTokenizer(), AdditionTask(digits=1)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=32)
    model, _ = train_sft(task, tok, cfg, SFTConfig(num_updates=400, batch_size=128, learning_rate=3e-3, error_rate=0.7,
                                                   seed=0, progress=False))
    return tok, task, model
