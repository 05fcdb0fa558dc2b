"""Environments of the book, registered with Gymnasium under the ``ppo_grpo_lab`` namespace.

import gymnasium as gym
import ppo_grpo_lab.envs  # registers the ids below
env = gym.make("ppo_grpo_lab/ExamBandit-v0")
"""
from gymnasium.envs.registration import register, registry

_ENVS = {
    "ppo_grpo_lab/ExamBandit-v0": "ppo_grpo_lab.envs.exam_bandit:ExamBandit",
    "ppo_grpo_lab/WeeklyExams-v0": "ppo_grpo_lab.envs.weekly_exams:WeeklyExams",
}

for _id, _entry in _ENVS.items():
    if _id not in registry:
        register(id=_id, entry_point=_entry)

from .torch_cartpole import TorchCartPoleVectorEnv  # noqa: E402
from .torch_vector import TorchVectorEnv  # noqa: E402
from .torch_weekly_exams import TorchWeeklyExamsVectorEnv  # noqa: E402

__all__ = ["TorchVectorEnv", "TorchCartPoleVectorEnv", "TorchWeeklyExamsVectorEnv"]
