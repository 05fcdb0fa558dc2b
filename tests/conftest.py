"""Shared test setup.

Tests run under pytest-xdist with one worker per core; letting every worker also start
one torch thread per core oversubscribes the CPU (measured here: a tiny PPO run took
23 s instead of 3.5 s). One thread per worker is the right size for these small tensors.
"""
import torch

torch.set_num_threads(1)
