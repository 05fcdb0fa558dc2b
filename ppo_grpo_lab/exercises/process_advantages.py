"""Exercise ``process_advantages`` (chapter 15, Exercise 15.1).

Where to write it. Colab: in the chapter's exercise cell, which defines the function and runs
``check("process_advantages", process_advantages)`` (this file sits in site-packages there). Locally: that cell,
or this file: replace the body, save, then run ``check("process_advantages")``
(``from ppo_grpo_lab.grade import check``) or ``python -m ppo_grpo_lab.grade process_advantages``. The grader
reads this file again on every call: no kernel restart after an edit.
"""
from __future__ import annotations

__all__ = ["process_advantages"]


def process_advantages(step_rewards, step_mask, step_ends, length, eps=1e-4):
    r"""GRPO's process-supervised advantages (chapter 15, DeepSeekMath §4.1.3).

    .. math::

        \tilde r_{i,j} = \frac{r_{i,j} - \operatorname{mean}(R)}{\operatorname{std}(R) + \varepsilon},
        \qquad \hat A_{i,t} = \sum_{j:\ \text{end}_{i,j} \ge t} \tilde r_{i,j}

    R holds every real step reward of the G answers of one question (padding left out); the std
    is the sample std (Bessel's correction, ``torch.std``'s default). A question whose real step
    rewards are all equal, or that has fewer than two real steps, carries no signal: its
    advantages must be exactly 0. Tokens after an answer's last step get 0.

    Args:
        step_rewards: (Tensor, [B, G, S]) B questions, G answers each, at most S steps per answer;
            padding entries hold arbitrary values.
        step_mask: (bool Tensor, [B, G, S]) True for real steps (the first k of an answer's S slots).
        step_ends: (LongTensor, [B, G, S]) index in [0, length) of each real step's last token,
            increasing along S; arbitrary at padding.
        length: L, tokens per answer.
        eps: ε added to the std.

    Returns:
        (Tensor, [B·G, L]) per-token advantages; row ``b·G + g`` is answer g to question b.
    """
    raise NotImplementedError("exercise 'process_advantages': write your solution here")
