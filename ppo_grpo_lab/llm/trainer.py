"""The loop every language-model trainer shares (SFT, GRPO, PPO with a critic), written once.

A trainer holds its models, optimisers, random streams, a :class:`~ppo_grpo_lab.history.History`
and a step counter; :meth:`LMTrainer.train` runs updates until ``config.num_updates`` (or only
``num_updates`` more) and can be called again to continue. One update is the subclass's
``_update()``, which returns the record to log; the loop adds ``time/seconds``, the held-out
greedy ``eval/accuracy`` every ``eval_every`` updates (and at update 0 and the last one) and, for
the RL trainers, ``memory/*`` and ``model/params`` at the last update.

Checkpoint format (:mod:`ppo_grpo_lab.checkpoint`, plain data, opened with ``weights_only=True``),
``kind`` = ``"sft"``, ``"grpo"`` or ``"ppo_lm"``:

==================  ==========================================================================
key                 content
==================  ==========================================================================
``config``          ``config.to_dict()``
``model_config``    the :class:`~ppo_grpo_lab.llm.model.GPTConfig` fields
``task``            the task's ``name`` (checked on load)
``models``          ``{name: state_dict}``: ``policy`` (+ ``reference``, ``critic``)
``optimizers``      ``{name: state_dict}`` (Adam's moments: a resumed run continues exactly)
``history``         ``History.records`` (a list of dicts of numbers)
``rng``             :func:`~ppo_grpo_lab.checkpoint.rng_state`: numpy prompt stream, sampling generator
``step``            updates done; ``seconds``: training time so far; ``extra``: trainer-specific numbers
==================  ==========================================================================
"""
from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any, ClassVar

import numpy as np
import torch

from .. import distributed as ddp
from ..checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ..device import resolve_device
from ..history import History
from ..progress import tqdm
from .evaluation import accuracy
from .hf_lm import as_model, as_tokenizer
from .memory import SavedTensorMeter, state_bytes
from .model import GPTConfig, TinyGPT

__all__ = ["LMTrainer"]


class LMTrainer:
    """Base of :class:`~ppo_grpo_lab.llm.sft.SFTTrainer`, :class:`~ppo_grpo_lab.llm.grpo.GRPOTrainer`
    and :class:`~ppo_grpo_lab.llm.ppo.PPOLMTrainer`.

    Args:
        task: an ``AdditionTask``, ``CountdownTask`` (anything with ``sample``, ``reward``, ``max_answer_len``).
        tok: the :class:`~ppo_grpo_lab.llm.tokenizer.CharTokenizer`, or a ``transformers`` tokenizer (wrapped in
            :class:`~ppo_grpo_lab.llm.hf_lm.HFTokenizer`; see :mod:`~ppo_grpo_lab.llm.hf_lm`).
        config: the trainer's config (``num_updates``, ``eval_every``, ``seed``, ``device``, ``progress``).
        eval_problems: held-out problems for ``eval/accuracy`` (None: no evaluation).
    """

    kind: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    report_memory: ClassVar[bool] = True  # memory/* and model/params at the last update
    eval_at_start: ClassVar[bool] = True  # eval/accuracy of the starting policy at update 0

    def __init__(self, task, tok, config, eval_problems=None):
        if not isinstance(config, self.config_class):
            raise ValueError(f"config: expected a {self.config_class.__name__}, got {type(config).__name__}")
        self.task, self.tok, self.config, self.eval_problems = task, as_tokenizer(tok), config, eval_problems
        self.rank, self.world_size, self.device = ddp.setup(resolve_device(config.device))
        self.rng = np.random.default_rng(config.seed)  # the prompt stream
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)  # sampling
        self.history = History()
        self.step = 0  # updates done
        self.seconds = 0.0  # training time so far (wall clock, summed over train() calls)
        self.meter: SavedTensorMeter | None = None

    # ------------------------------------------------------------- subclass hooks
    def models(self) -> dict[str, TinyGPT]:
        """``{name: model}`` saved in checkpoints, the policy first."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimisers a checkpoint stores, by name (subclasses define them)."""
        raise NotImplementedError

    def _update(self) -> dict[str, Any]:
        """One update (sample, score, optimise); returns the metrics to log."""
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _set_extra_state(self, extra: dict[str, Any]) -> None:
        pass

    @property
    def policy(self) -> TinyGPT:
        """The model being trained (the first of :meth:`models`)."""
        return next(iter(self.models().values()))

    # ------------------------------------------------------------- the loop
    def train(self, num_updates: int | None = None) -> History:
        """Run updates until ``config.num_updates`` (or only ``num_updates`` more); returns the History.

        Calling ``train`` again continues where it stopped (same random streams, same Adam state).
        """
        cfg = self.config
        last = cfg.num_updates if num_updates is None else min(cfg.num_updates, self.step + num_updates)
        if self.step == 0 and self.eval_at_start and self.eval_problems is not None and not any(
                r["step"] == 0 and "eval/accuracy" in r for r in self.history.records):
            self.history.log(0, {"eval/accuracy": self.evaluate(), "time/seconds": 0.0})
        bar = tqdm(total=cfg.num_updates, initial=self.step, desc=self.kind.upper(), unit="update",
                   disable=not cfg.progress or self.rank != 0)
        try:
            while self.step < last:
                t0 = time.perf_counter()
                rec = self._update()
                self.step += 1
                self.seconds += time.perf_counter() - t0
                rec["time/seconds"] = self.seconds
                self._finish_record(rec)
                self.history.log(self.step, rec)
                bar.update(1)
        finally:
            bar.close()
        return self.history

    def _finish_record(self, rec: dict[str, Any]) -> None:
        cfg, done = self.config, self.step == self.config.num_updates
        if self.eval_problems is not None and ((cfg.eval_every and self.step % cfg.eval_every == 0) or done):
            rec["eval/accuracy"] = self.evaluate()
        if done and self.report_memory:
            models = list(self.models().values())
            rec["memory/state_mb"] = state_bytes(models, list(self.optimizers().values())) / 2**20
            rec["memory/activations_mb"] = (self.meter.peak if self.meter is not None else 0) / 2**20
            rec["model/params"] = sum(m.num_params() for m in models)

    def evaluate(self, problems=None, temperature: float = 0.0) -> float:
        """Held-out greedy accuracy of the policy on ``problems`` (default: ``eval_problems``)."""
        return accuracy(self.policy, self.task, self.tok, self.eval_problems if problems is None else problems,
                        temperature)

    # ------------------------------------------------------------- checkpoints
    def save(self, path: str) -> None:
        """Write the checkpoint described in the module docstring (rank 0 only under ``torchrun``)."""
        if self.rank != 0:
            return
        if not isinstance(self.policy, TinyGPT):
            raise ValueError(f"save: expected a TinyGPT policy, got {type(self.policy).__name__}; save a transformers "
                             "model with trainer.policy.model.save_pretrained(path)")
        save_checkpoint(path, self.kind, {
            "config": self.config.to_dict(), "model_config": dataclasses.asdict(self.policy.cfg),
            "task": getattr(self.task, "name", type(self.task).__name__),
            "models": {k: m.state_dict() for k, m in self.models().items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
            "history": [dict(r) for r in self.history.records],
            "rng": rng_state(self.rng, self.generator), "step": self.step, "seconds": self.seconds,
            "extra": self._extra_state()})

    @classmethod
    def load(cls, path: str, task, tok, eval_problems=None, **overrides) -> "LMTrainer":
        """Rebuild a trainer from :meth:`save`; ``overrides`` replace config fields (e.g. a larger
        ``num_updates`` to continue further, ``progress=False``). Raises
        :class:`~ppo_grpo_lab.checkpoint.CheckpointError` for a file of another kind or a tampered one.
        """
        ckpt = load_checkpoint(path, cls.kind)
        name = getattr(task, "name", type(task).__name__)
        if ckpt["task"] != name:
            raise ValueError(f"task: the checkpoint {path} was trained on {ckpt['task']!r}, got {name!r}")
        config = cls.config_class.from_dict({**ckpt["config"], **overrides})
        model_cfg = GPTConfig(**ckpt["model_config"])
        trainer = cls._from_checkpoint(task, tok, config, model_cfg, eval_problems)
        for key, model in trainer.models().items():
            model.load_state_dict(ckpt["models"][key])
        for key, opt in trainer.optimizers().items():
            opt.load_state_dict(ckpt["optimizers"][key])
        trainer.history = History(records=[dict(r) for r in ckpt["history"]])
        set_rng_state(ckpt["rng"], trainer.rng, trainer.generator)
        trainer.step, trainer.seconds = int(ckpt["step"]), float(ckpt["seconds"])
        trainer._set_extra_state(ckpt["extra"])
        return trainer

    @classmethod
    def _from_checkpoint(cls, task, tok, config, model_cfg: GPTConfig, eval_problems):
        """A trainer with freshly built models of the saved size (weights are loaded afterwards)."""
        raise NotImplementedError


def policy_and_reference(policy: TinyGPT | None, reference: TinyGPT | None, model_config: GPTConfig | None,
                         vocab_size: int, seed: int, device: torch.device) -> tuple[TinyGPT, TinyGPT]:
    """The trained policy (a fresh :class:`TinyGPT` seeded with ``seed`` when ``policy`` is None) in train
    mode, and the frozen reference (a copy of the policy when ``reference`` is None) in eval mode, on ``device``.
    A ``transformers`` model is wrapped in :class:`~ppo_grpo_lab.llm.hf_lm.CausalLMAdapter`.
    """
    policy, reference = as_model(policy), as_model(reference)
    if policy is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            policy = TinyGPT(model_config if model_config is not None else GPTConfig(vocab_size=vocab_size))
    reference = reference if reference is not None else copy.deepcopy(policy)
    return policy.to(device).train(), reference.to(device).eval()
