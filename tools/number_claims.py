"""Find the numbers a chapter's prose states and whether an assert in the same chapter backs them.

The book promises that every number a chapter claims is checked in CI. This tool walks the Markdown
cells of each chapter notebook, finds numbers (integers, decimals, percentages, "17-fold"), and sorts
each into one of:

- ``asserted``: the value appears as a literal in a code cell that contains an ``assert``
  (a percentage ``5%`` matches ``5`` or ``0.05``; ``1,024`` matches ``1024``);
- ``setting``: the value appears as a literal in another code cell (a hyper-parameter or an input
  the reader can see being set, not a measured claim);
- ``allowed``: listed for that chapter in ``tests/number_allowlist.yml`` with a reason;
- ``uncovered``: none of the above: a claim nobody checks.

Not numbers of claims, and skipped before the search: math (``$...$``, ``$$...$$``), inline code,
fenced blocks, link targets, MyST roles and labels, exercise and solution blocks (problem data and
worked answers), chapter/section/part/exercise/step references ("chapter 4", "§4.1.3"), years, and
the numbers of numbered lists.

Usage: ``python tools/number_claims.py [book/NN_x.ipynb ...]`` prints the uncovered numbers per chapter.
"""
from __future__ import annotations

import io
import json
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_BLOCK = re.compile(r"(`{3,}|~{3,}|:{3,})[^\n]*\n.*?\n\1", re.S)  # fenced code, directives, colon fences
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$|\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S)
_CODE = re.compile(r"`[^`\n]*`")
_LINK_TARGET = re.compile(r"\]\([^)]*\)|<https?://[^>]*>|https?://\S+")
_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_LABEL = re.compile(r"^\([\w:-]+\)=\s*$", re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_LIST = re.compile(r"^\s*\d+[.)]\s|^#+\s*\d+\.", re.M)  # numbered lists, chapter numbers in titles
_EQLABEL = re.compile(r"\(eq-[\w-]+\)|\beq-[\w-]+")
_REF = re.compile(
    r"(?i)\b(?:chapters?|ch\.?|sections?|§|parts?|exercises?|steps?|items?|figures?|fig\.|equations?|eq\.|tables?|"
    r"appendix|lines?|weeks?|cells?|version|v)\s*(?:\d+(?:\.\d+)*)(?:\s*(?:[-–—]|,|and|or|to)\s*\d+(?:\.\d+)*)*")
_SECTION_SIGN = re.compile(r"§\s*\d+(?:\.\d+)*")
_YEAR = re.compile(r"\b(?:19|20)\d\d[a-z]?\b")
_NUMBER = re.compile(r"(?<![\w.])[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])[-−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
                     r"(?:\s?%|-fold|×)?")


def prose(md: str) -> str:
    """The Markdown of one cell with everything that is not a sentence of prose removed."""
    for pattern in (_COMMENT, _BLOCK, _MATH, _EQLABEL, _ROLE, _CODE, _LINK_TARGET, _LABEL, _LIST, _SECTION_SIGN, _REF, _YEAR):
        md = pattern.sub(" ", md)
    return md


def values(token: str) -> set[float]:
    """The values a number written in prose may stand for (``5%`` is 5 or 0.05)."""
    t = token.replace("−", "-").replace(",", "").strip()
    pct = t.endswith("%")
    t = t.rstrip("%").removesuffix("-fold").rstrip("×").strip()
    v = float(t)
    out = {round(v, 12), round(abs(v), 12)}
    if pct:
        out |= {round(v / 100, 12), round(abs(v) / 100, 12)}
    return out


def numbers_in(md: str) -> list[str]:
    """Every number of the prose of one Markdown cell, as written."""
    return [m.group(0).strip() for m in _NUMBER.finditer(prose(md))]


def literals(code: str) -> set[float]:
    """Numeric literals of a code cell (IPython magics and shell lines ignored)."""
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    out: set[float] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if tok.type == tokenize.NUMBER:
                try:
                    v = float(tok.string.replace("_", ""))
                except ValueError:
                    continue
                out |= {round(v, 12), round(abs(v), 12)}
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def chapter_report(path: Path, allowed: dict | None = None) -> dict[str, list[str]]:
    """Sort every prose number of a chapter notebook into asserted / setting / allowed / uncovered."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    asserted, setting = set(), set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            (asserted if re.search(r"^\s*assert\b", src, re.M) else setting).update(literals(src))
    allowed_values = set()
    for entry in (allowed or {}).get(path.stem, []):
        allowed_values |= values(str(entry["number"]))
    report = {"asserted": [], "setting": [], "allowed": [], "uncovered": []}
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for num in numbers_in("".join(cell["source"])):
            v = values(num)
            kind = ("asserted" if v & asserted else "setting" if v & setting else
                    "allowed" if v & allowed_values else "uncovered")
            report[kind].append(num)
    return report


def load_allowlist(path: Path = ROOT / "tests" / "number_allowlist.yml") -> dict:
    """``{chapter_stem: [{"number": ..., "why": ...}, ...]}``."""
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) or {} if path.exists() else {}


def main(argv: list[str]) -> int:
    """Print each chapter's uncovered numbers; exit 1 if any."""
    paths = [Path(p) for p in argv] or sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    allowed = load_allowlist()
    bad = 0
    for p in paths:
        rep = chapter_report(p, allowed)
        counts = ", ".join(f"{k} {len(v)}" for k, v in rep.items())
        print(f"{p.stem}: {counts}")
        if rep["uncovered"]:
            bad += len(rep["uncovered"])
            print("   uncovered: " + " | ".join(rep["uncovered"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
