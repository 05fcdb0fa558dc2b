"""ppo_grpo_lab: PPO and GRPO from zero, as small tested functions.

Core (pure functions, time-major ``[T, N]`` rollouts, ``[B, G]`` groups, ``[B, L]`` tokens):

=====================  ==========================================  =====================
function               equation                                    module
=====================  ==========================================  =====================
discounted_returns     G_t = r_t + γ G_{t+1}                        returns
td_residuals           δ_t = r_t + γ V(s_{t+1}) − V(s_t)            td
gae, gae_loop          Â_t = δ_t + γλ Â_{t+1}                       gae
n_step_advantages      Σ_{k<n} γ^k r_{t+k} + γ^n V(s_{t+n}) − V(s_t)  nstep
group_advantages       (r − mean) / std over a group                group
clipped_surrogate      −E[min(r A, clip(r) A)]                      surrogate
value_loss             (V − V^targ)²                                value
entropy                −Σ π log π                                   entropy
kl_k1, kl_k2, kl_k3    per-sample KL estimators                     kl
masked_mean, aggregate GRPO / Dr. GRPO / DAPO token aggregation     aggregation
=====================  ==========================================  =====================
"""
from .aggregation import AGGREGATIONS, aggregate, aggregate_dapo, aggregate_dr_grpo, aggregate_grpo, masked_mean
from .device import resolve_device
from .entropy import entropy
from .gae import gae, gae_loop
from .history import History
from .group import group_advantages, zero_std_groups
from .kl import KL_ESTIMATORS, kl_k1, kl_k2, kl_k3
from .quick import budget, quick_mode
from .nstep import n_step_advantages, n_step_advantages_loop
from .returns import discounted_returns
from .surrogate import clipped_objective, clipped_surrogate
from .td import td_residuals
from .value import value_loss

__version__ = "0.1.0"

__all__ = [
    "AGGREGATIONS", "aggregate", "aggregate_dapo", "aggregate_dr_grpo", "aggregate_grpo", "masked_mean",
    "resolve_device", "entropy", "gae", "gae_loop", "group_advantages", "zero_std_groups",
    "KL_ESTIMATORS", "kl_k1", "kl_k2", "kl_k3", "budget", "quick_mode", "discounted_returns",
    "clipped_objective", "clipped_surrogate", "td_residuals", "value_loss", "History",
    "n_step_advantages", "n_step_advantages_loop",
]
