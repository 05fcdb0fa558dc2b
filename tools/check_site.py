"""Check the built website in headless Chromium: math, figures and internal links.

    python tools/check_site.py                    # checks _build/html against _toc.yml
    python tools/check_site.py --html /tmp/x/_build/html --jobs 2

What is checked (exit status 1 if anything fails, 2 on a usage error):

1. Links, on every HTML page (static parse): each ``href``/``src`` to a local file
   resolves to an existing file, and each ``#anchor`` exists in its target page.
2. Math, on every page of the table of contents (Chromium ``--dump-dom`` after a virtual
   time budget): every ``math`` element was typeset by MathJax (an ``mjx-container`` inside
   it) and no formula failed (no ``mjx-merror``, no undefined macro shown in red).
   Chapter pages (notebooks) must contain math at all.
3. Colab, on chapter pages: the launch button opens this notebook of the configured
   repository and branch (``repository`` and ``launch_buttons.colab_url`` in _config.yml).
4. Figures, on chapter pages whose notebook draws (``plt.``, ``.plot(``, ``imshow``,
   ``History.plot``...): at least one ``<img>`` in the cell outputs, each a non-empty file.

MathJax: the site loads MathJax 3 from a CDN. Where the CDN cannot be reached (CI runs
offline), the pages are checked with a local MathJax 3 instead, copied from
``--mathjax DIR`` or ``$PPO_GRPO_LAB_MATHJAX`` (a folder holding ``es5/tex-mml-chtml.js``),
else fetched once with ``npm pack mathjax@3.2.2`` into ``~/.cache/ppo_grpo_lab/``. Only the
script address changes, in a temporary copy of the site; the pages are otherwise as built.

Chromium: Debian's ``chromium`` (``apt-get install -y chromium``), started per page with a
fresh profile and the network-quiet flags below.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MATHJAX_VERSION = "3.2.2"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
    "--allow-file-access-from-files", "--mute-audio",
]
EXTERNAL = ("http:", "https:", "mailto:", "javascript:", "data:", "tel:", "ftp:")
PLOTS = re.compile(r"\bplt\.|\.plot\(|imshow\(|\.hist\(|\.scatter\(|\.bar\(|\.savefig\(|plot_\w+\(")


# ------------------------------------------------------------------ parsing

class PageParser(HTMLParser):
    """Collects ids, links, images and counts of the elements we care about."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[tuple[str, bool]] = []  # (src, inside a cell output)
        self.math = 0            # elements with class "math"
        self.math_typeset = 0    # math elements holding an mjx-container
        self.mjx = 0
        self.merror = 0
        self.mathjax_src: list[str] = []
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, is math, is output)
        self._math_open: list[bool] = []  # per open math element: typeset yet?

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        classes = (a.get("class") or "").split()
        in_output = any(o for _, _, o in self._stack) or "cell_output" in classes or "output" in classes
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script", "source") and a.get("src"):
            self.links.append(a["src"])
            if tag == "script" and "mathjax" in a["src"].lower():
                self.mathjax_src.append(a["src"])
        if tag == "img":
            self.images.append((a.get("src", ""), in_output))
        if tag == "mjx-container":
            self.mjx += 1
            if self._math_open and not self._math_open[-1]:
                self._math_open[-1] = True
                self.math_typeset += 1
        if tag == "mjx-merror" or (tag == "mjx-mtext" and "color: red" in (a.get("style") or "")):
            self.merror += 1  # a TeX error, or an undefined macro (MathJax's noundefined shows it in red)
        if tag in self.VOID:
            return
        is_math = "math" in classes and tag in ("span", "div")
        if is_math:
            self.math += 1
            self._math_open.append(False)
        self._stack.append((tag, is_math, in_output))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self._stack and self._stack[-1][0] == tag:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        # pop to the matching tag (tolerates unclosed children)
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                for _, is_math, _ in self._stack[i:]:
                    if is_math and self._math_open:
                        self._math_open.pop()
                del self._stack[i:]
                return


def parse(text: str) -> PageParser:
    p = PageParser()
    p.feed(text)
    p.close()
    return p


# ------------------------------------------------------------------ links

@dataclass
class Report:
    pages: int = 0
    links_checked: int = 0
    rendered: int = 0
    formulas: int = 0
    figures: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, msg: str) -> None:
        self.failures.append(msg)


def check_links(html_dir: Path, report: Report) -> dict[Path, PageParser]:
    parsed: dict[Path, PageParser] = {}
    pages = sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)
    for page in pages:
        parsed[page] = parse(page.read_text(encoding="utf-8", errors="replace"))
    report.pages = len(pages)
    for page, info in parsed.items():
        rel_page = page.relative_to(html_dir)
        for href in info.links:
            if href.lower().startswith(EXTERNAL) or href.startswith("//"):
                continue
            url = urllib.parse.urlsplit(href)
            path, frag = urllib.parse.unquote(url.path), urllib.parse.unquote(url.fragment)
            target = page if path == "" else (page.parent / path)
            if path.endswith("/") or (path and target.is_dir()):
                target = target / "index.html"
            report.links_checked += 1
            try:
                target = target.resolve()
                target.relative_to(html_dir.resolve())
            except ValueError:
                report.fail(f"{rel_page}: link {href!r} leaves the site")
                continue
            if not target.is_file():
                report.fail(f"{rel_page}: broken link {href!r} (no file {target.relative_to(html_dir.resolve())})")
                continue
            if frag and target.suffix == ".html":
                tinfo = parsed.get(target) or parsed.setdefault(target, parse(target.read_text(encoding="utf-8")))
                if frag not in tinfo.ids:
                    report.fail(f"{rel_page}: broken anchor {href!r} (no id {frag!r} in {target.name})")
    return parsed


# ------------------------------------------------------------------ toc

def check_source_links(html_dir: Path, pages: list[str], report: Report) -> None:
    """One hop from code to its reference: the API page links every entry to its highlighted source
    (sphinx.ext.viewcode), and every chapter's code cells link package names to the API (sphinx-codeautolink).
    """
    api = html_dir / "book" / "api.html"
    if api.is_file():
        n = api.read_text(encoding="utf-8").count("viewcode-link")
        if n < 50:
            report.fail(f"book/api: expected a [source] link (viewcode) beside every entry, found {n}")
    for page in pages:
        html = html_dir / f"{page}.html"
        src = Path(page).name
        if not src[:2].isdigit() or not html.is_file():
            continue
        if "sphinx-codeautolink-a" not in html.read_text(encoding="utf-8"):
            report.fail(f"{page}: code cells do not link any package name to the API (sphinx-codeautolink)")


def toc_pages(toc_path: Path) -> list[str]:
    """Source paths (without suffix) listed in the toc, root first."""
    import yaml

    out: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    out.append(node[key])
            for v in node.values():
                if isinstance(v, (list, dict)):
                    walk(v)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc_path.read_text(encoding="utf-8")))
    return out


def colab_link(config_path: Path, page: str) -> str | None:
    """The Colab address the launch button of ``page`` must have, or None if Colab is not configured."""
    import yaml

    if not config_path.is_file():
        return None
    cfg = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    colab, repo = (cfg.get("launch_buttons") or {}).get("colab_url"), cfg.get("repository") or {}
    if not colab or not repo.get("url"):
        return None
    slug = urllib.parse.urlsplit(repo["url"]).path.strip("/")
    prefix = (repo.get("path_to_book") or "").strip("/")
    path = f"{prefix}/{page}.ipynb" if prefix else f"{page}.ipynb"
    return f"{colab.rstrip('/')}/github/{slug}/blob/{repo.get('branch', 'main')}/{path}"


def notebook_plots(source_root: Path, page: str) -> bool | None:
    """True if the notebook behind ``page`` draws a figure; None if the page is not a notebook."""
    nb = source_root / f"{page}.ipynb"
    if not nb.is_file():
        return None
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in cells if c["cell_type"] == "code" and "colab-install" not in c.get("metadata", {}).get("tags", []))
    code = "\n".join(l for l in code.splitlines() if not l.lstrip().startswith("#"))
    return bool(PLOTS.search(code))


# ------------------------------------------------------------------ MathJax and Chromium

def find_chromium(explicit: str | None) -> str:
    for cand in ([explicit] if explicit else []) + ["chromium", "chromium-browser", "google-chrome", "chrome"]:
        path = shutil.which(cand) if cand else None
        if path:
            return path
    raise SystemExit("check_site: Chromium not found; install it with 'apt-get install -y chromium' or pass --chromium")


def reachable(url: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as r:
            return 200 <= r.status < 400
    except Exception:
        return False


def local_mathjax(explicit: str | None) -> Path:
    """A folder with MathJax 3's ``es5/``; fetched with npm into the cache if needed."""
    for cand in (explicit, os.environ.get("PPO_GRPO_LAB_MATHJAX")):
        if cand:
            p = Path(cand)
            if (p / "es5" / "tex-mml-chtml.js").is_file():
                return p
            raise SystemExit(f"check_site: --mathjax/PPO_GRPO_LAB_MATHJAX: expected a folder with es5/tex-mml-chtml.js, got {cand}")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ppo_grpo_lab" / f"mathjax-{MATHJAX_VERSION}"
    if (cache / "package" / "es5" / "tex-mml-chtml.js").is_file():
        return cache / "package"
    npm = shutil.which("npm")
    if not npm:
        raise SystemExit("check_site: the MathJax CDN is unreachable and npm is missing; "
                         "pass --mathjax DIR (MathJax 3 with es5/) or install npm")
    cache.mkdir(parents=True, exist_ok=True)
    print(f"[site] MathJax CDN unreachable: fetching mathjax@{MATHJAX_VERSION} with npm into {cache}", flush=True)
    out = subprocess.run([npm, "pack", f"mathjax@{MATHJAX_VERSION}", "--silent"], cwd=cache, capture_output=True,
                         text=True, timeout=300)
    tgz = cache / f"mathjax-{MATHJAX_VERSION}.tgz"
    if out.returncode != 0 or not tgz.is_file():
        raise SystemExit(f"check_site: 'npm pack mathjax@{MATHJAX_VERSION}' failed: {out.stderr.strip()[-500:]}")
    with tarfile.open(tgz) as tf:
        tf.extractall(cache, filter="data") if sys.version_info >= (3, 12) else tf.extractall(cache)
    tgz.unlink()
    return cache / "package"


def localize_mathjax(html_dir: Path, cdn_src: str, mathjax_dir: Path, work: Path) -> Path:
    """Copy the site into ``work`` with the MathJax script pointing at the local copy."""
    site = work / "html"
    shutil.copytree(html_dir, site, symlinks=True)
    name = cdn_src.rstrip("/").rsplit("/", 1)[-1]
    local = (mathjax_dir / "es5" / name)
    if not local.is_file():
        raise SystemExit(f"check_site: local MathJax lacks es5/{name} (the site asks for {cdn_src})")
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8", errors="replace")
        if cdn_src in text:
            page.write_text(text.replace(cdn_src, local.resolve().as_uri()), encoding="utf-8")
    return site


def render(chromium: str, page: Path, budget_ms: int, timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="check_site_profile_") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
               "--dump-dom", page.resolve().as_uri()]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0 or "<html" not in out.stdout:
        raise RuntimeError(f"chromium exited {out.returncode}: {out.stderr.strip()[-300:]}")
    return out.stdout


# ------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/check_site.py", description=__doc__.split("\n")[0])
    ap.add_argument("--html", default=str(ROOT / "_build" / "html"), help="built site (default: _build/html)")
    ap.add_argument("--toc", default=str(ROOT / "_toc.yml"), help="table of contents (default: _toc.yml)")
    ap.add_argument("--source", default=str(ROOT), help="folder the toc paths are relative to")
    ap.add_argument("--config", default=str(ROOT / "_config.yml"), help="book config (for the Colab link)")
    ap.add_argument("--chromium", default=None, help="browser executable (default: chromium on PATH)")
    ap.add_argument("--mathjax", default=None, help="local MathJax 3 folder (with es5/), used if the CDN is unreachable")
    ap.add_argument("--force-local-mathjax", action="store_true", help="use the local MathJax even if the CDN answers")
    ap.add_argument("--budget-ms", type=int, default=10000, help="virtual time for each page to settle (ms)")
    ap.add_argument("--timeout", type=float, default=120.0, help="wall-clock limit per page (s)")
    ap.add_argument("--jobs", type=int, default=2, help="pages rendered at once")
    ap.add_argument("--skip-figures", action="store_true",
                    help="do not require figures (for a site built with execute_notebooks: off)")
    args = ap.parse_args(argv)

    html_dir = Path(args.html)
    if not (html_dir / "index.html").is_file():
        print(f"check_site: --html: expected a built site with index.html, got {html_dir}", file=sys.stderr)
        return 2
    if args.budget_ms < 100 or args.jobs < 1:
        print("check_site: --budget-ms must be >= 100 and --jobs >= 1", file=sys.stderr)
        return 2
    report = Report()
    parsed = check_links(html_dir, report)

    pages = toc_pages(Path(args.toc))
    check_source_links(html_dir, pages, report)
    source_root = Path(args.source)
    chromium = find_chromium(args.chromium)
    cdn = sorted({s for info in parsed.values() for s in info.mathjax_src if s.lower().startswith(EXTERNAL)})

    with tempfile.TemporaryDirectory(prefix="check_site_") as work:
        site = html_dir
        if cdn and (args.force_local_mathjax or not reachable(cdn[0] if "//" in cdn[0] else "https:" + cdn[0])):
            mj = local_mathjax(args.mathjax)
            site = localize_mathjax(html_dir, cdn[0], mj, Path(work))
            print(f"[site] MathJax from {mj} (the CDN copy was not used)", flush=True)

        def check_page(page: str) -> list[str]:
            problems = []
            html = site / f"{page}.html"
            if not html.is_file():
                return [f"{page}: listed in the toc but {page}.html was not built"]
            static = parse(html.read_text(encoding="utf-8", errors="replace"))
            plots = notebook_plots(source_root, page)
            try:
                dom = parse(render(chromium, html, args.budget_ms, args.timeout))
            except Exception as exc:  # a crash or hang of one page is a failure, not a traceback
                return [f"{page}: could not render: {exc}"]
            if static.math and dom.math_typeset < dom.math:
                problems.append(f"{page}: {dom.math - dom.math_typeset} of {dom.math} formulas not typeset by MathJax")
            if dom.merror:
                problems.append(f"{page}: {dom.merror} formulas rendered as MathJax errors (bad TeX)")
            if plots is not None and static.math == 0:
                problems.append(f"{page}: chapter page without any math")
            colab = colab_link(Path(args.config), page) if plots is not None else None
            if colab and colab not in static.links:
                problems.append(f"{page}: no Colab launch link to {colab}")
            out_imgs = [src for src, in_out in dom.images if in_out]
            if plots and not out_imgs and not args.skip_figures:
                problems.append(f"{page}: the notebook draws figures but the page shows no output image")
            for src in out_imgs:
                f = (html.parent / urllib.parse.unquote(urllib.parse.urlsplit(src).path))
                if not src.startswith("data:") and (not f.is_file() or f.stat().st_size == 0):
                    problems.append(f"{page}: figure {src!r} is missing or empty")
            with lock:
                report.rendered += 1
                report.formulas += dom.math_typeset
                report.figures += len(out_imgs)
            status = "ok" if not problems else "FAIL"
            print(f"[site] {status:4} {page}: {dom.math_typeset}/{dom.math} formulas typeset, "
                  f"{len(out_imgs)} figures", flush=True)
            return problems

        import threading

        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for problems in pool.map(check_page, pages):
                for p in problems:
                    report.fail(p)

    for msg in report.failures:
        print(f"[site] FAIL {msg}")
    print(f"[site] {report.pages} HTML pages, {report.links_checked} local links checked; "
          f"{report.rendered} toc pages rendered in Chromium: {report.formulas} formulas typeset, "
          f"{report.figures} figures; {len(report.failures)} problems")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
