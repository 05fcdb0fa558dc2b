"""Exercise stubs, one module per exercise, named after the function you write.

Each module holds one function with the exact signature the grader calls, whose body
raises ``NotImplementedError``. Each chapter has the same function in its exercise cell (the
cell tagged ``exercise`` after "Exercise N.k (graded)"), ending with ``check("<name>", <name>)``.
Either write the body in that cell (the only way in Colab, where this package sits in
site-packages), or edit the stub file and check the file as saved (it is read again on every
call, so no kernel restart is needed)::

    from ppo_grpo_lab.grade import check
    check("gae", gae)      # gae defined in the cell
    check("gae")           # the stub file ppo_grpo_lab/exercises/gae.py as it is now

=====================  =======  ================================================================
exercise               chapter  signature
=====================  =======  ================================================================
reinforce_loss         1        (log_probs[N], rewards[N]) -> 0-d loss
baseline_advantage     2        (rewards[N], values[N]) -> [N]
clipped_surrogate      3        (log_probs, old_log_probs, advantages, clip_eps) -> 0-d loss
kl_k3                  4        (log_probs, ref_log_probs) -> per element
group_advantages       5        (rewards[B, G], eps=1e-4) -> [B, G]
discounted_returns     6        (rewards, terminated, truncated, next_values, gamma) -> [T, N]
td_residuals           7        (rewards, values, next_values, terminated, gamma) -> [T, N]
gae                    7        (rewards, values, next_values, terminated, truncated, gamma, lam) -> [T, N]
q_from_v               8        (P[S, A, S], R[S, A], V[S], gamma) -> [S, A]
value_loss             9        (values, targets, old_values, clip_eps) -> 0-d loss
n_step_advantages      10       (rewards, values, next_values, terminated, truncated, gamma, n) -> [T, N]
aggregate_grpo         11       (per_token[B, L], mask[B, L]) -> 0-d
bradley_terry_loss     14       (r_chosen[N], r_rejected[N]) -> 0-d loss
ppo_update             3        (policy, optimizer, obs, actions, old_log_probs, advantages, ...) -> None
grpo_step              11       (policy, reference, optimizer, prompts, completions, mask, ...) -> None
process_advantages     15       (step_rewards[B, G, S], step_mask, step_ends, length, eps=1e-4) -> [B·G, L]
=====================  =======  ================================================================

The reference solutions live in :mod:`ppo_grpo_lab.exercises.references` (spoilers). A
student edition may leave that module out: the grader then takes the instructor's
references (``--references``), see :mod:`ppo_grpo_lab.grade.references`.
"""
from __future__ import annotations

NAMES: tuple[str, ...] = (
    "reinforce_loss", "baseline_advantage", "clipped_surrogate", "kl_k3", "group_advantages",
    "discounted_returns", "td_residuals", "gae", "q_from_v", "value_loss", "n_step_advantages",
    "aggregate_grpo", "bradley_terry_loss",
)
NAMES += ("ppo_update", "grpo_step")  # the capstones: a whole update, graded by the parameters it leaves
NAMES += ("process_advantages",)

CHAPTERS: dict[str, int] = {
    "reinforce_loss": 1, "baseline_advantage": 2, "clipped_surrogate": 3, "kl_k3": 4,
    "group_advantages": 5, "discounted_returns": 6, "td_residuals": 7, "gae": 7, "q_from_v": 8,
    "value_loss": 9, "n_step_advantages": 10, "aggregate_grpo": 11,
    "bradley_terry_loss": 14,
}
CHAPTERS.update({"ppo_update": 3, "grpo_step": 11})
CHAPTERS["process_advantages"] = 15

__all__ = ["NAMES", "CHAPTERS"]
