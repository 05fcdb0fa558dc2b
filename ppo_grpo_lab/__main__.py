"""``python -m ppo_grpo_lab``: train PPO or GRPO from the shell (see :mod:`ppo_grpo_lab.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
