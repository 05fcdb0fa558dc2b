"""Full PPO (Schulman et al., 2017) built on the package's core functions.

=================  ==================================================  ============
name               role                                                module
=================  ==================================================  ============
PPOConfig          hyperparameters, documented and validated           config
ActorCritic        π_θ and V_ψ as two MLPs, orthogonal init            agent
collect_rollout    T steps of N envs into [T, N] tensors               rollout
Normalizer         running obs/reward normalisation (norm_obs, ...)    normalize
ppo_loss           −L^CLIP + c1 L^VF − c2 H (pure)                     loss
ppo_update         one update in one process, the readable reference   update
PPOTrainer         the loop; save/load checkpoints; NaN guard          trainer
(torchrun)         several processes share the envs, sum gradients     ..distributed
=================  ==================================================  ============
"""
from .agent import ActorCritic, check_spaces
from .config import PPOConfig
from .loss import explained_variance, normalize_advantages, ppo_loss
from .normalize import Normalizer, RunningMeanStd
from .rollout import EpisodeTracker, Rollout, VecEnvAdapter, collect_rollout, compute_advantages, make_vec_env
from .trainer import PPOTrainer, train_ppo
from .update import ppo_update

__all__ = ["ActorCritic", "check_spaces", "PPOConfig", "explained_variance", "normalize_advantages", "ppo_loss",
           "Normalizer", "RunningMeanStd",
           "EpisodeTracker", "Rollout", "VecEnvAdapter", "collect_rollout", "compute_advantages", "make_vec_env", "PPOTrainer",
           "train_ppo", "ppo_update"]
