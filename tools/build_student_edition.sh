#!/usr/bin/env bash
# Build the student edition of the book: the site, its .ipynb downloads and its Colab links, all
# without solutions.
#
# 1. tools/student_notebooks.py strips book/*.ipynb into a staging copy of the book ($OUT/src):
#    each graded exercise's worked solution becomes `raise NotImplementedError(...)`, cells tagged
#    `solution` ("compare your solution") and every MyST {solution} block are removed.
# 2. jupyter-book builds that copy (with sphinx-exercise's `hide_solutions` as well), so the HTML,
#    `_sources` (what the page's download button serves) and the executed notebooks all come from
#    the stripped notebooks. The repository's own files are not touched.
# 3. Colab: the launch button opens <repository.url>/blob/<branch>/book/<chapter>.ipynb. The student
#    edition points it at the branch $PPO_GRPO_LAB_STUDENT_BRANCH (default: student), where the
#    stripped notebooks ($OUT/src/book/*.ipynb, with the rest of the repository) must be published;
#    the book itself keeps `repository.branch` of _config.yml.
#
# Usage: bash tools/build_student_edition.sh [--no-execute] [--pages book/01_naive_reward,...] [jupyter-book args]
#   --no-execute   render without running the notebooks (fast; outputs stay empty)
#   --pages LIST   build only book/intro and these pages (a quick check; cross-references to the
#                  pages left out are not errors then: -W -n are dropped)
# Environment: PPO_GRPO_LAB_STUDENT_OUT (default _build/student), PPO_GRPO_LAB_STUDENT_BRANCH,
#   PPO_GRPO_LAB_NO_SETUP=1 with PPO_GRPO_LAB_PYTHON / JUPYTER_BOOK to use an existing environment.
# Output: $OUT/_build/html/index.html; the stripped notebooks in $OUT/src/book/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PPO_GRPO_LAB_NO_SETUP:-}" ]; then
    source "$ROOT/tools/setup_env.sh"
fi
PY="${PPO_GRPO_LAB_PYTHON:-python}"
OUT="${PPO_GRPO_LAB_STUDENT_OUT:-$ROOT/_build/student}"
BRANCH="${PPO_GRPO_LAB_STUDENT_BRANCH:-student}"
EXECUTE=1
PAGES=""
while [ $# -gt 0 ]; do
    case "$1" in
        --no-execute) EXECUTE=0; shift ;;
        --pages) PAGES="$2"; shift 2 ;;
        *) break ;;
    esac
done
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
STAGE="$OUT/src"
rm -rf "$STAGE" "$OUT/_build"
mkdir -p "$STAGE/book"
cp "$ROOT/_config.yml" "$ROOT/_toc.yml" "$STAGE/"
(cd "$ROOT/book" && find . -path '*/.ipynb_checkpoints' -prune -o -type f -print | while read -r f; do
    mkdir -p "$STAGE/book/$(dirname "$f")"; cp "$f" "$STAGE/book/$f"; done)
"$PY" "$ROOT/tools/student_notebooks.py" "$STAGE/book" "$ROOT"/book/*.ipynb >/dev/null
"$PY" - "$STAGE" "$EXECUTE" "$ROOT" "$BRANCH" "$PAGES" <<'PYEOF'
import sys
from pathlib import Path

import yaml

stage, execute, root, branch, pages = Path(sys.argv[1]), sys.argv[2] == "1", Path(sys.argv[3]), sys.argv[4], sys.argv[5]
cfg = yaml.safe_load((stage / "_config.yml").read_text())
sphinx = cfg.setdefault("sphinx", {})
sphinx.setdefault("config", {})["hide_solutions"] = True
# no highlighted package source ("[source]" pages of the API): the reference answers live there
sphinx["extra_extensions"] = [e for e in sphinx.get("extra_extensions") or [] if e != "sphinx.ext.viewcode"]
# local extensions live in the repository's tools/: absolute paths
for name, path in (sphinx.get("local_extensions") or {}).items():
    sphinx["local_extensions"][name] = str((root / path).resolve())
cfg["title"] = f"{cfg.get('title', 'Book')} (student edition)"
cfg.setdefault("repository", {})["branch"] = branch  # Colab opens the stripped notebooks
if not execute:
    cfg.setdefault("execute", {})["execute_notebooks"] = "off"
(stage / "_config.yml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
if pages:
    toc = yaml.safe_load((stage / "_toc.yml").read_text())
    chapters = [{"file": p.strip().removesuffix(".ipynb").removesuffix(".md")} for p in pages.split(",") if p.strip()]
    (stage / "_toc.yml").write_text(yaml.safe_dump({"format": toc["format"], "root": toc["root"], "chapters": chapters},
                                                   sort_keys=False))
PYEOF
STRICT=(-W -n)
if [ -n "$PAGES" ]; then STRICT=(); fi
cd "$STAGE"
"${JUPYTER_BOOK:-jupyter-book}" build . --all --path-output "$OUT" "${STRICT[@]}" --keep-going "$@"
echo "[student] open $OUT/_build/html/index.html"
echo "[student] stripped notebooks (publish them on the '$BRANCH' branch for the Colab links): $STAGE/book/"
