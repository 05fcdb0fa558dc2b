#!/usr/bin/env bash
# Build the student edition of the book: the same pages with every {solution} removed
# (sphinx-exercise's `hide_solutions`), so the exercises and their graded stub cells remain.
# The repository's _config.yml is not touched: a temporary copy gets `hide_solutions: true`
# (and absolute paths for local extensions) and is passed with --config.
#
# Usage: bash tools/build_student_edition.sh [--no-execute] [extra jupyter-book build args]
#   --no-execute   render without running the notebooks (fast; outputs stay empty)
# Output: _build/student/_build/html/index.html
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PPO_GRPO_LAB_NO_SETUP:-}" ]; then
    source "$ROOT/tools/setup_env.sh"
fi
PY="${PPO_GRPO_LAB_PYTHON:-python}"
EXECUTE=1
if [ "${1:-}" = "--no-execute" ]; then EXECUTE=0; shift; fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$PY" - "$ROOT/_config.yml" "$TMP/_config.yml" "$EXECUTE" "$ROOT" <<'PYEOF'
import sys
from pathlib import Path

import yaml

src, dst, execute, root = sys.argv[1], sys.argv[2], sys.argv[3] == "1", Path(sys.argv[4])
cfg = yaml.safe_load(Path(src).read_text())
sphinx = cfg.setdefault("sphinx", {})
sphinx.setdefault("config", {})["hide_solutions"] = True
# local extension paths are resolved relative to the config file: make them absolute
for name, path in (sphinx.get("local_extensions") or {}).items():
    sphinx["local_extensions"][name] = str((root / path).resolve())
cfg["title"] = f"{cfg.get('title', 'Book')} (student edition)"
if not execute:
    cfg.setdefault("execute", {})["execute_notebooks"] = "off"
Path(dst).write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
PYEOF
cd "$ROOT"
"${JUPYTER_BOOK:-jupyter-book}" build . --config "$TMP/_config.yml" --path-output "$ROOT/_build/student" -W -n --keep-going "$@"
echo "[student] open $ROOT/_build/student/_build/html/index.html"
