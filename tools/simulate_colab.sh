#!/usr/bin/env bash
# Simulated Colab: run chapters as a student in Colab would, against this repository at HEAD.
#
# 1. A fresh virtual environment holding only what Colab preinstalls and the book needs before its
#    first cell: torch (pinned by constraints.txt: the CPU wheel), numpy, matplotlib, ipykernel.
#    A `google.colab` module is imported at start-up (a .pth file), so the notebooks' Colab guard is
#    true, as in Colab.
# 2. The Colab edition of each chapter (tools/colab_edition.py: what the Colab button opens), with
#    its install cell pointed at this repository as a local git URL at HEAD:
#    %pip install "ppo-grpo-lab @ git+file://localhost<repo>@<HEAD>" (pip rejects a git+file URL with
#    an empty host, git+file:///...). Commit first: the working tree's
#    uncommitted changes are not in HEAD.
# 3. Each notebook runs top to bottom in that environment's kernel (nbclient), from an empty folder
#    (Colab's /content has no repository), in quick mode (PPO_GRPO_LAB_QUICK=1), and must not fail; a
#    last cell checks that `ppo_grpo_lab` came from the fresh environment, not from this checkout.
#
# Usage: bash tools/simulate_colab.sh [CHAPTER ...]   (default: 01_naive_reward 05_grpo)
# Environment: PPO_GRPO_LAB_COLAB_DIR (work folder; default a new temporary one, removed unless
#   PPO_GRPO_LAB_KEEP=1), PPO_GRPO_LAB_PYTHON (the Python that runs nbclient; default .venv/bin/python),
#   PPO_GRPO_LAB_COLAB_REUSE=1 (iterating: reuse the work folder's environment, uninstalling only the package).
# Needs: pip able to reach torch==<constraints.txt>, numpy, matplotlib, ipykernel, gymnasium and tqdm
#   (an index, a wheel cache or a local wheel folder).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOST_PY="${PPO_GRPO_LAB_PYTHON:-$ROOT/.venv/bin/python}"
CHAPTERS=("$@")
[ ${#CHAPTERS[@]} -gt 0 ] || CHAPTERS=(01_naive_reward 05_grpo)
WORK="${PPO_GRPO_LAB_COLAB_DIR:-$(mktemp -d -t colab-sim.XXXXXX)}"
if [ -z "${PPO_GRPO_LAB_COLAB_DIR:-}" ] && [ -z "${PPO_GRPO_LAB_KEEP:-}" ]; then
    trap 'rm -rf "$WORK"' EXIT
fi
REF="$(git -C "$ROOT" rev-parse HEAD)"
if [ -n "$(git -C "$ROOT" status --porcelain -- ppo_grpo_lab pyproject.toml)" ]; then
    echo "[colab-sim] warning: uncommitted changes in the package are not tested (HEAD is installed)" >&2
fi
cd "$WORK"  # never the checkout: there `import ppo_grpo_lab` would find the source tree
t0=$(date +%s)
stamp() { echo "[colab-sim] $(( $(date +%s) - t0 )) s: $*"; }

# -- 1. what Colab has before the first cell
unset PYTHONPATH
BASE_PY="$("$HOST_PY" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')"
VPY="$WORK/venv/bin/python"
if [ -n "${PPO_GRPO_LAB_COLAB_REUSE:-}" ] && [ -x "$VPY" ]; then  # iterating: keep the environment, not the package
    "$VPY" -m pip uninstall -q -y ppo-grpo-lab 2>/dev/null || true
else
    rm -rf "$WORK/venv"
    "$BASE_PY" -m venv "$WORK/venv"
    "$VPY" -m pip install -q -c "$ROOT/constraints.txt" torch numpy matplotlib ipykernel 2> >(grep -v "^WARNING: Location" >&2)
fi
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$SITE/google/colab"
echo '"""Stand-in for Colab'"'"'s module: the notebooks only test that it is imported."""' > "$SITE/google/colab/__init__.py"
echo "import google.colab" > "$SITE/zz_colab_sim.pth"
if "$VPY" -c "import ppo_grpo_lab" 2>/dev/null; then echo "[colab-sim] ppo_grpo_lab importable before the install cell" >&2; exit 1; fi
"$VPY" -m ipykernel install --prefix "$WORK/jupyter" --name colab-sim --display-name "colab-sim" >/dev/null 2>&1
stamp "fresh environment ready: $("$VPY" -c 'import torch, numpy, matplotlib; print("torch", torch.__version__, "numpy", numpy.__version__, "matplotlib", matplotlib.__version__)')"

# -- 2. the Colab edition, installing from this repository at HEAD
mkdir -p "$WORK/content"
paths=()
for c in "${CHAPTERS[@]}"; do paths+=("$ROOT/book/${c%.ipynb}.ipynb"); done
"$HOST_PY" "$ROOT/tools/colab_edition.py" "$WORK/colab" --url "file://localhost$ROOT" --ref "$REF" "${paths[@]}" >/dev/null

# -- 3. run each chapter in the fresh kernel, from an empty folder
export PPO_GRPO_LAB_QUICK=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MPLBACKEND=Agg
export JUPYTER_PATH="$WORK/jupyter/share/jupyter"
for c in "${CHAPTERS[@]}"; do
    name="${c%.ipynb}"
    s=$(date +%s)
    "$HOST_PY" - "$WORK/colab/$name.ipynb" "$WORK/content" "$WORK/venv" <<'PYEOF'
import sys
import time

import nbformat
from nbclient import NotebookClient

path, cwd, venv = sys.argv[1:4]
nb = nbformat.read(path, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(
    "import ppo_grpo_lab, sys\n"
    f"assert ppo_grpo_lab.__file__.startswith({venv!r}), ppo_grpo_lab.__file__\n"
    "assert 'google.colab' in sys.modules\n"
    "print('ppo_grpo_lab from', ppo_grpo_lab.__file__)"))
client = NotebookClient(nb, kernel_name="colab-sim", timeout=900, resources={"metadata": {"path": cwd}})
t = time.monotonic()
with client.setup_kernel():
    for i, cell in enumerate(nb.cells):
        c0 = time.monotonic()
        try:
            client.execute_cell(cell, i)
        except Exception:
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
            print("\n".join(l for l in text.splitlines() if not l.startswith("WARNING: Location")), file=sys.stderr)
            raise
        if i == 0:
            print(f"[colab-sim]   install cell: {time.monotonic() - c0:.1f} s")
print(f"[colab-sim]   {len(nb.cells)} cells in {time.monotonic() - t:.1f} s; {nb.cells[-1].outputs[0]['text'].strip()}")
PYEOF
    stamp "$name passed ($(( $(date +%s) - s )) s)"
done
stamp "simulated Colab: ${#CHAPTERS[@]} chapter(s) passed"
