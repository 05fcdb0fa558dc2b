"""examples/real_model_grpo.py, the code chapter 16 gives for a real model, run end to end on a tiny one.

The tiny model is the converted TinyGPT of the GRPO tests, saved with its tokenizer to a temporary folder, so
the example's own loading code (``from_pretrained``) runs; nothing is downloaded.
"""
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from ppo_grpo_lab.llm import hf as bridge

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def _example():
    spec = importlib.util.spec_from_file_location("real_model_grpo", ROOT / "examples" / "real_model_grpo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def saved_model(sft_one_digit, tmp_path_factory):
    pytest.importorskip("transformers")
    tok, task, sft = sft_one_digit
    folder = tmp_path_factory.mktemp("tiny")
    bridge.to_hf(sft).save_pretrained(folder)
    bridge.tokenizer_to_hf(tok).save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize("trainer", ["ours", "trl"])
def test_the_example_trains_a_saved_model_with_either_trainer(saved_model, trainer, tmp_path):
    if trainer == "trl":
        pytest.importorskip("trl")
    example = _example()
    _, rewards = example.main(["--model", saved_model, "--trainer", trainer, "--steps", "3", "--batch-size", "32",
                               "--group-size", "4", "--lr", "1e-4", "--digits", "1", "--device", "cpu",
                               "--output-dir", str(tmp_path)])
    assert len(rewards) == 3 and np.isfinite(rewards).all()
    assert 0.05 < np.mean(rewards) < 0.95  # the loaded SFT model answers some 1-digit sums right, not all
