"""Bad inputs everywhere a user touches the package: each raises ValueError naming the argument.

One table of cases: ``(case id, argument the message must name, call)``. A call is a
zero-argument function; subpackage cases import lazily and are skipped if that part of
the package is not installed. The command line's bad inputs (exit status 2, no
traceback) are in tests/test_cli.py.

    pytest tests/test_bad_inputs.py -q -s      # also prints the number of cases
"""
from __future__ import annotations

import importlib
import re

import pytest
import torch

import ppo_grpo_lab as P

nan, inf = float("nan"), float("inf")


def t(*shape, fill=0.0):
    return torch.full(shape, fill)


def roll(T=4, N=2):
    """A valid [T, N] rollout: rewards, values, next_values, terminated, truncated."""
    g = torch.Generator().manual_seed(0)
    return dict(rewards=torch.randn(T, N, generator=g), values=torch.randn(T, N, generator=g),
                next_values=torch.randn(T, N, generator=g), terminated=torch.zeros(T, N, dtype=torch.bool),
                truncated=torch.zeros(T, N, dtype=torch.bool))


def with_(d, **kw):
    return {**d, **kw}


def bad(x, idx=(0, 0), value=nan):
    x = x.clone()
    x[idx] = value
    return x


R = roll()
RET = dict(rewards=R["rewards"], terminated=R["terminated"])
TD = dict(rewards=R["rewards"], values=R["values"], next_values=R["next_values"], terminated=R["terminated"])
GAE = dict(TD, truncated=R["truncated"])
LP = torch.log(torch.full((3, 5), 0.2))
MASK = torch.ones(3, 5, dtype=torch.bool)


def sub(module: str, name: str):
    """An attribute of a subpackage, or skip the case if it is not installed."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        pytest.skip(f"{module}.{name} is not part of this installation")


CASES: list = [  # (case id, argument the message must name, call), or a pytest.param of those
    # ----------------------------------------------------------------- discounted_returns
    ("returns/rewards-1d", "rewards", lambda: P.discounted_returns(t(4), t(4).bool())),
    ("returns/rewards-3d", "rewards", lambda: P.discounted_returns(t(4, 2, 1), t(4, 2, 1).bool())),
    ("returns/terminated-shape", "terminated", lambda: P.discounted_returns(R["rewards"], t(3, 2).bool())),
    ("returns/rewards-nan", "rewards", lambda: P.discounted_returns(**with_(RET, rewards=bad(R["rewards"])))),
    ("returns/rewards-inf", "rewards", lambda: P.discounted_returns(**with_(RET, rewards=bad(R["rewards"], value=inf)))),
    ("returns/gamma-high", "gamma", lambda: P.discounted_returns(**RET, gamma=1.5)),
    ("returns/gamma-negative", "gamma", lambda: P.discounted_returns(**RET, gamma=-0.1)),
    ("returns/gamma-nan", "gamma", lambda: P.discounted_returns(**RET, gamma=nan)),
    ("returns/terminated-values", "terminated", lambda: P.discounted_returns(R["rewards"], t(4, 2, fill=2.0))),
    ("returns/truncated-needs-next-values", "next_values",
     lambda: P.discounted_returns(R["rewards"], R["terminated"], t(4, 2, fill=1.0).bool())),
    ("returns/next-values-shape", "next_values",
     lambda: P.discounted_returns(**RET, next_values=t(4, 3))),
    ("returns/next-values-nan", "next_values",
     lambda: P.discounted_returns(**RET, next_values=bad(R["next_values"]))),
    # ----------------------------------------------------------------- td_residuals
    ("td/values-shape", "values", lambda: P.td_residuals(**with_(TD, values=t(4, 3)))),
    ("td/values-1d", "values", lambda: P.td_residuals(**with_(TD, values=t(4)))),
    ("td/next-values-nan", "next_values", lambda: P.td_residuals(**with_(TD, next_values=bad(R["next_values"])))),
    ("td/values-inf", "values", lambda: P.td_residuals(**with_(TD, values=bad(R["values"], value=-inf)))),
    ("td/terminated-values", "terminated", lambda: P.td_residuals(**with_(TD, terminated=t(4, 2, fill=0.5)))),
    ("td/gamma", "gamma", lambda: P.td_residuals(**TD, gamma=2.0)),
    # ----------------------------------------------------------------- gae, gae_loop
    *[(f"{f.__name__}/{cid}", arg, (lambda f=f, kw=kw: f(**kw))) for f in (P.gae, P.gae_loop) for cid, arg, kw in [
        ("lam-high", "lam", with_(GAE, lam=1.5)),
        ("lam-negative", "lam", with_(GAE, lam=-0.01)),
        ("lam-nan", "lam", with_(GAE, lam=nan)),
        ("gamma-high", "gamma", with_(GAE, gamma=1.01)),
        ("rewards-3d", "rewards", with_(GAE, rewards=t(4, 2, 1))),
        ("values-shape", "values", with_(GAE, values=t(5, 2))),
        ("truncated-values", "truncated", with_(GAE, truncated=t(4, 2, fill=3.0))),
        ("truncated-shape", "truncated", with_(GAE, truncated=t(4, 1).bool())),
        ("values-nan", "values", with_(GAE, values=bad(R["values"], (3, 1)))),
        ("rewards-inf", "rewards", with_(GAE, rewards=bad(R["rewards"], value=inf))),
    ]],
    # ----------------------------------------------------------------- group advantages
    ("group/rewards-1d", "rewards", lambda: P.group_advantages(t(8))),
    ("group/rewards-3d", "rewards", lambda: P.group_advantages(t(2, 4, 1))),
    ("group/group-size-1", "rewards", lambda: P.group_advantages(t(5, 1))),
    ("group/rewards-nan", "rewards", lambda: P.group_advantages(bad(torch.randn(2, 4)))),
    ("group/rewards-inf", "rewards", lambda: P.group_advantages(bad(torch.randn(2, 4), value=inf))),
    ("group/unknown-scale", "scale", lambda: P.group_advantages(torch.randn(2, 4), scale="std")),
    ("group/eps-negative", "eps", lambda: P.group_advantages(torch.randn(2, 4), eps=-1e-4)),
    ("group/zero-std-group-size-1", "rewards", lambda: P.zero_std_groups(t(3, 1))),
    # ----------------------------------------------------------------- clipped surrogate
    ("surrogate/old-shape", "old_log_probs", lambda: P.clipped_surrogate(LP, LP[:, :4], t(3, 1))),
    ("surrogate/advantages-shape", "advantages", lambda: P.clipped_surrogate(LP, LP, t(4, 1))),
    ("surrogate/log-probs-nan", "log_probs", lambda: P.clipped_surrogate(bad(LP), LP, t(3, 1))),
    ("surrogate/old-inf", "old_log_probs", lambda: P.clipped_surrogate(LP, bad(LP, value=-inf), t(3, 1))),
    ("surrogate/advantages-nan", "advantages", lambda: P.clipped_surrogate(LP, LP, bad(t(3, 1)))),
    ("surrogate/clip-eps-zero", "clip_eps", lambda: P.clipped_surrogate(LP, LP, t(3, 1), clip_eps=0.0)),
    ("surrogate/clip-eps-nan", "clip_eps", lambda: P.clipped_surrogate(LP, LP, t(3, 1), clip_eps=nan)),
    ("surrogate/clip-eps-negative", "clip_eps", lambda: P.clipped_surrogate(LP, LP, t(3, 1), clip_eps=-0.2)),
    ("surrogate/clip-eps-high", "clip_eps_high",
     lambda: P.clipped_surrogate(LP, LP, t(3, 1), clip_eps_high=-0.1)),
    ("surrogate/mask-values", "mask", lambda: P.clipped_surrogate(LP, LP, t(3, 1), mask=t(3, 5, fill=2.0))),
    ("surrogate/mask-shape", "mask", lambda: P.clipped_surrogate(LP, LP, t(3, 1), mask=MASK[:, :4])),
    ("surrogate/mask-dtype", "mask", lambda: P.clipped_surrogate(LP, LP, t(3, 1), mask=torch.ones(3, 5, dtype=torch.complex64))),
    ("objective/clip-eps", "clip_eps", lambda: P.clipped_objective(LP, LP, t(3, 1), clip_eps=inf)),
    ("clip_statistics/clip-eps", "clip_eps", lambda: P.clip_statistics(LP, LP, t(3, 1), clip_eps=-0.1)),
    ("clip_statistics/mask-shape", "mask", lambda: P.clip_statistics(LP, LP, t(3, 1), mask=MASK[:2])),
    # ----------------------------------------------------------------- per-token policy-gradient and SFT losses
    ("naive_pg/advantages-shape", "advantages", lambda: P.naive_policy_gradient_loss(LP, t(2, 1))),
    ("naive_pg/log-probs-nan", "log_probs", lambda: P.naive_policy_gradient_loss(bad(LP), t(3, 1))),
    ("clipped_pg/old-shape", "old_log_probs", lambda: P.clipped_policy_gradient_loss(LP, LP[:2], t(3, 1))),
    ("clipped_pg/clip-eps", "clip_eps", lambda: P.clipped_policy_gradient_loss(LP, LP, t(3, 1), clip_eps=0.0)),
    ("pg_loss/unknown-type", "loss_type", lambda: P.policy_gradient_loss(LP, "reinforce", rewards=t(3, 1))),
    ("pg_loss/no-baseline-needs-rewards", "rewards", lambda: P.policy_gradient_loss(LP, "no_baseline")),
    ("pg_loss/clip-needs-old", "old_log_probs",
     lambda: P.policy_gradient_loss(LP, "grpo_clip", advantages=t(3, 1))),
    ("sft_loss/log-probs-1d", "log_probs", lambda: P.sft_loss(t(5), MASK[0])),
    ("sft_loss/mask-shape", "mask", lambda: P.sft_loss(LP, MASK[:, :4])),
    ("sft_loss/constant", "normalize_constant", lambda: P.sft_loss(LP, MASK, normalize_constant=0.0)),
    ("sft_loss/nan", "log_probs", lambda: P.sft_loss(bad(LP), MASK)),
    ("masked_whiten/mask-shape", "mask", lambda: P.masked_whiten(t(3, 5), MASK[:2])),
    ("masked_whiten/nan", "x", lambda: P.masked_whiten(bad(t(3, 5)))),
    ("masked_whiten/eps", "eps", lambda: P.masked_whiten(t(3, 5), eps=-1.0)),
    ("objective/advantages-shape", "advantages", lambda: P.clipped_objective(LP, LP, t(2, 5))),
    # ----------------------------------------------------------------- value loss
    ("value/targets-shape", "targets", lambda: P.value_loss(t(3, 5), t(3, 4))),
    ("value/values-nan", "values", lambda: P.value_loss(bad(t(3, 5)), t(3, 5))),
    ("value/targets-inf", "targets", lambda: P.value_loss(t(3, 5), bad(t(3, 5), value=inf))),
    ("value/clip-needs-old", "old_values", lambda: P.value_loss(t(3, 5), t(3, 5), clip_eps=0.2)),
    ("value/old-shape", "old_values", lambda: P.value_loss(t(3, 5), t(3, 5), old_values=t(5, 3), clip_eps=0.2)),
    ("value/clip-eps-zero", "clip_eps", lambda: P.value_loss(t(3, 5), t(3, 5), old_values=t(3, 5), clip_eps=0.0)),
    ("value/mask-values", "mask", lambda: P.value_loss(t(3, 5), t(3, 5), mask=t(3, 5, fill=-1.0))),
    ("value/mask-shape", "mask", lambda: P.value_loss(t(3, 5), t(3, 5), mask=MASK[:2])),
    # ----------------------------------------------------------------- KL estimators
    *[(f"{f.__name__}/{cid}", arg, (lambda f=f, a=a, b=b: f(a, b))) for f in (P.kl_k1, P.kl_k2, P.kl_k3) for cid, arg, a, b in [
        ("ref-shape", "ref_log_probs", LP, LP[:2]),
        ("log-probs-nan", "log_probs", bad(LP), LP),
        ("ref-inf", "ref_log_probs", LP, bad(LP, value=inf)),
    ]],
    # ----------------------------------------------------------------- entropy
    ("entropy/int-logits", "logits", lambda: P.entropy(torch.ones(2, 3, dtype=torch.long))),
    ("entropy/scalar", "logits", lambda: P.entropy(torch.tensor(1.0))),
    ("entropy/no-actions", "logits", lambda: P.entropy(torch.ones(2, 0))),
    ("entropy/nan", "logits", lambda: P.entropy(bad(t(2, 3)))),
    ("entropy/plus-inf", "logits", lambda: P.entropy(bad(t(2, 3), value=inf))),
    ("entropy/all-minus-inf-row", "logits", lambda: P.entropy(t(2, 3, fill=-inf))),
    # ----------------------------------------------------------------- aggregation
    ("masked_mean/mask-shape", "mask", lambda: P.masked_mean(t(3, 5), MASK[:, :2])),
    ("masked_mean/mask-values", "mask", lambda: P.masked_mean(t(3, 5), t(3, 5, fill=3.0))),
    *[(f"{f.__name__}/{cid}", arg, (lambda f=f, x=x, m=m: f(x, m)))
      for f in (P.aggregate_grpo, P.aggregate_bnpo, P.aggregate_dr_grpo, P.aggregate_dapo) for cid, arg, x, m in [
        ("per-token-1d", "per_token", t(5), MASK[0]),
        ("per-token-3d", "per_token", t(3, 5, 1), MASK.unsqueeze(-1)),
        ("mask-shape", "mask", t(3, 5), MASK[:, :4]),
        ("mask-values", "mask", t(3, 5), t(3, 5, fill=0.5)),
        ("per-token-nan", "per_token", bad(t(3, 5)), MASK),
    ]],
    ("aggregate_dr_grpo/max-len", "max_len", lambda: P.aggregate_dr_grpo(t(3, 5), MASK, max_len=0)),
    ("aggregate_dr_grpo/max-completion-length", "max_completion_length",
     lambda: P.aggregate_dr_grpo(t(3, 5), MASK, max_completion_length=0)),
    ("aggregate/max-completion-length", "max_completion_length",
     lambda: P.aggregate("dr_grpo", t(3, 5), MASK, max_completion_length=2.5)),
    ("aggregate/unknown-rule", "rule", lambda: P.aggregate("mean", t(3, 5), MASK)),
    ("masked_normalize/constant", "constant", lambda: P.masked_normalize(t(3, 5), MASK, 0.0)),
    ("masked_normalize/mask-shape", "mask", lambda: P.masked_normalize(t(3, 5), MASK[:2], 4.0)),
    # ----------------------------------------------------------------- device, history
    ("device/unknown", "device", lambda: P.resolve_device("tpu9")),
    ("device/cuda-without-cuda", "device",
     lambda: P.resolve_device("cuda") if not torch.cuda.is_available() else pytest.skip("CUDA is available")),
    ("history/non-number", "loss/policy", lambda: P.History().log(1, **{"loss/policy": "high"})),
    ("history/plot-no-keys", "keys", lambda: P.History().plot([])),
    # ----------------------------------------------------------------- n-step, exact MDP
    ("nstep/n-zero", "n", lambda: sub("ppo_grpo_lab.nstep", "n_step_advantages")(**GAE, gamma=0.9, n=0)),
    ("nstep/lam-like-gamma", "gamma", lambda: sub("ppo_grpo_lab.nstep", "n_step_advantages")(**GAE, gamma=1.5, n=2)),
    ("nstep/values-shape", "values",
     lambda: sub("ppo_grpo_lab.nstep", "n_step_advantages")(**with_(GAE, values=t(4, 3)), gamma=0.9, n=2)),
    ("mdp/q-from-v-shapes", "R", lambda: sub("ppo_grpo_lab.mdp", "q_from_v")(t(2, 2, 2), t(3, 2), t(2), 0.9)),
    ("mdp/P-shape", "P", lambda: sub("ppo_grpo_lab.mdp", "TabularMDP")(P=t(2, 2, 3), R=t(2, 2), mu0=torch.tensor([1.0, 0.0]))),
    ("mdp/mu0-not-probabilities", "mu0",
     lambda: sub("ppo_grpo_lab.mdp", "TabularMDP")(P=t(2, 2, 2), R=t(2, 2), mu0=torch.tensor([0.5, 0.6]))),
    # ----------------------------------------------------------------- PPO config and trainer
    *[(f"PPOConfig/{field}={value!r}", field, (lambda field=field, value=value:
        sub("ppo_grpo_lab.ppo", "PPOConfig")(**{field: value}))) for field, value in [
        ("gamma", 1.5), ("gamma", -0.1), ("gae_lambda", 2.0), ("learning_rate", 0.0), ("learning_rate", 5.0),
        ("clip_eps", 0.0), ("clip_eps", -1.0), ("num_envs", 0), ("num_envs", 2.5), ("num_steps", -1),
        ("update_epochs", 0), ("num_minibatches", 3), ("total_timesteps", 10), ("vf_coef", -1.0),
        ("ent_coef", inf), ("value_clip_eps", 0.0), ("adam_eps", 0.0), ("max_grad_norm", 0.0), ("target_kl", -0.01),
        ("hidden_sizes", ()), ("hidden_sizes", (64, 0)), ("activation", "gelu"), ("seed", -1),
        ("norm_adv", "yes"), ("anneal_lr", 1),
    ]],
    ("PPOTrainer/no-env", "env", lambda: sub("ppo_grpo_lab.ppo", "PPOTrainer")(None)),
    ("PPOTrainer/config-type", "config", lambda: sub("ppo_grpo_lab.ppo", "PPOTrainer")("CartPole-v1", {"gamma": 0.9})),
    ("ppo/action-space", "action space", lambda: sub("ppo_grpo_lab.ppo", "check_spaces")(
        __import__("gymnasium").spaces.Box(-1, 1, (3,)), __import__("gymnasium").spaces.MultiDiscrete([2, 2]))),
    ("ppo/observation-space", "observation space", lambda: sub("ppo_grpo_lab.ppo", "check_spaces")(
        __import__("gymnasium").spaces.Discrete(4), __import__("gymnasium").spaces.Discrete(2))),
    ("ppo/device-cuda", "device",
     lambda: sub("ppo_grpo_lab.ppo", "PPOTrainer")("CartPole-v1", sub("ppo_grpo_lab.ppo", "PPOConfig")(device="cuda"))
     if not torch.cuda.is_available() else pytest.skip("CUDA is available")),
    # ----------------------------------------------------------------- GRPO / LLM configs
    *[(f"GRPOConfig/{field}={value!r}", field, (lambda field=field, value=value:
        sub("ppo_grpo_lab.llm", "GRPOConfig")(**{field: value}))) for field, value in [
        ("group_size", 1), ("batch_size", 0), ("num_updates", 0), ("update_epochs", 0), ("clip_eps", 0.0),
        ("clip_eps", -1.2), ("clip_eps_high", -0.1), ("beta", -0.01), ("aggregation", "mean"), ("adv_scale", "std"),
        ("temperature", 0.0), ("eval_every", -1), ("learning_rate", 0.0), ("seed", -1),
    ]],
    ("GRPOConfig/batch-not-multiple", "batch_size", lambda: sub("ppo_grpo_lab.llm", "GRPOConfig")(batch_size=10, group_size=4)),
    ("SFTConfig/error-rate", "error_rate", lambda: sub("ppo_grpo_lab.llm", "SFTConfig")(error_rate=1.5)),
    ("SFTConfig/learning-rate", "learning_rate", lambda: sub("ppo_grpo_lab.llm", "SFTConfig")(learning_rate=0.0)),
    ("SFTConfig/num-updates", "num_updates", lambda: sub("ppo_grpo_lab.llm", "SFTConfig")(num_updates=0)),
    ("GPTConfig/n-embd", "n_embd", lambda: sub("ppo_grpo_lab.llm", "GPTConfig")(n_embd=30, n_head=4)),
    ("GPTConfig/n-layer", "n_layer", lambda: sub("ppo_grpo_lab.llm", "GPTConfig")(n_layer=0)),
    ("AdditionTask/digits", "digits", lambda: sub("ppo_grpo_lab.llm", "AdditionTask")(digits=7)),
    ("CountdownTask/n-numbers", "n_numbers", lambda: sub("ppo_grpo_lab.llm", "CountdownTask")(n_numbers=9)),
    ("tokenizer/unknown-char", "text", lambda: sub("ppo_grpo_lab.llm", "CharTokenizer")().encode("héllo")),
    ("llm/grpo-loss-aggregation", "aggregation", lambda: sub("ppo_grpo_lab.llm", "grpo_loss")(
        LP, LP, LP, t(3), MASK, aggregation="mean")),
    ("llm/grpo-loss-advantages", "advantages", lambda: sub("ppo_grpo_lab.llm", "grpo_loss")(LP, LP, LP, t(3, 1), MASK)),
    ("llm/grpo-loss-ref-nan", "ref_log_probs", lambda: sub("ppo_grpo_lab.llm", "grpo_loss")(LP, LP, bad(LP), t(3), MASK)),
    ("llm/grpo-loss-beta", "beta", lambda: sub("ppo_grpo_lab.llm", "grpo_loss")(LP, LP, LP, t(3), MASK, beta=-0.1)),
    ("llm/grpo-loss-max-completion-length", "max_completion_length", lambda: sub("ppo_grpo_lab.llm", "grpo_loss")(
        LP, LP, LP, t(3), MASK, aggregation="dr_grpo", max_completion_length=0)),
    *[(f"PPOLMConfig/{field}={value!r}", field, (lambda field=field, value=value:
        sub("ppo_grpo_lab.llm", "PPOLMConfig")(**{field: value}))) for field, value in [
        ("num_updates", 0), ("update_epochs", 0), ("clip_eps", 0.0), ("value_clip_eps", 0.0), ("beta", -1.0),
        ("gamma", 1.5), ("gae_lambda", -0.5), ("vf_coef", 0.0), ("temperature", 0.0), ("learning_rate", -1e-3),
        ("critic_learning_rate", 0.0), ("norm_adv", 1),
    ]],
    ("token_rewards/empty-answer", "mask", lambda: sub("ppo_grpo_lab.llm", "token_rewards")(
        torch.ones(2), t(2, 3), t(2, 3), torch.zeros(2, 3, dtype=torch.bool), 0.1)),
    # ----------------------------------------------------------------- environments
    ("WeeklyExams/n-weeks", "n_weeks", lambda: sub("ppo_grpo_lab.envs.weekly_exams", "WeeklyExams")(n_weeks=0)),
    ("WeeklyExams/reward-noise", "reward_noise",
     lambda: sub("ppo_grpo_lab.envs.weekly_exams", "WeeklyExams")(reward_noise=-0.1)),
    ("WeeklyExams/render-mode", "render_mode",
     lambda: sub("ppo_grpo_lab.envs.weekly_exams", "WeeklyExams")(render_mode="human")),
    ("TorchCartPole/num-envs", "num_envs",
     lambda: sub("ppo_grpo_lab.envs.torch_cartpole", "TorchCartPoleVectorEnv")(num_envs=0, device="cpu")),
    ("TorchCartPole/max-episode-steps", "max_episode_steps",
     lambda: sub("ppo_grpo_lab.envs.torch_cartpole", "TorchCartPoleVectorEnv")(2, device="cpu", max_episode_steps=0)),
    ("TorchCartPole/device-cuda", "device",
     lambda: sub("ppo_grpo_lab.envs.torch_cartpole", "TorchCartPoleVectorEnv")(2, device="cuda")
     if not torch.cuda.is_available() else pytest.skip("CUDA is available")),
    ("TorchWeeklyExams/num-envs", "num_envs",
     lambda: sub("ppo_grpo_lab.envs.torch_weekly_exams", "TorchWeeklyExamsVectorEnv")(num_envs=-1)),
    # ----------------------------------------------------------------- grader
    ("grade/unknown-exercise", "name", lambda: sub("ppo_grpo_lab.grade", "grade")("no_such_exercise", lambda *a: 0)),
    ("grade/not-a-function", "fn", lambda: sub("ppo_grpo_lab.grade", "grade")("gae", 42)),
    # ----------------------------------------------------------------- bandit
    ("BanditConfig/clip-eps", "clip_eps", lambda: sub("ppo_grpo_lab.bandit.trainer", "BanditConfig")(clip_eps=0.0)),
    ("BanditConfig/beta", "beta", lambda: sub("ppo_grpo_lab.bandit.trainer", "BanditConfig")(beta=-1.0)),
    ("BanditConfig/learning-rate", "learning_rate",
     lambda: sub("ppo_grpo_lab.bandit.trainer", "BanditConfig")(learning_rate=0.0)),
    ("BanditConfig/update-epochs", "update_epochs",
     lambda: sub("ppo_grpo_lab.bandit.trainer", "BanditConfig")(update_epochs=0)),
    ("BanditConfig/seed", "seed", lambda: sub("ppo_grpo_lab.bandit.trainer", "BanditConfig")(seed=-1)),
    ("baseline_advantages/unknown", "baseline",
     lambda: sub("ppo_grpo_lab.bandit.baselines", "baseline_advantages")("mean", t(4))),
    ("baseline_advantages/critic-needs-values", "values",
     lambda: sub("ppo_grpo_lab.bandit.baselines", "baseline_advantages")("critic", t(4))),
]



def _values(case):
    return case.values if hasattr(case, "values") else case


IDS = [_values(c)[0] for c in CASES]
PARAMS = [pytest.param(*_values(c)[1:], marks=getattr(c, "marks", ()), id=_values(c)[0]) for c in CASES]


def test_case_ids_are_unique():
    assert len(IDS) == len(set(IDS))


def test_count_cases(capsys):
    n = len(CASES)
    with capsys.disabled():
        print(f"\n[bad-inputs] {n} bad-input cases across the package")
    assert n >= 150


@pytest.mark.parametrize("arg, call", PARAMS)
def test_bad_input_raises_value_error_naming_the_argument(arg, call):
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert re.search(rf"(?<![\w/]){re.escape(arg)}(?![\w])", msg), f"message does not name {arg!r}: {msg}"
    assert any(w in msg for w in ("expected", "must", "use ")), f"message says neither what was expected nor a fix: {msg}"
