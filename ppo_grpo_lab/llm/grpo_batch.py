"""The batch of groups GRPO trains on: sample G answers per question, score them, and (DAPO) keep only groups
with signal.

One *round* draws B questions from the task's prompt stream, samples G answers to each (this process
generates its rows; the random numbers are those of one process, see :func:`~ppo_grpo_lab.llm.sampling.generate`)
and scores them. The training reward is the task's checker or, when given, a reward hook
``reward_fn(problems, texts, finished) -> (Tensor, [N])`` (e.g. a learned reward model,
:func:`~ppo_grpo_lab.llm.reward_model.reward_fn`); the checker is scored in both cases (the *gold* reward).

Dynamic sampling (DAPO, Yu et al. 2025): a group whose G rewards are all equal has advantage 0 for every
answer and only dilutes the batch. With ``dynamic_sampling`` on, rounds are sampled until B groups with
spread (max > min) are found, or until ``max_resample_rounds`` extra rounds were drawn; the trained batch is
the first B groups with spread, topped up, if the cap was hit, with the first zero-spread groups
(advantage 0: they change no gradient direction, only the ``grpo``/``bnpo`` averages' denominators). The
decisions are taken on the rewards gathered from all processes, so every process keeps the same groups; the
sampled answers are gathered too, and each process then trains on its share (questions q0 … q0+k−1) of the
kept groups.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .. import distributed as ddp
from ..group import zero_std_groups
from .evaluation import generate_answers, prompt_batch, score
from .rollout import sample_with_log_probs
from .sampling import completion_mask

__all__ = ["GroupBatch", "score_answers", "keep_groups", "collect_groups", "hook_advantages"]


@dataclass
class GroupBatch:
    """What one update trains on (this process's rows) and what was sampled (all processes).

    Attributes:
        problems: this process's k·G problems (each question G times); prompts: (LongTensor, [k·G, P]);
        completions, mask: (LongTensor / bool Tensor, [k·G, L]); prompt_mask: (bool Tensor, [k·G, P])
        False on left padding, or None (no padding).
        rewards: (Tensor, [B, G]) training rewards of the trained groups (all processes).
        sampled: ``{"rewards", "gold", "correct", "lengths"}`` (Tensor, [M·G]) of every answer sampled in
            this update, M ≥ B questions (M = B without dynamic sampling).
        rounds: extra sampling rounds drawn (0 without dynamic sampling).
        rollout: with :meth:`~ppo_grpo_lab.llm.grpo.GRPOTrainer.samples_with_graph`, the policy's ``log_probs`` (differentiable),
            ``entropy`` and π_ref's ``ref_log_probs`` (Tensor, [k·G, L]) kept from sampling
            (:func:`~ppo_grpo_lab.llm.rollout.sample_with_log_probs`); else None.
    """

    problems: list
    prompts: Tensor
    completions: Tensor
    mask: Tensor
    rewards: Tensor
    sampled: dict[str, Tensor]
    rounds: int = 0
    prompt_mask: Tensor | None = None
    rollout: dict[str, Tensor] | None = None

    def metrics(self) -> dict[str, Tensor | int]:
        """``reward/*``, ``stats/zero_std_frac`` (sampled groups, before filtering), ``stats/batch_zero_std_frac``
        (trained groups), ``stats/resample_rounds`` and ``completion/length`` (see :class:`GRPOTrainer`).
        """
        s, G = self.sampled, self.rewards.shape[1]
        acc = s["correct"].float().mean()
        return {"reward/mean": s["rewards"].mean(), "reward/std": s["rewards"].std(), "reward/accuracy": acc,
                "reward/gold": s["gold"].mean(), "reward/gold_accuracy": acc,
                "stats/zero_std_frac": zero_std_groups(s["rewards"].view(-1, G)).float().mean(),
                "stats/batch_zero_std_frac": zero_std_groups(self.rewards).float().mean(),
                "stats/resample_rounds": self.rounds, "completion/length": s["lengths"].mean()}


def score_answers(task, tok, problems, completions: Tensor, reward_fn=None) -> tuple[Tensor, Tensor, Tensor]:
    """``(rewards, gold, correct)``, each (Tensor, [N]), of N sampled rows (LongTensor, [N, L], on the CPU).

    ``gold`` is the task's checker (``task.reward``), ``rewards`` the hook's value (``gold`` without a hook).
    """
    gold, correct = score(task, tok, problems, completions)
    if reward_fn is None:
        return gold, gold, correct
    rows = completions.tolist()
    texts, finished = [tok.decode(r) for r in rows], [tok.eos_id in r for r in rows]
    rewards = torch.as_tensor(reward_fn(problems, texts, finished)).detach().float().cpu()
    if rewards.shape != (len(problems),):
        raise ValueError(f"reward_fn: expected a Tensor of shape ({len(problems)},) (one reward per answer), "
                         f"got shape {tuple(rewards.shape)}")
    return rewards, gold, correct


def _round(trainer, gather_completions: bool) -> dict:
    """One round: B questions, this process's k·G answers, scores gathered from all processes."""
    cfg, task, tok, dev = trainer.config, trainer.task, trainer.tok, trainer.device
    G, n_q, k, q0 = cfg.group_size, cfg.batch_size // cfg.group_size, trainer.q_local, trainer.q0
    questions = task.sample(n_q, trainer.rng, "train")  # every rank draws all B, keeps its share
    problems = [p for p in questions[q0:q0 + k] for _ in range(G)]  # each question G times
    rollout = None
    if trainer.samples_with_graph():  # μ = 1 and share_prefixes: the policy's graph and π_ref kept from sampling
        prompts, prompt_mask = prompt_batch(tok, questions[q0:q0 + k], dev)  # each question encoded once
        prompts = prompts.repeat_interleave(G, dim=0)  # (k·G, P); a padded batch is refused below
        with trainer.meter.measure():
            rollout = sample_with_log_probs(trainer.model, prompts, task.max_answer_len, cfg.temperature,
                                            trainer.generator, trainer.reference if cfg.beta > 0 else None,
                                            (q0 * G, n_q * G), tok.eos_id, tok.pad_id, prompt_mask)
        completions, mask = rollout["completions"], rollout["mask"]
    else:
        prompts, prompt_mask, completions, mask = generate_answers(  # (k·G, P), (k·G, L): this rank's rows of B·G
            trainer.model, tok, problems, task.max_answer_len, cfg.temperature, trainer.generator, dev,
            shard=(q0 * G, n_q * G), share_prefixes=cfg.share_prefixes)
    rewards, gold, correct = score_answers(task, tok, problems, completions.cpu(), trainer.reward_fn)
    out = {"questions": questions, "problems": problems, "prompts": prompts, "prompt_mask": prompt_mask,
           "completions": completions, "mask": mask, "rollout": rollout,
           "rewards": ddp.all_gather_cat(rewards.to(dev), 0).cpu(),  # (B·G,): statistics are global
           "gold": ddp.all_gather_cat(gold.to(dev), 0).cpu(),
           "correct": ddp.all_gather_cat(correct.to(dev, torch.uint8), 0).cpu().bool(),
           "lengths": ddp.all_gather_cat(mask.sum(1).float(), 0).cpu()}
    if gather_completions:
        out["all_completions"] = ddp.all_gather_cat(completions, 0)  # (B·G, L)
    return out


def keep_groups(spread: Tensor, n_keep: int) -> Tensor:
    """Indices of the groups to train on, in sampling order: the first ``n_keep`` with spread and, if there
    are fewer, the first groups without.

    Args:
        spread: (bool Tensor, [M]) True where a group's rewards are not all equal; M ≥ n_keep.
        n_keep: B, groups in the trained batch.

    Returns:
        (LongTensor, [B]). Example: spread [F, T, F, T, T], B = 2 → [1, 3]; spread [F, T, F], B = 2 → [0, 1].
    """
    if spread.ndim != 1 or spread.dtype != torch.bool or spread.numel() < n_keep:
        raise ValueError(f"spread: expected a bool Tensor [M] with M >= {n_keep}, got {spread.dtype} "
                         f"{tuple(spread.shape)}")
    with_spread, without = spread.nonzero().flatten(), (~spread).nonzero().flatten()
    return torch.cat([with_spread[:n_keep], without[:max(0, n_keep - with_spread.numel())]]).sort().values


def collect_groups(trainer) -> GroupBatch:
    """The batch of one update (see the module docstring): one round, or DAPO's dynamic sampling."""
    cfg = trainer.config
    G, n_q = cfg.group_size, cfg.batch_size // cfg.group_size
    if not cfg.dynamic_sampling:
        r = _round(trainer, gather_completions=False)
        sampled = {key: r[key] for key in ("rewards", "gold", "correct", "lengths")}
        return GroupBatch(r["problems"], r["prompts"], r["completions"], r["mask"], r["rewards"].view(n_q, G), sampled,
                          prompt_mask=r["prompt_mask"], rollout=r["rollout"])
    rounds = [_round(trainer, gather_completions=True)]
    while len(rounds) <= cfg.max_resample_rounds:  # decisions from global rewards: every rank agrees
        have = sum(int((~zero_std_groups(r["rewards"].view(-1, G))).sum()) for r in rounds)
        if have >= n_q:
            break
        rounds.append(_round(trainer, gather_completions=True))
    sampled = {key: torch.cat([r[key] for r in rounds]) for key in ("rewards", "gold", "correct", "lengths")}
    rewards_mg = sampled["rewards"].view(-1, G)  # (M, G)
    keep = keep_groups(~zero_std_groups(rewards_mg), n_q)  # (B,) global group indices
    k, q0 = trainer.q_local, trainer.q0
    mine = keep[q0:q0 + k]  # this rank's share of the kept groups
    questions = [q for r in rounds for q in r["questions"]]
    problems = [questions[int(i)] for i in mine for _ in range(G)]
    comps = torch.cat([r["all_completions"] for r in rounds]).view(-1, G, rounds[0]["completions"].shape[1])
    completions = comps[mine].flatten(0, 1)  # (k·G, L)
    prompts, prompt_mask = prompt_batch(trainer.tok, problems, trainer.device)
    return GroupBatch(problems, prompts, completions, completion_mask(completions, trainer.tok.eos_id), rewards_mg[keep],
                      sampled, len(rounds) - 1, prompt_mask)


def hook_advantages(advantage_fn, batch: GroupBatch, q0: int, k: int) -> Tensor:
    """The advantage hook's per-token advantages (Tensor, [k·G, L]) of this rank's rows, shape-checked."""
    G = batch.rewards.shape[1]
    rewards = batch.rewards.reshape(-1)[q0 * G:(q0 + k) * G]  # (k·G,) this rank's training rewards
    adv = torch.as_tensor(advantage_fn(batch.problems, batch.completions, batch.mask, rewards))
    if adv.shape != batch.completions.shape:
        raise ValueError(f"advantage_fn: expected per-token advantages of shape {tuple(batch.completions.shape)} "
                         f"([k·G, L], this process's rows), got {tuple(adv.shape)}")
    return adv if torch.is_floating_point(adv) else adv.float()
