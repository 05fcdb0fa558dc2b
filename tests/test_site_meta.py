"""The website's metadata is consistent: Colab cells, clean notebooks, toc, API page, links.

_config.yml's ``repository`` (url + branch) is the one setting for the Colab install cell, the
Colab links and the Pages site; tools/book_settings.py derives them from it.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import ppo_grpo_lab

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))

GUARD = 'if "google.colab" in sys.modules:'
sys.path.insert(0, str(ROOT / "tools"))
try:
    import book_settings
finally:
    sys.path.pop(0)


def expected_install_spec() -> str:
    return f'{CONFIG["colab_install"]["package"]} @ git+{CONFIG["repository"]["url"]}@{CONFIG["repository"]["branch"]}'


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _toc_files(node) -> list[str]:
    out = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                out.append(node[key])
        for value in node.values():
            if isinstance(value, (list, dict)):
                out += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            out += _toc_files(item)
    return out


def check_colab_cell(source: str, tags: list[str]) -> list[str]:
    """Problems with a notebook's first cell (empty list: fine)."""
    problems = []
    if "colab-install" not in tags:
        problems.append(f"first cell not tagged 'colab-install' (tags {tags})")
    lines = source.splitlines()
    if "import sys" not in lines:
        problems.append("first cell does not 'import sys'")
    if GUARD not in lines:
        problems.append(f"first cell lacks the guard {GUARD!r}")
        return problems
    body = lines[lines.index(GUARD) + 1:]
    pips = [l for l in lines if "pip install" in l]
    if not pips:
        problems.append("first cell has no 'pip install'")
    for l in pips:
        if l not in body or not l.startswith((" ", "\t")):
            problems.append(f"'pip install' runs outside the Colab guard: {l.strip()!r}")
        specs = re.findall(r'"([^"]+)"', l)
        if specs != [expected_install_spec()]:
            problems.append(f"install spec {specs} differs from _config.yml's {expected_install_spec()!r}")
    return problems


# ---------------------------------------------------------------- config itself

def test_config_has_colab_source_of_truth():
    assert set(CONFIG["colab_install"]) == {"package"}, "the ref is repository.branch, set nowhere else"
    assert CONFIG["repository"]["url"].startswith("https://github.com/")
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert book_settings.install_spec(CONFIG) == expected_install_spec()
    owner, name = CONFIG["repository"]["url"].split("/")[-2:]
    assert book_settings.pages_url(CONFIG) == f"https://{owner.lower()}.github.io/{name}/"


def test_addresses_derive_from_the_repository_setting():
    cfg = {"repository": {"url": "https://github.com/Alice/rl-book", "branch": "v1.2.0", "path_to_book": ""},
           "colab_install": {"package": "rl-book"}, "launch_buttons": {"colab_url": "https://colab.research.google.com"}}
    assert book_settings.pages_url(cfg) == "https://alice.github.io/rl-book/"
    assert book_settings.install_spec(cfg) == "rl-book @ git+https://github.com/Alice/rl-book@v1.2.0"
    assert book_settings.colab_link("book/01_x", cfg) == (
        "https://colab.research.google.com/github/Alice/rl-book/blob/v1.2.0/book/01_x.ipynb")
    assert '"rl-book @ git+https://github.com/Alice/rl-book@v1.2.0"' in book_settings.colab_cell_source(cfg)
    cfg["repository"]["url"] = "https://github.com/Alice/alice.github.io"
    assert book_settings.pages_url(cfg) == "https://alice.github.io/"
    cfg["repository"]["url"] = "https://gitlab.com/Alice/rl-book"
    with pytest.raises(ValueError, match="github.com"):
        book_settings.repo_url(cfg)
    ref = CONFIG["repository"]["branch"]
    if re.fullmatch(r"v\d+\.\d+\.\d+", ref):
        assert ref == f"v{ppo_grpo_lab.__version__}", "a release ref must be the tag of this package version"


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def test_the_install_ref_exists_in_the_repository():
    """The ref every notebook installs from (and Colab opens) is a real branch or tag of this repository."""
    if shutil.which("git") is None or _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout (e.g. an sdist): there is no repository to look the ref up in")
    ref = CONFIG["repository"]["branch"]
    candidates = [f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/remotes/origin/{ref}"]
    found = [c for c in candidates if _git("rev-parse", "--verify", "--quiet", f"{c}^{{commit}}").returncode == 0]
    assert found, (f"_config.yml's repository.branch {ref!r} is neither a branch, a tag nor origin/{ref} here: "
                   f"every Colab install cell would fail. Create it (release: git tag) or fix the setting.")


def test_every_notebook_has_the_generated_colab_cell():
    stale = [p.name for p in NOTEBOOKS if book_settings.stale(json.loads(p.read_text(encoding="utf-8")), CONFIG)]
    assert not stale, f"run `python tools/book_settings.py --write`: stale Colab cell in {stale}"


def _run_colab_cell(monkeypatch, importable: bool) -> list[str]:
    """Run the install cell as IPython would in Colab, with %pip stubbed; returns the magics it ran."""
    from IPython.core.inputtransformer2 import TransformerManager

    ran = []

    class FakeShell:
        def run_line_magic(self, name, line):
            ran.append(f"%{name} {line}")

    code = TransformerManager().transform_cell(book_settings.colab_cell_source(CONFIG))
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    if not importable:
        monkeypatch.setitem(sys.modules, "ppo_grpo_lab", None)  # import raises ImportError
    exec(compile(code, "<colab-cell>", "exec"), {"get_ipython": lambda: FakeShell()})
    return ran


def test_colab_cell_installs_from_the_ref_and_fails_loudly(monkeypatch):
    ran = _run_colab_cell(monkeypatch, importable=True)
    assert ran == [f'%pip install -q "{expected_install_spec()}"']
    with pytest.raises(RuntimeError, match="Installing the book's package failed") as info:
        _run_colab_cell(monkeypatch, importable=False)
    assert expected_install_spec() in str(info.value)
    assert "internet" in str(info.value)


def test_colab_cell_does_nothing_outside_colab(monkeypatch):
    from IPython.core.inputtransformer2 import TransformerManager

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    code = TransformerManager().transform_cell(book_settings.colab_cell_source(CONFIG))
    exec(compile(code, "<colab-cell>", "exec"), {"get_ipython": lambda: pytest.fail("ran a magic outside Colab")})


def test_py2nb_writes_the_configured_colab_cell():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import py2nb
    finally:
        sys.path.pop(0)
    nb = py2nb.convert("# %% [markdown]\n# # T\n")
    first = nb.cells[0]
    assert check_colab_cell(first.source, first.metadata.get("tags", [])) == []


def test_colab_checker_catches_bad_cells():
    good = f'import sys\n{GUARD}\n    %pip install -q "{expected_install_spec()}"'
    assert check_colab_cell(good, ["colab-install"]) == []
    assert check_colab_cell(good, [])  # missing tag
    assert check_colab_cell(good.replace("@main", "@v9.9.9"), ["colab-install"])  # wrong ref
    assert check_colab_cell(good.replace(GUARD, "if True:"), ["colab-install"])  # no guard
    unguarded = f'import sys\n{GUARD}\n    pass\n%pip install -q "{expected_install_spec()}"'
    assert check_colab_cell(unguarded, ["colab-install"])


# ---------------------------------------------------------------- notebooks

def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 11


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_guarded_colab_cell(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = nb["cells"][0]
    assert first["cell_type"] == "code"
    problems = check_colab_cell(_source(first), first.get("metadata", {}).get("tags", []))
    assert not problems, f"{path.name}: " + "; ".join(problems)
    others = [i for i, c in enumerate(nb["cells"][1:], 1) if "colab-install" in c.get("metadata", {}).get("tags", [])]
    assert not others, f"{path.name}: extra colab-install cells at {others}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs"
        assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


# ---------------------------------------------------------------- toc

def test_every_toc_file_exists():
    files = _toc_files(TOC)
    assert "book/intro" in files and len(files) >= 12
    missing = [f for f in files if not any((ROOT / f"{f}{ext}").is_file() for ext in ("", ".md", ".ipynb"))]
    assert not missing, f"toc entries without a file: {missing}"
    assert len(files) == len(set(files)), "a toc entry is listed twice"


def test_every_book_page_is_in_toc():
    listed = set(_toc_files(TOC))
    pages = {f"book/{p.stem}" for p in BOOK.iterdir() if p.suffix in (".md", ".ipynb")}
    assert pages - listed == set(), "pages in book/ missing from _toc.yml (only_build_toc_files skips them)"


# ---------------------------------------------------------------- API page and links

def test_api_page_covers_every_subpackage():
    api = (BOOK / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. ppo-api:: (\S+)", api, flags=re.M))
    assert "ppo_grpo_lab" in documented
    subpackages = {
        info.name for info in pkgutil.iter_modules(ppo_grpo_lab.__path__, prefix="ppo_grpo_lab.")
        if info.ispkg and not info.name.rsplit(".", 1)[1].startswith("_")
    }
    assert subpackages - documented == set(), "add a '.. ppo-api::' section to book/api.md for these"


def test_api_extension_is_configured():
    sphinx = CONFIG["sphinx"]
    assert {"sphinx.ext.autodoc", "sphinx.ext.napoleon"} <= set(sphinx["extra_extensions"])
    for name, path in sphinx["local_extensions"].items():
        assert (ROOT / path / f"{name}.py").is_file()


def test_api_members_are_defined_here():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import sphinx_api
    finally:
        sys.path.pop(0)
    gae_members = sphinx_api.documented_members(importlib.import_module("ppo_grpo_lab.gae"))
    assert gae_members == ["gae_loop", "gae"]
    assert sphinx_api.documented_members(ppo_grpo_lab) == []  # re-exports are documented at home
    core = sphinx_api.module_names("ppo_grpo_lab", flat=True)
    assert "ppo_grpo_lab.returns" in core and "ppo_grpo_lab.envs" not in core
    assert sphinx_api._missing("ppo_grpo_lab.no_such_module")


PY_ROLE = re.compile(r"\{py:(?:func|class|meth|mod|obj)\}`(?:[^<`]*<)?([\w.]+)>?`")


@pytest.mark.parametrize("page", ["equations.md", "api.md", "glossary.md", "how_to_run.md"])
def test_python_references_resolve(page):
    text = (BOOK / page).read_text(encoding="utf-8")
    targets = PY_ROLE.findall(text)
    bad = []
    for target in targets:
        parts = target.split(".")
        for cut in range(len(parts), 0, -1):  # longest importable module prefix
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                bad.append(target)
            break
        else:
            bad.append(target)
    assert not bad, f"{page}: references to missing objects: {bad}"
    if page == "equations.md":
        assert len(targets) >= 20


def test_equations_page_covers_core_functions():
    text = (BOOK / "equations.md").read_text(encoding="utf-8")
    linked = {t.rsplit(".", 1)[1] for t in PY_ROLE.findall(text)}
    core = {"discounted_returns", "td_residuals", "gae", "gae_loop", "group_advantages", "clipped_objective",
            "clipped_surrogate", "value_loss", "entropy", "kl_k1", "kl_k2", "kl_k3", "aggregate_grpo",
            "aggregate_dr_grpo", "aggregate_dapo"}
    assert core - linked == set()


def test_how_to_run_names_the_commands():
    text = (BOOK / "how_to_run.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for cmd in ("bash tools/build_book.sh", "bash tools/test.sh"):
        assert cmd in readme and cmd in text
    assert "python -m ppo_grpo_lab.grade" in text
    assert "PPO_GRPO_LAB_QUICK=1" in text
    assert expected_install_spec() in text, "how_to_run.md shows a stale Colab install line"


# ---------------------------------------------------------------- tools/check_site.py (no browser)

def _check_site():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import check_site
    finally:
        sys.path.pop(0)
    return check_site


def test_check_site_counts_typeset_math_and_errors():
    cs = _check_site()
    dom = cs.parse(
        '<div class="math notranslate"><mjx-container><mjx-math></mjx-math></mjx-container></div>'
        '<span class="math">\\(x\\)</span>'  # not typeset
        '<span class="math"><mjx-container><mjx-merror></mjx-merror></mjx-container></span>'
        '<span class="math"><mjx-container><mjx-mtext style="color: red;">\\foo</mjx-mtext></mjx-container></span>'
        '<div class="cell_output"><img src="a.png"></div><img src="logo.png">')
    assert (dom.math, dom.math_typeset, dom.merror) == (4, 3, 2)
    assert dom.images == [("a.png", True), ("logo.png", False)]


def test_check_site_finds_broken_links_and_anchors(tmp_path):
    cs = _check_site()
    (tmp_path / "book").mkdir()
    (tmp_path / "index.html").write_text('<a href="book/a.html#sec">ok</a><a href="book/a.html#nope">bad anchor</a>')
    (tmp_path / "book" / "a.html").write_text(
        '<h1 id="sec">A</h1><a href="../index.html">up</a><a href="missing.html">broken</a>'
        '<a href="https://example.org/x">external</a><a href="#sec">self</a><img src="../_images/none.png">')
    report = cs.Report()
    cs.check_links(tmp_path, report)
    assert report.pages == 2 and report.links_checked == 6
    assert len(report.failures) == 3, report.failures
    assert any("nope" in f for f in report.failures)
    assert any("missing.html" in f for f in report.failures)
    assert any("none.png" in f for f in report.failures)


def test_check_site_knows_which_notebooks_plot(tmp_path):
    cs = _check_site()
    (tmp_path / "book").mkdir()
    for name, code in (("p", "import matplotlib.pyplot as plt\nplt.plot([1, 2])"), ("q", "# plt.plot(x)\nprint(1)")):
        nb = {"cells": [{"cell_type": "code", "source": code, "metadata": {}}]}
        (tmp_path / "book" / f"{name}.ipynb").write_text(json.dumps(nb))
    assert cs.notebook_plots(tmp_path, "book/p") is True
    assert cs.notebook_plots(tmp_path, "book/q") is False
    assert cs.notebook_plots(tmp_path, "book/intro") is None


def test_check_site_usage_error(tmp_path):
    cs = _check_site()
    assert cs.main(["--html", str(tmp_path / "nothing")]) == 2


def test_book_build_does_not_force_a_headless_backend():
    """Kernels started by the book build must draw inline, or plt.show() leaves pages without figures."""
    build = (ROOT / "tools" / "build_book.sh").read_text()
    setup = (ROOT / "tools" / "setup_env.sh").read_text()
    assert "unset MPLBACKEND" in build
    assert build.index("unset MPLBACKEND") < build.index("jupyter-book build")
    assert "MPLBACKEND" not in setup


def test_check_site_expects_the_configured_colab_link():
    cs = _check_site()
    url = cs.colab_link(ROOT / "_config.yml", "book/07_td_gae")
    slug = CONFIG["repository"]["url"].split("github.com/")[1]
    assert url == f"https://colab.research.google.com/github/{slug}/blob/{CONFIG['repository']['branch']}/book/07_td_gae.ipynb"

def test_check_site_requires_source_links(tmp_path):
    cs = _check_site()
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "api.html").write_text('<a class="viewcode-link">[source]</a>' * 3)
    (tmp_path / "book" / "01_a.html").write_text('<pre><a class="sphinx-codeautolink-a" href="api.html#x">gae</a></pre>')
    (tmp_path / "book" / "02_b.html").write_text("<pre>gae(...)</pre>")
    (tmp_path / "book" / "glossary.html").write_text("<p>no code</p>")
    report = cs.Report()
    cs.check_source_links(tmp_path, ["book/01_a", "book/02_b", "book/glossary"], report)
    assert len(report.failures) == 2, report.failures
    assert any("api" in f and "found 3" in f for f in report.failures)
    assert any("02_b" in f for f in report.failures)


def test_config_links_code_to_its_source():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    ext = cfg["sphinx"]["extra_extensions"]
    assert "sphinx.ext.viewcode" in ext and "sphinx_codeautolink" in ext


def test_ci_builds_the_book_at_full_budget():
    """CI builds (and asserts) the book at full budget, what the site shows; only an explicit switch builds it quick."""
    text = (ROOT / ".ci" / "run").read_text()
    lines = [ln.split("#")[0].strip() for ln in text.splitlines()]
    assert "export PPO_GRPO_LAB_QUICK=1" not in lines, "quick mode must not leak into a full-budget build"
    assert 'if [ "${PPO_GRPO_LAB_CI_QUICK_BOOK:-0}" = "1" ]; then' in lines
    assert "BUDGET=full; BOOK_ENV=(env -u PPO_GRPO_LAB_QUICK)" in lines
    assert '"${BOOK_ENV[@]}" bash tools/build_book.sh' in lines
    assert "PPO_GRPO_LAB_QUICK=1 bash tools/test.sh" in lines  # the README's test command, at quick budget
    assert lines.index("PPO_GRPO_LAB_QUICK=1 bash tools/test.sh") < lines.index('if ! wait "$BOOK_PID"; then')
