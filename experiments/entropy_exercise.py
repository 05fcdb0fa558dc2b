"""Chapter 9's exercise "Entropy, too little and too much": CartPole-v1 with ent_coef 0, 0.01 (default), 0.5.

Three seeds each, a 61,440-step budget (60k rounded up to whole batches of the defaults), one torch thread.
Prints the policy's entropy at the first and last update and the mean return of the last 20 episodes.
Results are in RESULTS_exercises.md. Run: python experiments/entropy_exercise.py  (about 2.5 CPU-minutes)
"""

import time

import numpy as np
import torch

from ppo_grpo_lab.ppo.config import PPOConfig
from ppo_grpo_lab.ppo.trainer import train_ppo


def main() -> None:
    torch.set_num_threads(1)
    print(f"{'ent_coef':>8s}{'seed':>5s}{'entropy first':>15s}{'entropy last':>14s}{'return (last 20)':>18s}{'CPU s':>7s}")
    for ent in (0.0, 0.01, 0.5):
        for seed in (0, 1, 2):
            t = time.process_time()
            h = train_ppo("CartPole-v1", PPOConfig(ent_coef=ent, total_timesteps=61_440, seed=seed, progress=False))
            entropy = h.series("stats/entropy")[1]
            ret = h.series("charts/episode_return")[1]
            print(f"{ent:8.2f}{seed:5d}{entropy[0]:15.3f}{entropy[-1]:14.3f}{np.mean(ret[-20:]):18.1f}"
                  f"{time.process_time() - t:7.1f}", flush=True)


if __name__ == "__main__":
    main()
