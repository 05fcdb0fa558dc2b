"""The "Module code" index of the built site links only pages that exist.

sphinx.ext.viewcode lists every module it inspected, also those without source (``builtins``, from a
class attribute whose value is ``object``); ``tools/sphinx_api.py`` drops them. A mini Sphinx project
shows the broken link without the fix and none with it.
"""

import re
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
from sphinx.application import Sphinx  # noqa: E402

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _build(tmp_path: Path, with_fix: bool) -> str:
    src = tmp_path / ("fixed" if with_fix else "plain")
    src.mkdir()
    (src / "toycfg.py").write_text('class Cfg:\n    """A config."""\n')
    (src / "toymod.py").write_text(textwrap.dedent('''
        from toycfg import Cfg


        class GTrainer:
            """A trainer whose config class lives in another module."""

            #: the config class
            config_class = Cfg


        class Trainer:
            """A trainer."""

            #: the config class a subclass accepts
            config_class = object

            def train(self):
                """Train."""
    '''))
    extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode"] + (["sphinx_api"] if with_fix else [])
    (src / "conf.py").write_text(
        f"import sys\nsys.path[:0] = [{str(src)!r}, {str(TOOLS)!r}]\nextensions = {extensions!r}\n"
    )
    (src / "index.rst").write_text("API\n===\n\n.. autoclass:: toymod.GTrainer\n   :members:\n\n"
                                   ".. autoclass:: toymod.Trainer\n   :members:\n\n.. autoclass:: toycfg.Cfg\n")
    out = src / "_build"
    app = Sphinx(str(src), str(src), str(out), str(out / ".doctrees"), "html", status=None, warning=None,
                 freshenv=True)
    app.build()
    sys.modules.pop("toymod", None)
    sys.modules.pop("toycfg", None)
    return (out / "_modules" / "index.html").read_text(encoding="utf-8")


def _broken_backlinks(out: Path) -> list[str]:
    """"[docs]" links of the source pages whose anchor is not an id of the page they point to."""
    bad = []
    for page in (out / "_modules").glob("*.html"):
        for href in re.findall(r'class="viewcode-back" href="([^"]+)"', page.read_text(encoding="utf-8")):
            target, anchor = href.split("#")
            html = (page.parent / target).resolve().read_text(encoding="utf-8")
            if f'id="{anchor}"' not in html:
                bad.append(f"{page.name}: {href}")
    return bad


def _broken(index_html: str, root: Path) -> list[str]:
    links = re.findall(r'href="([^"#?]+\.html)"', index_html)
    return [link for link in links if not (root / link).resolve().is_file()]


@pytest.mark.parametrize("with_fix", [False, True])
def test_module_index_links_only_built_pages(tmp_path, with_fix):
    html = _build(tmp_path, with_fix)
    modules = tmp_path / ("fixed" if with_fix else "plain") / "_build" / "_modules"
    broken = _broken(html, modules)
    backlinks = _broken_backlinks(modules.parent)
    if with_fix:
        assert broken == [], f"broken links on the module index: {broken}"
        assert backlinks == [], f"[docs] links to anchors that do not exist: {backlinks}"
        assert "toymod.html" in html and "toycfg.html" in html  # the real modules are still listed
    else:  # the defects the fix removes are real in this Sphinx version
        assert "builtins.html" in broken
        assert backlinks == ["toycfg.html: ../index.html#toymod.Cfg"], backlinks
