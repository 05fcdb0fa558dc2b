"""Part III: GRPO (and PPO with a critic) on a toy language model that trains on a CPU.

====================  ===============================================  ==============
name                  what                                             module
====================  ===============================================  ==============
CharTokenizer         characters ↔ token ids, PAD/BOS/EOS              tokenizer
TinyGPT, GPTConfig    causal transformer with KV cache (+ value head)  model
generate              tempered sampling, KV cache, answer mask         sampling
AdditionTask          "47+85=" → "132", carry-forgetting demos         tasks
CountdownTask         "3,4,2>10=" → "3*4-2"                            tasks
score, accuracy       rule-based rewards, held-out greedy accuracy     evaluation
pass_at_k             unbiased pass@k, answer statistics               evaluation
ScratchpadAddition    worked (column by column) or direct answers      scratchpad
LMTrainer             the shared loop, checkpoints (save/load)         trainer
SFTTrainer            imitation of imperfect demos → π_ref             sft
grpo_loss             clipped ratio − β k3, grpo/dr_grpo/dapo          grpo_loss
GRPOTrainer           G samples per prompt, group advantages           grpo
PPOLMTrainer          critic, token-level GAE, KL-in-reward            ppo
is_collapsed          the collapse watchdog                            watchdog
RewardModel           TinyGPT trunk + scalar head, Bradley–Terry loss  reward_model
FlawedLabeller        preference pairs judged with a known flaw        preferences
step_rewards          per-step checks of a worked answer (0/1)         step_reward
process_advantage_fn  GRPO with process supervision (advantage hook)   process_hooks
process_token_rewards step rewards on end tokens (PPO + GAE hook)      process_hooks
ProcessRewardModel    a learned per-step marker (BCE at step ends)     process_reward_model
to_hf, from_hf        TinyGPT ↔ transformers GPT2LMHeadModel           hf
HFTokenizer           any transformers causal LM + tokenizer in GRPO   hf_lm
====================  ===============================================  ==============

``train_sft``, ``train_grpo`` and ``train_ppo_lm`` are the trainers' one-call forms.
"""
from .evaluation import (
                           accuracy,
                           answer_stats,
                           answers,
                           pass_at_k,
                           prompts_tensor,
                           score,
)
from .grpo import GRPOConfig, GRPOTrainer, train_grpo
from .grpo_loss import grpo_loss
from .hf import CausalLMAdapter, from_hf, to_hf, tokenizer_to_hf
from .hf_lm import HFTokenizer
from .memory import SavedTensorMeter, state_bytes
from .model import GPTConfig, TinyGPT
from .ppo import (
                           PPOLMConfig,
                           PPOLMTrainer,
                           make_critic,
                           ppo_lm_loss,
                           token_gae,
                           token_rewards,
                           train_ppo_lm,
)
from .preferences import (
                           SURFACES,
                           FlawedLabeller,
                           PreferencePairs,
                           demo_answers,
                           encode_answers,
                           make_pairs,
                           sample_answers,
)
from .process_hooks import process_advantage_fn, process_token_reward_fn, process_token_rewards
from .process_reward_model import (
                           ProcessRewardModel,
                           ProcessRewardModelConfig,
                           prm_advantage_fn,
                           step_accuracy,
                           train_process_reward_model,
)
from .reward_model import (
                           RewardModel,
                           RewardModelConfig,
                           bradley_terry_loss,
                           pairwise_accuracy,
                           reward_fn,
                           train_reward_model,
)
from .sampling import completion_log_probs, completion_mask, generate
from .scratchpad import ScratchpadAddition, ScratchpadCountdown, final_answer, is_worked
from .sft import SFTConfig, SFTTrainer, demo_batch, train_sft
from .step_reward import StepTask, step_rewards, step_rewards_from_completions
from .tasks import (
                           AdditionTask,
                           CountdownTask,
                           Problem,
                           eval_expression,
                           is_heldout,
                           no_carry_sum,
)
from .tokenizer import BOS, EOS, PAD, CharTokenizer
from .trainer import LMTrainer
from .watchdog import COLLAPSE_HINT, is_collapsed

__all__ = [
    "accuracy", "prompts_tensor", "score", "GRPOConfig", "GRPOTrainer", "PPOLMTrainer", "SFTTrainer",
    "LMTrainer", "COLLAPSE_HINT", "is_collapsed", "grpo_loss", "train_grpo", "SavedTensorMeter",
    "state_bytes", "GPTConfig", "TinyGPT", "PPOLMConfig", "make_critic", "ppo_lm_loss", "token_gae",
    "token_rewards", "train_ppo_lm", "completion_log_probs", "completion_mask", "generate", "SFTConfig",
    "demo_batch", "train_sft", "AdditionTask", "CountdownTask", "Problem", "eval_expression", "is_heldout",
    "no_carry_sum", "BOS", "EOS", "PAD", "CharTokenizer", "CausalLMAdapter", "HFTokenizer", "from_hf", "to_hf", "tokenizer_to_hf",
    "RewardModel", "RewardModelConfig", "bradley_terry_loss", "pairwise_accuracy", "reward_fn", "train_reward_model",
    "SURFACES", "FlawedLabeller", "PreferencePairs", "demo_answers", "encode_answers", "make_pairs", "sample_answers",
    "StepTask", "step_rewards", "step_rewards_from_completions", "answer_stats", "answers", "pass_at_k",
    "ScratchpadAddition", "ScratchpadCountdown", "final_answer", "is_worked", "process_advantage_fn",
    "process_token_rewards", "process_token_reward_fn", "ProcessRewardModel", "ProcessRewardModelConfig",
    "prm_advantage_fn", "step_accuracy", "train_process_reward_model",
]
