"""Every number a chapter's prose states is backed by an assert in the same chapter (issue: every number true).

tools/number_claims.py finds the numbers of the Markdown cells (math, code, references, years, exercise
blocks removed) and sorts them into asserted / setting / allowed / uncovered. A number is "asserted"
when the same value is a literal of a code cell holding an ``assert``; "setting" when it is a literal of
another code cell (a hyper-parameter the reader sees being set); "allowed" when
tests/number_allowlist.yml lists it for that chapter with the reason it is not a claim.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import number_claims as nc  # noqa: E402

sys.path.pop(0)
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_prose_number_is_asserted_or_allowed(path):
    rep = nc.chapter_report(path, nc.load_allowlist())
    assert not rep["uncovered"], (
        f"{path.stem}: numbers in the prose that no assert checks: {rep['uncovered']}. Add an assert cell whose "
        f"literal is the number (with a tolerance matching the wording), or, if it is not a claim, list it in "
        f"tests/number_allowlist.yml with the reason.")


def test_allowlist_names_real_chapters_and_reasons():
    stems = {p.stem for p in CHAPTERS}
    for chapter, entries in nc.load_allowlist().items():
        assert chapter in stems, f"number_allowlist.yml: no chapter {chapter}"
        for e in entries:
            assert set(e) == {"number", "why"} and str(e["why"]).strip(), f"{chapter}: {e} needs a number and a why"


def _nb(tmp_path, md, code):
    cells = [{"cell_type": "markdown", "source": m, "metadata": {}} for m in md]
    cells += [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [], "execution_count": None} for c in code]
    p = tmp_path / "99_x.ipynb"
    p.write_text(json.dumps({"cells": cells}))
    return p


def test_sorting_of_numbers(tmp_path):
    md = ["# 9. Title\n\nThe gap is about 17-fold and 5% cheat; $x = 3$ and `lr=7`; see chapter 4 and §4.1.3 "
          "(Shao et al. 2024). Loss 0.711 over 1,024 envs; 12 is a setting and 8 is allowed.\n"
          "```{exercise} Q\nWith 0.9 and 123 compute it.\n```\n1. first item"]
    code = ["%matplotlib inline\nassert 16 < ratio < 18\nassert abs(cheat - 0.05) < 0.01\nassert 1024 == n",
            "cfg = dict(epochs=12)"]
    p = _nb(tmp_path, md, code)
    rep = nc.chapter_report(p, {"99_x": [{"number": 8, "why": "a count of the reader's own choosing"}]})
    assert rep["asserted"] == ["17-fold", "5%", "1,024"]  # 17 lies inside the tight bounds 16 < r < 18
    assert rep["setting"] == ["12"]
    assert rep["allowed"] == ["8"]
    assert rep["uncovered"] == ["0.711"]


def test_values_of_written_numbers():
    assert nc.values("5%") >= {5.0, 0.05}
    assert nc.values("−0.01") >= {-0.01, 0.01}
    assert nc.values("20-fold") >= {20.0}
    assert nc.values("1,024") >= {1024.0}
