"""Part I of the book on one contextual bandit, the exam (:mod:`ppo_grpo_lab.envs.exam_bandit`).

- :mod:`.exact`: exact J(π), V^π, ∂J/∂θ and KL for a tabular softmax policy (ground truth).
- :mod:`.policy`: the tabular softmax policy π_θ and critic V_ψ.
- :mod:`.baselines`: the none / critic / group baselines, one registry.
- :mod:`.gradients`: REINFORCE loss and many-batch gradient estimates (bias/variance studies).
- :mod:`.trainer`: :class:`BanditConfig` and :func:`train_bandit`, one loop for chapters 1–5.
"""
from .baselines import BASELINES, baseline_advantages
from .exact import (
                    exact_kl,
                    exact_policy_gradient,
                    expected_reward,
                    kl_regularized_optimum,
                    model_tensors,
                    optimal_reward,
                    regularized_objective,
                    state_values,
)
from .gradients import gradient_error, gradient_estimates, reinforce_loss, sample_exams
from .policy import TabularCritic, TabularSoftmaxPolicy
from .trainer import BanditConfig, train_bandit

__all__ = ["exact_kl", "exact_policy_gradient", "expected_reward", "kl_regularized_optimum", "model_tensors",
           "optimal_reward", "regularized_objective", "state_values", "gradient_error", "gradient_estimates",
           "reinforce_loss", "sample_exams", "TabularCritic", "TabularSoftmaxPolicy", "BanditConfig", "train_bandit",
           "BASELINES", "baseline_advantages"]
