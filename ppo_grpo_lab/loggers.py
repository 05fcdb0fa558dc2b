"""Send a trainer's metrics to TensorBoard or Weights & Biases, under the names of the History and the CSV.

Every trainer logs through its :class:`~ppo_grpo_lab.history.History`; :func:`attach` swaps in a
:class:`LoggedHistory` that keeps the same records and also forwards each one, as it is logged, to
loggers: one scalar per metric, tagged with the metric's slash name (``loss/policy``, ``reward/mean``)
at the record's ``step`` (environment steps for PPO, updates for the language-model trainers)::

    trainer = PPOTrainer("CartPole-v1", PPOConfig())
    tb = attach(trainer, TensorBoardLogger("runs/cartpole/tb"))   # tensorboard --logdir runs/cartpole/tb
    trainer.train()
    tb.close()

Under ``torchrun`` only rank 0 forwards (the records are the same on every rank). Attach again after
``Trainer.load`` (a loaded trainer has a fresh History); :func:`write_history` sends a finished History
(e.g. from ``train_bandit``). TensorBoard needs the ``tensorboard`` package
(``pip install "ppo-grpo-lab[tensorboard]"``); W&B needs ``wandb``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from .history import History

__all__ = ["MetricLogger", "LoggedHistory", "TensorBoardLogger", "WandbLogger", "attach", "write_history"]


class MetricLogger(Protocol):
    """Anything with ``log(step, metrics)`` and ``close()``."""

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record ``metrics`` at ``step``."""

    def close(self) -> None:
        """Flush and release the backend."""


@dataclass
class LoggedHistory(History):
    """A :class:`~ppo_grpo_lab.history.History` that also hands each new record to ``loggers``."""

    loggers: list = field(default_factory=list)

    def log(self, step: int, metrics: Mapping[str, object] | None = None, **kw: object) -> None:
        """Log to the History, then forward the record to the attached logger."""
        super().log(step, metrics, **kw)
        rec = self.records[-1]
        values = {k: v for k, v in rec.items() if k != "step"}
        for logger in self.loggers:
            logger.log(rec["step"], values)


def attach(trainer, logger: MetricLogger, replay: bool = False) -> MetricLogger:
    """Forward every metric ``trainer`` logs from now on to ``logger`` (rank 0 only); returns ``logger``.

    ``replay=True`` first sends the records already logged (e.g. the step-0 evaluation of a new run; leave
    it False when continuing a run whose earlier records the logger's destination already holds).
    """
    if getattr(trainer, "rank", 0) != 0:
        return logger
    hist = trainer.history
    if not isinstance(hist, LoggedHistory):
        hist = LoggedHistory(records=hist.records)  # the same list: nothing is copied or lost
        trainer.history = hist
    if replay:
        write_history(hist, logger)
    hist.loggers.append(logger)
    return logger


def write_history(history: History, logger: MetricLogger) -> None:
    """Send every record of a finished History to ``logger`` (for functions that return one, such as
    ``train_bandit``, or a GRPO trainer's ``sft_history``).
    """
    for rec in history.records:
        logger.log(rec["step"], {k: v for k, v in rec.items() if k != "step"})


class TensorBoardLogger:
    """Scalars to TensorBoard event files in ``log_dir`` (``torch.utils.tensorboard.SummaryWriter``).

    Args:
        log_dir: the folder of the event files (created if needed).
        flush_secs: how often the writer flushes to disk.

    Raises:
        ImportError: when the ``tensorboard`` package is missing, saying how to install it.
    """

    def __init__(self, log_dir: str, flush_secs: int = 10):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError("TensorBoardLogger needs the 'tensorboard' package: pip install tensorboard "
                              f"(or pip install \"ppo-grpo-lab[tensorboard]\"); {exc}") from None
        self.log_dir = str(log_dir)
        self.writer = SummaryWriter(log_dir=self.log_dir, flush_secs=flush_secs)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Write each metric as a scalar with its History name as the tag."""
        for key, value in metrics.items():
            self.writer.add_scalar(key, float(value), int(step))

    def close(self) -> None:
        """Flush the event file and close the writer."""
        self.writer.flush()
        self.writer.close()


class WandbLogger:
    """Metrics to a Weights & Biases run (``wandb.init(project=..., config=...)``); one ``run.log`` per record.

    Raises:
        ImportError: when ``wandb`` is not installed.
    """

    def __init__(self, project: str, config: dict[str, Any] | None = None, **init_kwargs: Any):
        try:
            import wandb
        except ImportError as exc:
            raise ImportError(f"WandbLogger needs the 'wandb' package: pip install wandb; {exc}") from None
        self.run = wandb.init(project=project, config=config, **init_kwargs)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Send the metrics to the W&B run at ``step``."""
        self.run.log(dict(metrics), step=int(step))

    def close(self) -> None:
        """Finish the W&B run."""
        self.run.finish()
