"""The release workflow (.github/workflows/pages.yml) publishes the book from one setting.

It runs on a version tag, refuses a tag that is not the package's version or a repository that
is not _config.yml's, publishes the Colab edition under <tag>-colab with the install cells and the
Colab buttons on that ref, builds the full-budget site and deploys it to GitHub Pages. No address
is written in the workflow itself."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
sys.path.insert(0, str(ROOT / "tools"))
try:
    import book_settings
finally:
    sys.path.pop(0)


def _workflow():
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _runs(job) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_runs_on_release_tags_and_deploys_to_pages():
    wf = _workflow()
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    tags = on["push"]["tags"]
    assert tags == ["v[0-9]+.[0-9]+.[0-9]+"], "only release tags, never the <tag>-colab tag it pushes"
    assert wf["permissions"] == {"contents": "write", "pages": "write", "id-token": "write"}
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    uses = [s.get("uses", "") for s in build["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(s.get("with", {}).get("path") == "_build/html" for s in build["steps"])
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages")


def test_every_address_comes_from_the_one_setting():
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "github.com/ppo-grpo-lab" not in text and "github.io" not in text
    assert book_settings.repo_url().removeprefix("https://") not in text
    runs = _runs(_workflow()["jobs"]["build"])
    assert "python tools/book_settings.py url" in runs and '"https://github.com/$GITHUB_REPOSITORY"' in runs
    assert "tomllib" in runs and '"v$version"' in runs


def test_colab_edition_is_published_on_the_ref_it_installs_from():
    runs = _runs(_workflow()["jobs"]["build"])
    order = ['--set-ref "$COLAB_REF"', 'colab_edition.py book/ --ref "$COLAB_REF"', 'git tag "$COLAB_REF"',
             'git push origin "refs/tags/$COLAB_REF"', 'git checkout "$GITHUB_REF_NAME" -- book/',
             "book_settings.py --write", "bash tools/build_book.sh"]
    where = [runs.find(s) for s in order]
    assert -1 not in where and where == sorted(where), dict(zip(order, where))
    assert "COLAB_REF=$GITHUB_REF_NAME-colab" in runs
    assert "PPO_GRPO_LAB_QUICK" not in re.sub(r"#.*", "", runs), "the published site uses the full budgets"


def test_set_ref_rewrites_only_the_branch(tmp_path):
    cfg = tmp_path / "_config.yml"
    original = (ROOT / "_config.yml").read_text(encoding="utf-8")
    cfg.write_text(original, encoding="utf-8")
    book_settings.set_ref("v9.9.9-colab", cfg)
    changed = [(a, b) for a, b in zip(original.splitlines(), cfg.read_text().splitlines()) if a != b]
    assert len(changed) == 1 and changed[0][1] == "  branch: v9.9.9-colab", changed
    assert book_settings.ref(book_settings.config(cfg)) == "v9.9.9-colab"
    assert "v9.9.9-colab" in book_settings.colab_cell_source(book_settings.config(cfg))
    with pytest.raises(ValueError, match="branch or tag name"):
        book_settings.set_ref("main; rm -rf /", cfg)
