"""Exercise ``ppo_update`` (chapter 3, graded capstone): the stub for the command-line route.

Where to write it. Colab: in the exercise cell at the end of chapter 3 (it defines ``ppo_update`` and
ends with ``check("ppo_update", ppo_update)``); in Colab this file lies inside the installed package and
is not the place for your code. Locally: that cell, or this file: replace the body below, save, then
run ``check("ppo_update")`` (``from ppo_grpo_lab.grade import check``) or
``python -m ppo_grpo_lab.grade ppo_update``. The grader reads this file again on every call, so an
edit counts without a kernel restart.
"""
from __future__ import annotations

__all__ = ["ppo_update"]


def ppo_update(policy, optimizer, obs, actions, old_log_probs, advantages, generator, epochs, minibatch_size,
               clip_eps):
    r"""One PPO update of the exam policy from one rollout: ``epochs`` passes over shuffled minibatches (chapter 3).

    For each epoch, draw a fresh order ``perm = torch.randperm(N, generator=generator)``; minibatch k
    holds the exams ``perm[k*M:(k+1)*M]`` (M = ``minibatch_size``; the last one may be shorter). On
    each minibatch, take one optimizer step (``zero_grad``, ``backward``, ``step``) on the clipped loss

    .. math::

        r_i = \exp\big(\log\pi_\theta(a_i\mid s_i) - \log\pi_{\theta_\text{old}}(a_i\mid s_i)\big), \qquad
        L = -\frac1{|mb|}\sum_{i\in mb} \min\big(r_i A_i,\ \operatorname{clip}(r_i, 1-\varepsilon, 1+\varepsilon) A_i\big)

    Args:
        policy: a :class:`~ppo_grpo_lab.bandit.policy.TabularSoftmaxPolicy`;
            ``policy.log_prob(obs, actions)`` gives (Tensor, [n]) for n exams.
        optimizer: a ``torch.optim`` optimizer over ``policy.parameters()``.
        obs: (Tensor, [N, S]) one-hot students of the rollout.
        actions: (LongTensor, [N]) what each student did.
        old_log_probs: (Tensor, [N]) ``log π_θold(a_i|s_i)`` when the rollout was collected (no gradient).
        advantages: (Tensor, [N]) ``A_i``.
        generator: ``torch.Generator`` for the minibatch orders (one ``randperm`` per epoch, nothing else).
        epochs: K >= 1, passes over the rollout.
        minibatch_size: M >= 1 exams per gradient step.
        clip_eps: ε > 0.

    Returns:
        None: the update changes ``policy``'s parameters (and the optimizer's state) in place.
    """
    raise NotImplementedError("exercise 'ppo_update': write your solution here")
