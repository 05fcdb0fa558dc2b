"""Everything that points at the repository, derived from one setting: ``repository`` in _config.yml.

``repository.url`` (https://github.com/<owner>/<name>) gives the Pages site, the Colab links and
the URL the notebooks install the package from; ``repository.branch`` is *the ref*: the Colab
button opens the notebooks of that ref and their first cell installs the package from that same
ref, so notebook and package cannot drift apart. On ``main`` the ref is ``main``; the release
workflow (.github/workflows/pages.yml) publishes each release tag's Colab edition under a ref of
its own and builds the site with that ref (see tools/colab_edition.py and book/how_to_run.md).

    python tools/book_settings.py --write        # rewrite the first cell of every book/*.ipynb
    python tools/book_settings.py --check        # exit 1 if a notebook's first cell is stale
    python tools/book_settings.py --set-ref REF  # set repository.branch in _config.yml (release workflow)
    python tools/book_settings.py KEY            # print url | ref | slug | pages-url | install-spec
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"
GUARD = 'if "google.colab" in sys.modules:'
TAGS = ["colab-install", "remove-cell"]  # remove-cell: the site hides it


def config(path: Path = CONFIG) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def repo_url(cfg: dict | None = None) -> str:
    url = (cfg or config())["repository"]["url"].rstrip("/")
    if not url.startswith("https://github.com/") or url.count("/") != 4:
        raise ValueError(f"repository.url: expected https://github.com/<owner>/<name>, got {url!r}")
    return url


def ref(cfg: dict | None = None) -> str:
    return str((cfg or config())["repository"].get("branch", "main"))


def slug(cfg: dict | None = None) -> str:
    return repo_url(cfg).removeprefix("https://github.com/")


def pages_url(cfg: dict | None = None) -> str:
    """GitHub Pages' address of the repository: https://<owner>.github.io/<name>/."""
    owner, name = slug(cfg).split("/")
    if name.lower() == f"{owner.lower()}.github.io":
        return f"https://{owner.lower()}.github.io/"
    return f"https://{owner.lower()}.github.io/{name}/"


def install_spec(cfg: dict | None = None, *, url: str | None = None, at: str | None = None) -> str:
    """``<package> @ git+<url>@<ref>``; ``url``/``at`` override the configured ones (tests, editions)."""
    cfg = cfg or config()
    package = cfg["colab_install"]["package"]
    return f"{package} @ git+{url or repo_url(cfg)}@{at or ref(cfg)}"


def colab_link(page: str, cfg: dict | None = None) -> str:
    """The Colab launch link of ``page`` (e.g. ``book/07_td_gae``), as the book's launch button builds it."""
    cfg = cfg or config()
    colab = cfg["launch_buttons"]["colab_url"].rstrip("/")
    path = "/".join(p for p in (cfg["repository"].get("path_to_book", "").strip("/"), page) if p)
    return f"{colab}/github/{slug(cfg)}/blob/{ref(cfg)}/{path}.ipynb"


def colab_cell_source(cfg: dict | None = None, **override) -> str:
    """The first cell of every notebook: installs the package in Colab only, and fails loudly."""
    spec = install_spec(cfg, **override)
    return "\n".join([
        "# Runs only in Google Colab: install this book's package (elsewhere it is already installed).",
        "import sys",
        GUARD,
        f'    %pip install -q "{spec}"',
        "    try:",
        "        import ppo_grpo_lab",
        "    except ImportError as exc:",
        "        raise RuntimeError(",
        '            "Installing the book\'s package failed (pip says why above): "',
        f'            "{spec}. Check that the runtime has internet access, then run this cell "',
        '            "again (Runtime > Restart session first if pip asked for a restart)."',
        "        ) from exc",
        '    print(f"ppo_grpo_lab {ppo_grpo_lab.__version__} is installed.")',
    ])


def colab_cell(cfg: dict | None = None, **override) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": "0", "metadata": {"tags": list(TAGS)},
            "outputs": [], "source": colab_cell_source(cfg, **override)}


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def stale(nb: dict, cfg: dict | None = None) -> bool:
    first = nb["cells"][0] if nb.get("cells") else {}
    return (first.get("cell_type") != "code" or _source(first) != colab_cell_source(cfg)
            or first.get("metadata", {}).get("tags") != TAGS)


def write_cell(path: Path, cfg: dict | None = None) -> bool:
    """Put the configured Colab cell first in the notebook at ``path``; True if the file changed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    if not stale(nb, cfg):
        return False
    cell = colab_cell(cfg)
    cells = nb["cells"]
    if cells and "colab-install" in cells[0].get("metadata", {}).get("tags", []):
        cell["id"] = cells[0].get("id", "0")
        cells[0] = cell
    else:
        cells.insert(0, cell)
    cell["source"] = cell["source"].splitlines(keepends=True)  # the layout nbformat writes
    path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def set_ref(new: str, path: Path = CONFIG) -> None:
    """Set ``repository.branch`` to ``new`` in the config file, keeping its comments and layout."""
    if not re.fullmatch(r"[\w./-]+", new):
        raise ValueError(f"ref: expected a branch or tag name, got {new!r}")
    text = Path(path).read_text(encoding="utf-8")
    pattern = re.compile(r"^(repository:[ \t]*\n(?:[ \t]+.*\n|[ \t]*\n)*?[ \t]+branch:[ \t]*)\S+", re.M)
    text, n = pattern.subn(lambda m: m.group(1) + new, text, count=1)
    if n != 1:
        raise ValueError(f"{path}: no repository.branch line to set")
    Path(path).write_text(text, encoding="utf-8")
    assert ref(config(path)) == new


def main(argv: list[str]) -> int:
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    if argv == ["--write"]:
        changed = [p.name for p in notebooks if write_cell(p)]
        print(f"rewrote the Colab cell of {len(changed)} notebook(s): {', '.join(changed) or '-'}")
        return 0
    if len(argv) == 2 and argv[0] == "--set-ref":
        set_ref(argv[1])
        return 0
    if argv == ["--check"]:
        bad = [p.name for p in notebooks if stale(json.loads(p.read_text(encoding="utf-8")))]
        if bad:
            print(f"stale Colab cell in {', '.join(bad)}: run python tools/book_settings.py --write")
        return 1 if bad else 0
    keys = {"url": repo_url, "ref": ref, "slug": slug, "pages-url": pages_url, "install-spec": install_spec}
    if len(argv) == 1 and argv[0] in keys:
        print(keys[argv[0]]())
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
