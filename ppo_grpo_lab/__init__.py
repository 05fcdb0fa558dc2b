"""ppo_grpo_lab: PPO and GRPO from zero, as small tested functions.

Core (pure functions, time-major ``[T, N]`` rollouts, ``[B, G]`` groups, ``[B, L]`` tokens):

- ``discounted_returns`` (module ``returns``): G_t = r_t + γ G_{t+1}
- ``td_residuals`` (``td``): δ_t = r_t + γ V(s_{t+1}) − V(s_t)
- ``gae``, ``gae_loop`` (``gae``): Â_t = δ_t + γλ Â_{t+1}
- ``n_step_advantages`` (``nstep``): Σ_{k<n} γ^k r_{t+k} + γ^n V(s_{t+n}) − V(s_t)
- ``group_advantages`` (``group``): (r − mean) / std within a group
- ``clipped_surrogate``, ``clip_statistics`` (``surrogate``): −E[min(r A, clip(r) A)] and its diagnostics
- ``naive_policy_gradient_loss``, ``clipped_policy_gradient_loss``, ``policy_gradient_loss``
  (``policy_gradient``): per-token −A log π and −min(r A, clip(r) A)
- ``sft_loss`` (``sft_loss``): masked NLL of given log-probs
- ``masked_whiten`` (``whitening``): (x − mean) / (unbiased std + ε) over a mask
- ``value_loss`` (``value``): (V − V^targ)²
- ``entropy`` (``entropy``): −Σ π log π
- ``kl_k1``, ``kl_k2``, ``kl_k3`` (``kl``): per-sample KL estimators
- ``process_advantages``, ``normalize_step_rewards``, ``step_rewards_to_tokens`` (``process``): process
  supervision, step rewards normalised over the group, each token credited with the steps from its own on
- ``masked_mean``, ``masked_normalize``, ``aggregate`` (``aggregation``): GRPO / BNPO / Dr. GRPO / DAPO
  token aggregation

Logging: ``TensorBoardLogger``, ``WandbLogger``, ``attach`` (``loggers``): the History's metrics, same names.

Every public function checks its inputs once and calls an unchecked kernel of the same module
(``surrogate._clipped_objective``, ``kl._kl_k3``, ``aggregation._aggregate``, ...), which
composite losses (``ppo.ppo_loss``, ``llm.grpo_loss``) call after checking their own inputs.

Subpackages: ``envs`` (ExamBandit, WeeklyExams, torch-vectorised CartPole and WeeklyExams),
``bandit`` (Part I trainer), ``mdp`` (exact policy evaluation), ``ppo`` (PPO trainer),
``llm`` (toy language model, GRPO and PPO), ``grade`` (exercise grader).
"""
from . import envs  # noqa: F401,E402  (registers ppo_grpo_lab/ExamBandit-v0 and ppo_grpo_lab/WeeklyExams-v0 with Gymnasium)
from ._checks import NonFiniteError
from .aggregation import (
                          AGGREGATIONS,
                          aggregate,
                          aggregate_bnpo,
                          aggregate_dapo,
                          aggregate_dr_grpo,
                          aggregate_grpo,
                          masked_mean,
                          masked_normalize,
)
from .device import resolve_device
from .entropy import entropy
from .gae import gae, gae_loop
from .group import group_advantages, zero_std_groups
from .history import History
from .kl import KL_ESTIMATORS, kl_k1, kl_k2, kl_k3
from .loggers import TensorBoardLogger, WandbLogger, attach, write_history
from .nstep import n_step_advantages, n_step_advantages_loop
from .policy_gradient import (
                          PG_LOSSES,
                          clipped_policy_gradient_loss,
                          naive_policy_gradient_loss,
                          policy_gradient_loss,
)
from .process import (
                          normalize_step_rewards,
                          process_advantages,
                          process_advantages_loop,
                          step_rewards_to_tokens,
)
from .quick import budget, quick_mode
from .returns import discounted_returns
from .sft_loss import sft_loss
from .surrogate import clip_statistics, clipped_objective, clipped_surrogate
from .td import td_residuals
from .value import value_loss
from .whitening import masked_whiten

__version__ = "0.1.0"

__all__ = [
    "AGGREGATIONS", "aggregate", "aggregate_dapo", "aggregate_dr_grpo", "aggregate_grpo", "masked_mean",
    "resolve_device", "entropy", "gae", "gae_loop", "group_advantages", "zero_std_groups",
    "KL_ESTIMATORS", "kl_k1", "kl_k2", "kl_k3", "budget", "quick_mode", "discounted_returns",
    "clipped_objective", "clipped_surrogate", "td_residuals", "value_loss", "History",
    "n_step_advantages", "n_step_advantages_loop", "NonFiniteError", "aggregate_bnpo", "masked_normalize",
    "clip_statistics", "PG_LOSSES", "naive_policy_gradient_loss", "clipped_policy_gradient_loss",
    "policy_gradient_loss", "sft_loss", "masked_whiten", "normalize_step_rewards", "process_advantages",
    "process_advantages_loop", "step_rewards_to_tokens", "TensorBoardLogger", "WandbLogger", "attach",
    "write_history",
]
