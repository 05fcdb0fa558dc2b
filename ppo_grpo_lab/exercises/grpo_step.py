"""Exercise ``grpo_step`` (chapter 11, graded capstone): the stub for the command-line route.

Where to write it. Colab: in the exercise cell at the end of chapter 11 (it defines ``grpo_step`` and
ends with ``check("grpo_step", grpo_step)``); in Colab this file lies inside the installed package and
is not the place for your code. Locally: that cell, or this file: replace the body below, save, then
run ``check("grpo_step")`` (``from ppo_grpo_lab.grade import check``) or
``python -m ppo_grpo_lab.grade grpo_step``. The grader reads this file again on every call, so an
edit counts without a kernel restart.
"""
from __future__ import annotations

__all__ = ["grpo_step"]


def grpo_step(policy, reference, optimizer, prompts, completions, mask, old_log_probs, rewards, beta, clip_eps,
              aggregation):
    r"""One GRPO gradient step on a batch of sampled answers (chapter 11).

    1. Group advantages from ``rewards`` [Q, G]: ``Â = (r − mean_G r) / (std_G r + 1e-4)`` (unbiased std),
       exactly 0 in a group whose G rewards are all equal; flattened to one per answer, [Q·G]
       (row ``q·G + g`` of ``completions`` is answer g to question q).
    2. Per-token log-probabilities of the answers under ``policy`` (with gradient) and ``reference``
       (without), e.g. ``completion_log_probs(model, prompts, completions)["log_probs"]`` [Q·G, L].
    3. Per token: ``x = min(r Â, clip(r, 1−ε, 1+ε) Â) − β k3``, with ``r = exp(log π_θ − log π_old)``
       and ``k3 = exp(log π_ref − log π_θ) − 1 − (log π_ref − log π_θ)``.
    4. Loss ``= −aggregate(x, mask)`` over the real tokens only (``|o_i|`` = real tokens of answer i):

       - ``"grpo"``: mean over each answer's tokens, then over the Q·G answers;
       - ``"bnpo"`` and ``"dapo"``: sum over all real tokens / their number (one process: the same);
       - ``"dr_grpo"``: sum over all real tokens / (Q·G · L), L the padded width.

    5. ``optimizer.zero_grad()``, ``loss.backward()``, ``optimizer.step()`` (no gradient clipping).

    Args:
        policy, reference: :class:`~ppo_grpo_lab.llm.model.TinyGPT` (π_θ, trained; π_ref, frozen).
        optimizer: a ``torch.optim`` optimizer over ``policy.parameters()``.
        prompts: (LongTensor, [Q·G, P]) each question's prompt, G times.
        completions: (LongTensor, [Q·G, L]) sampled answers (padding holds arbitrary tokens).
        mask: (bool Tensor, [Q·G, L]) True on real answer tokens; every row has at least one.
        old_log_probs: (Tensor, [Q·G, L]) ``log π_θold`` of the answers (padding holds arbitrary values).
        rewards: (Tensor, [Q, G]) one reward per answer.
        beta: β >= 0 (0: the reference is not needed).
        clip_eps: ε > 0.
        aggregation: ``"grpo"``, ``"bnpo"``, ``"dr_grpo"`` or ``"dapo"``.

    Returns:
        None: the step changes ``policy``'s parameters (and the optimizer's state) in place.
    """
    raise NotImplementedError("exercise 'grpo_step': write your solution here")
