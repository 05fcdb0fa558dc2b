"""GRPO on a real small open model, with this package's trainer and with TRL's: the code of chapter 16.

The same addition task as Part III; the model and its tokenizer come from the Hugging Face Hub
(or from a local folder written by ``save_pretrained``). In Google Colab, on a GPU runtime::

    !pip install -q "ppo-grpo-lab[hf] @ git+https://github.com/ppo-grpo-lab/ppo-grpo-lab" trl accelerate
    !wget -q https://raw.githubusercontent.com/ppo-grpo-lab/ppo-grpo-lab/main/examples/real_model_grpo.py
    !python real_model_grpo.py --model Qwen/Qwen2.5-0.5B-Instruct --trainer ours --steps 50
    !python real_model_grpo.py --model Qwen/Qwen2.5-0.5B-Instruct --trainer trl --steps 50

On several GPUs of one machine (each process answers its share of the questions; the gradients are summed)::

    torchrun --nproc_per_node 4 real_model_grpo.py --model Qwen/Qwen2.5-0.5B-Instruct --trainer ours
    accelerate launch --num_processes 4 real_model_grpo.py --model Qwen/Qwen2.5-0.5B-Instruct --trainer trl

tests/test_real_model_example.py runs both trainers through :func:`main` on a tiny model saved to a
temporary folder (nothing is downloaded there).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from ppo_grpo_lab.llm import AdditionTask, GRPOConfig, GRPOTrainer, HFTokenizer

INSTRUCTION = "Add the two numbers. Reply with the sum only, as digits, nothing else: "


def load(model_name: str, device: str):
    """The model and its tokenizer, from the Hub or a local folder. The weights stay in float32: Adam's steps
    of ~lr = 1e-6 would vanish in bfloat16's rounding (TRL computes in bfloat16 under autocast on a GPU).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_name, dtype=torch.float32).to(device)
    return model, AutoTokenizer.from_pretrained(model_name)


def is_chat(tokenizer) -> bool:
    """True for an instruct model (its tokenizer has a chat template): prompts become a user message."""
    return getattr(tokenizer, "chat_template", None) is not None


def train_ours(model, tokenizer, task, steps: int, batch_size: int, group_size: int, lr: float, beta: float,
               seed: int, device: str):
    """GRPO with :class:`~ppo_grpo_lab.llm.GRPOTrainer`; returns the trainer (``trainer.history``, ``trainer.policy``).

    ``model`` is a ``transformers`` causal LM (or a TinyGPT), ``tokenizer`` its tokenizer (or a CharTokenizer).
    """
    chat = is_chat(tokenizer)
    tok = HFTokenizer(tokenizer, chat=True, format_prompt=lambda p: INSTRUCTION + p) if chat else tokenizer
    cfg = GRPOConfig(num_updates=steps, batch_size=batch_size, group_size=group_size, learning_rate=lr, beta=beta,
                     update_epochs=1, clip_eps=0.2, aggregation="grpo", temperature=1.0, max_grad_norm=1.0,
                     eval_every=0, seed=seed, device=device, progress=False)
    trainer = GRPOTrainer(task, tok, cfg, policy=model, eval_problems=task.eval_set(100))
    trainer.train()
    return trainer


def trl_reward(task):
    """TRL's reward function for ``task``: the dataset's ``answer`` column arrives as a keyword argument."""
    def reward(prompts, completions, completion_ids, answer, eos_token_id, **kw):
        texts = [c if isinstance(c, str) else c[0]["content"] for c in completions]  # plain or chat completions
        return [task.reward(_Answer(a), t, eos_token_id in ids) for a, t, ids in zip(answer, texts, completion_ids)]
    return reward


class _Answer:
    """The part of a task's Problem that its ``reward`` reads."""

    def __init__(self, answer: str):
        self.answer = answer


def train_trl(model, tokenizer, task, steps: int, batch_size: int, group_size: int, lr: float, beta: float,
              seed: int, device: str, output_dir: str, callbacks=()):
    """GRPO with TRL's ``GRPOTrainer``, the same settings as :func:`train_ours`; returns the trainer.

    ``model`` is a model name or folder (TRL loads π_ref from it when β > 0) or a model object (β = 0).
    """
    import datasets
    import transformers
    import trl

    chat = is_chat(tokenizer)
    problems = task.sample(steps * batch_size // group_size, np.random.default_rng(seed), "train")
    prompts = [[{"role": "user", "content": INSTRUCTION + p.prompt}] if chat else p.prompt for p in problems]
    data = datasets.Dataset.from_dict({"prompt": prompts, "answer": [p.answer for p in problems]})
    eos = tokenizer.eos_token_id
    reward = trl_reward(task)
    args = trl.GRPOConfig(output_dir=output_dir, per_device_train_batch_size=batch_size, num_generations=group_size,
                          max_completion_length=task.max_answer_len, num_iterations=1, beta=beta, epsilon=0.2,
                          loss_type="grpo", scale_rewards="group", temperature=1.0, learning_rate=lr,
                          lr_scheduler_type="constant", max_grad_norm=1.0, max_steps=steps,
                          bf16=device.startswith("cuda"), gradient_checkpointing=False, use_bias_correction_kl=False,
                          use_cpu=device == "cpu", report_to=[], save_strategy="no", logging_steps=1,
                          disable_tqdm=True, seed=seed)
    trainer = trl.GRPOTrainer(model=model, processing_class=tokenizer, args=args, train_dataset=data,
                              reward_funcs=lambda **kw: reward(eos_token_id=eos, **kw), callbacks=list(callbacks))
    trainer.remove_callback(transformers.PrinterCallback)  # no dict of numbers printed per step
    trainer.train()
    return trainer


def main(argv=None):
    """Parse the command line, train with ``--trainer``, print the reward of the first and last steps."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="Qwen/Qwen2.5-0.5B-Instruct", help="Hub name or local folder")
    ap.add_argument("--trainer", choices=["ours", "trl"], default="ours")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=64, help="answers per step (questions × G)")
    ap.add_argument("--group-size", type=int, default=8, help="G, answers per question")
    ap.add_argument("--lr", type=float, default=1e-6, help="1e-6 for a 0.5B model; 1e-4 for the toy")
    ap.add_argument("--beta", type=float, default=0.04)
    ap.add_argument("--digits", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--output-dir", default="grpo_out")
    a = ap.parse_args(argv)
    task = AdditionTask(digits=a.digits)
    model, tokenizer = load(a.model, a.device)
    common = dict(steps=a.steps, batch_size=a.batch_size, group_size=a.group_size, lr=a.lr, beta=a.beta, seed=a.seed,
                  device=a.device)
    if a.trainer == "ours":
        trainer = train_ours(model, tokenizer, task, **common)
        rewards = list(trainer.history.series("reward/mean")[1])
    else:
        trainer = train_trl(a.model if a.beta > 0 else model, tokenizer, task, output_dir=a.output_dir, **common)
        rewards = [r["reward"] for r in trainer.state.log_history if "reward" in r]
    print(f"{a.trainer}: mean reward {rewards[0]:.3f} (step 1) -> {rewards[-1]:.3f} (step {len(rewards)})")
    return trainer, rewards


if __name__ == "__main__":
    main()
