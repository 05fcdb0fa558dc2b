"""The drawn figures: built from the package's definitions, with clear errors for bad input."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from ppo_grpo_lab import diagrams  # noqa: E402
from ppo_grpo_lab.group import group_advantages  # noqa: E402


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_group_normalisation_labels_are_the_packages_advantages():
    r = [1.0, 0.0, 0.0, 1.0, 1.0]
    fig = diagrams.group_normalisation(r)
    adv = group_advantages(torch.tensor([r]), eps=1e-4)[0].tolist()
    assert [f"{a:+.2f}" for a in adv] == [t for t in _texts(fig) if t.startswith(("+", "-"))]
    plt.close(fig)


def test_group_normalisation_g2_gives_plus_minus_0_71():
    fig = diagrams.group_normalisation([1.0, 0.0])
    assert {"+0.71", "-0.71"} <= set(_texts(fig))  # Bessel's std of {0, 1} is 0.707, not 0.5
    plt.close(fig)


@pytest.mark.parametrize("bad", [[1.0], [[1.0, 0.0]], []])
def test_group_normalisation_rejects_non_groups(bad):
    with pytest.raises(ValueError, match="rewards: expected"):
        diagrams.group_normalisation(bad)


def test_models_in_memory_totals():
    fig = diagrams.models_in_memory()
    totals = [t for t in _texts(fig) if t.startswith("= ")]
    assert totals == ["= 10", "= 6", "= 5"]  # PPO: 4 + 4 + 1 + 1; GRPO with RM: 4 + 1 + 1; verifiable: 4 + 1
    plt.close(fig)
    with pytest.raises(ValueError, match="policy_units"):
        diagrams.models_in_memory(policy_units=0)


def test_ppo_loop_names_functions_that_exist():
    import importlib

    fig = diagrams.ppo_loop()
    plt.close(fig)
    for _, _, code in diagrams.PPO_LOOP_STEPS:
        path = code.split(" → ")[0].split(".")
        for i in range(len(path), 0, -1):  # the longest prefix that is a module, then attributes
            try:
                obj = importlib.import_module("ppo_grpo_lab." + ".".join(path[:i]))
                break
            except ModuleNotFoundError:
                continue
        for part in path[i:]:
            obj = getattr(obj, part)  # raises if the figure names a function that is gone
