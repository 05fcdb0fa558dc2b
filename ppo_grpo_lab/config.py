"""One base for every trainer's config: shared fields, one vocabulary, deprecated aliases.

Every config (``PPOConfig``, ``GRPOConfig``, ``SFTConfig``, ``PPOLMConfig``, ``BanditConfig``)
is a keyword-only dataclass deriving from :class:`TrainerConfig`, so the fields that every
trainer has (``seed``, ``device``, ``progress``) are declared once, and every config
validates in ``__post_init__`` through :mod:`ppo_grpo_lab._checks`.

One name per symbol, across all configs (the table on the API page):

=================  ===============================  ===================================================
symbol             field                            meaning
=================  ===============================  ===================================================
α                  ``learning_rate``                Adam step size (``critic_learning_rate`` for V_ψ)
μ (GRPO), K (PPO)  ``update_epochs``                optimisation passes over each batch
β                  ``beta``                         weight of the KL penalty to π_ref
γ                  ``gamma``                        discount
λ                  ``gae_lambda``                   GAE's trace parameter
ε, ε_high          ``clip_eps``, ``clip_eps_high``  ratio clip range (``None``: symmetric)
ε_v                ``value_clip_eps``               value clip range (``None``: off)
(none)             ``adv_scale``                    advantage scaling: ``group`` / ``batch`` / ``none``
(none)             ``num_updates``                  outer iterations (PPO: ``total_timesteps`` instead)
=================  ===============================  ===================================================

Old names (``lr``, ``mu``, ``epochs``, ``kl_beta``, ``lam``, ``scale``, ``group_scale``,
``steps``, ...) are accepted for one release with a :class:`FutureWarning`; each config lists
its own in ``ALIASES``.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

__all__ = ["TrainerConfig", "rename_deprecated"]


def rename_deprecated(cls, kwargs: dict[str, Any], report: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Move the deprecated keys of ``kwargs`` (``cls.ALIASES``) to their current names, in place.

    A deprecated name wins over the current one (``dataclasses.replace(cfg, lr=...)`` passes both).
    Each rename is reported: ``report(message)``, or a ``FutureWarning`` pointing at the caller of ``cls(...)``.
    """
    for old, new in getattr(cls, "ALIASES", {}).items():
        if old in kwargs:
            message = f"{cls.__name__}: '{old}' is deprecated, use '{new}'"
            if report is None:
                warnings.warn(message, FutureWarning, stacklevel=3)  # the line that calls cls(...)
            else:
                report(message)
            kwargs[new] = kwargs.pop(old)
    return kwargs


class _AliasMeta(type):
    """Maps deprecated keyword names to the current ones before the dataclass ``__init__`` runs."""

    def __call__(cls, *args, **kwargs):
        return super().__call__(*args, **rename_deprecated(cls, kwargs))


@dataclass(kw_only=True)
class TrainerConfig(metaclass=_AliasMeta):
    """Fields every trainer has.

    Attributes:
        seed: seeds torch, numpy and the environments; same seed → same run on a CPU.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:k]"``.
        progress: show a progress bar.
    """

    ALIASES: ClassVar[dict[str, str]] = {}

    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        from ._checks import check_bool, check_int

        check_int("seed", self.seed, 0)
        if not isinstance(self.device, str):
            raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda[:k]', got {self.device!r}")
        check_bool("progress", self.progress)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails: old names
        new = type(self).ALIASES.get(name)
        if new is None:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        warnings.warn(f"{type(self).__name__}: '{name}' is deprecated, use '{new}'", FutureWarning, stacklevel=2)
        return getattr(self, new)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON- and checkpoint-safe: tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """The inverse of :meth:`to_dict` (old names accepted with a warning)."""
        return cls(**data)
