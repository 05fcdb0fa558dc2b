"""Part III: GRPO (and PPO with a critic) on a toy language model that trains on a CPU.

==================  ===============================================  ==============
name                what                                             module
==================  ===============================================  ==============
CharTokenizer       characters ↔ token ids, PAD/BOS/EOS              tokenizer
TinyGPT, GPTConfig  causal transformer with KV cache (+ value head)  model
generate            tempered sampling, KV cache, answer mask         sampling
AdditionTask        "47+85=" → "132", carry-forgetting demos          tasks
CountdownTask       "3,4,2>10=" → "3*4-2"                             tasks
score, accuracy     rule-based rewards, held-out greedy accuracy     evaluation
LMTrainer           the shared loop, checkpoints (save/load)         trainer
SFTTrainer          imitation of imperfect demos → π_ref             sft
grpo_loss           clipped ratio − β k3, grpo/dr_grpo/dapo          grpo_loss
GRPOTrainer         G samples per prompt, group advantages           grpo
PPOLMTrainer        critic, token-level GAE, KL-in-reward            ppo
is_collapsed        the collapse watchdog                            watchdog
==================  ===============================================  ==============

``train_sft``, ``train_grpo`` and ``train_ppo_lm`` are the trainers' one-call forms.
"""
from .evaluation import accuracy, prompts_tensor, score
from .grpo import GRPOConfig, GRPOTrainer, train_grpo
from .grpo_loss import grpo_loss
from .memory import SavedTensorMeter, state_bytes
from .model import GPTConfig, TinyGPT
from .ppo import PPOLMConfig, PPOLMTrainer, make_critic, ppo_lm_loss, token_gae, token_rewards, train_ppo_lm
from .sampling import completion_log_probs, completion_mask, generate
from .sft import SFTConfig, SFTTrainer, demo_batch, train_sft
from .tasks import AdditionTask, CountdownTask, Problem, eval_expression, is_heldout, no_carry_sum
from .tokenizer import BOS, EOS, PAD, CharTokenizer
from .trainer import LMTrainer
from .watchdog import COLLAPSE_HINT, is_collapsed

__all__ = [
    "accuracy", "prompts_tensor", "score", "GRPOConfig", "GRPOTrainer", "PPOLMTrainer", "SFTTrainer",
    "LMTrainer", "COLLAPSE_HINT", "is_collapsed", "grpo_loss", "train_grpo", "SavedTensorMeter",
    "state_bytes", "GPTConfig", "TinyGPT", "PPOLMConfig", "make_critic", "ppo_lm_loss", "token_gae",
    "token_rewards", "train_ppo_lm", "completion_log_probs", "completion_mask", "generate", "SFTConfig",
    "demo_batch", "train_sft", "AdditionTask", "CountdownTask", "Problem", "eval_expression", "is_heldout",
    "no_carry_sum", "BOS", "EOS", "PAD", "CharTokenizer",
]
