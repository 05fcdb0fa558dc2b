"""No answer above its question: nothing before a graded exercise shows that exercise's answer.

For every graded exercise, the cells before its exercise cell (tests/test_exercise_cells.py),
sources and outputs, must not

- display the package functions that hold its math (``ANSWERS``: kernels, reference loops,
  and public functions that compute inline): no ``inspect.getsource``/``getsourcelines`` of them,
  no ``inspect.getmodule(f)._kernel``, no ``literalinclude`` of their module or ``:pyobject:``;
- contain one of their statements, or of the grader's reference, pasted (compared with spaces
  removed, statements of 16 characters or more, input checks left out).

Public wrappers that only check their inputs and call the kernel may be shown (their docstring
states the equation, which the exercise states anyway), as may callers such as a trainer's step.
A display moved after the exercise ("compare your solution") is fine.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import textwrap
from pathlib import Path

import pytest
from test_exercise_cells import exercise_cell

from ppo_grpo_lab.exercises import CHAPTERS, NAMES
from ppo_grpo_lab.exercises import references as R

BOOK = Path(__file__).resolve().parents[1] / "book"

ANSWERS: dict[str, tuple[str, ...]] = {
    "reinforce_loss": ("ppo_grpo_lab.bandit.gradients.reinforce_loss",
                       "ppo_grpo_lab.policy_gradient._naive_policy_gradient_loss"),
    "baseline_advantage": ("ppo_grpo_lab.bandit.baselines._critic",),
    "clipped_surrogate": ("ppo_grpo_lab.surrogate._clipped_surrogate", "ppo_grpo_lab.surrogate._clipped_objective"),
    "kl_k3": ("ppo_grpo_lab.kl._kl_k3",),
    "group_advantages": ("ppo_grpo_lab.group._group_advantages",),
    "discounted_returns": ("ppo_grpo_lab.returns._discounted_returns",),
    "td_residuals": ("ppo_grpo_lab.td._td_residuals",),
    "gae": ("ppo_grpo_lab.gae._gae", "ppo_grpo_lab.gae.gae_loop"),
    "q_from_v": ("ppo_grpo_lab.mdp.q_from_v", "ppo_grpo_lab.mdp.policy_evaluation_loop"),
    "value_loss": ("ppo_grpo_lab.value._value_loss",),
    "n_step_advantages": ("ppo_grpo_lab.nstep._n_step_advantages", "ppo_grpo_lab.nstep.n_step_advantages_loop"),
    "aggregate_grpo": ("ppo_grpo_lab.aggregation._aggregate_grpo",),
    "bradley_terry_loss": ("ppo_grpo_lab.llm.reward_model.bradley_terry_loss",),
}
# The capstones assemble earlier exercises' pieces; what must not show is their assembly (the trainer's
# policy step; the reference). For grpo_step that is also the body of grpo_loss and the trainer's
# GRPOTrainer._optimise: chapter 11 shows the recipe as pseudocode before the exercise and their source after it.
ANSWERS.update({"ppo_update": ("ppo_grpo_lab.bandit.trainer._policy_step",),
                "grpo_step": ("ppo_grpo_lab.exercises.references.grpo_step", "ppo_grpo_lab.llm.grpo_loss.grpo_loss",
                              "ppo_grpo_lab.llm.grpo.GRPOTrainer._optimise")})
ANSWERS["process_advantages"] = ("ppo_grpo_lab.process.process_advantages", "ppo_grpo_lab.process.normalize_step_rewards",
                                 "ppo_grpo_lab.process.step_rewards_to_tokens",
                                 "ppo_grpo_lab.process.process_advantages_loop")
DISPLAY_CALLS = {"getsource", "getsourcelines", "getmodule", "getfile"}
VALIDATION = re.compile(r"^(\w+\s*(,\s*\w+)*\s*=\s*)?(_?check\w*|as_tensor|_validate|_checked)\(")
MIN_LEN = 16


def _resolve(path: str):
    """The object a dotted path names: a module's attribute, or a class's (``pkg.mod.Class.method``)."""
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"cannot resolve {path}")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _statements(fn) -> set[str]:
    """The function's simple statements (docstring and input checks left out), spaces removed."""
    src = textwrap.dedent(inspect.getsource(fn))
    tree = ast.parse(src)
    func = tree.body[0]
    out = set()
    for node in ast.walk(func):
        if node is func or not isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        for text in (ast.unparse(node), ast.get_source_segment(src, node) or ""):
            if text and not VALIDATION.match(text.strip()) and len(_squash(text)) >= MIN_LEN:
                out.add(_squash(text))
    return out


def _answer_statements(name: str) -> set[str]:
    stmts = set()
    for path in ANSWERS[name]:
        stmts |= _statements(_resolve(path))
    return stmts | _statements(R.REFERENCES[name])


def _displayed_names(src: str) -> set[str]:
    """Names and attributes inside the arguments of getsource/getmodule/... calls, and after getmodule(...)."""
    src = re.sub(r"(?m)^(\s*)[%!].*$", r"\1pass", src)  # IPython magics and shell lines
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return {"<a code cell that is not Python: cannot be checked>"}
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            fname = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if fname in DISPLAY_CALLS:
                for arg in node.args:
                    out |= {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
                    out |= {n.attr for n in ast.walk(arg) if isinstance(n, ast.Attribute)}
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call):
            f = node.value.func
            if (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")) == "getmodule":
                out.add(node.attr)
    return out


def _text(cell: dict) -> str:
    def join(s):
        return "".join(s) if isinstance(s, list) else (s or "")
    parts = [join(cell.get("source", ""))]
    for out in cell.get("outputs", []):
        parts.append(join(out.get("text", "")))
        for value in (out.get("data") or {}).values():
            parts.append(join(value) if isinstance(value, (list, str)) else "")
    return "\n".join(parts)


def problems_above(cells: list[dict], name: str, upto: int) -> list[str]:
    """What in cells[:upto] gives exercise ``name``'s answer away (empty: nothing)."""
    short = {p.rsplit(".", 1)[1] for p in ANSWERS[name]}
    modules = {inspect.getmodule(_resolve(p)).__name__.rsplit(".", 1)[-1] for p in ANSWERS[name]}
    stmts = _answer_statements(name)
    found = []
    for i, cell in enumerate(cells[:upto]):
        text = _text(cell)
        if cell["cell_type"] == "code":
            names = _displayed_names(_text({"source": cell.get("source", "")}))
            shown = {n for n in names if n in short or n.startswith("<")}
            if shown:
                found.append(f"cell {i} displays {sorted(shown)}")
        for m in re.finditer(r"literalinclude(?:::|\})[ \t]*(?P<path>\S+)(?P<opts>(?:\n\s*:[^\n]*)*)", text):
            target = Path(m.group("path")).stem
            obj = re.search(r":pyobject:\s*(\S+)", m.group("opts"))
            if (obj and obj.group(1) in short) or (not obj and target in modules):
                found.append(f"cell {i} literalincludes {m.group(0).split()[1]}")
        squashed = _squash(text)
        pasted = sorted(s for s in stmts if s in squashed)
        if pasted:
            found.append(f"cell {i} contains the answer's code {pasted}")
    return found


@pytest.mark.parametrize("name", NAMES)
def test_no_answer_above_the_exercise(name):
    path = next(BOOK.glob(f"{CHAPTERS[name]:02d}_*.ipynb"))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    i = exercise_cell(cells, name)
    if i is None:
        pytest.skip(f"{path.name}: no exercise cell for {name} (tests/test_exercise_cells.py reports it)")
    found = problems_above(cells, name, i)
    assert not found, (f"{path.name}: the answer to {name} is shown before its exercise (cell {i}): {found}; "
                       f"show the equation or another part of the package, or move the display after the exercise")


def test_every_exercise_has_answers_that_resolve():
    assert set(ANSWERS) == set(NAMES)
    for name in NAMES:
        assert _answer_statements(name), name  # something to look for


def _code(src: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "outputs": [], "source": src}


@pytest.mark.parametrize("shown", [
    "display(Code(inspect.getsource(inspect.getmodule(kl_k3)._kl_k3)))",
    "import ppo_grpo_lab.kl as kl\nprint(inspect.getsource(kl._kl_k3))",
    "log_rho = ref_log_probs - log_probs\nk3 = torch.expm1(log_rho) - log_rho",
])
def test_the_check_catches_a_shown_answer(shown):
    cells = [_code(shown), _code("def kl_k3(log_probs, ref_log_probs):\n    pass")]
    assert problems_above(cells, "kl_k3", 1)
    assert not problems_above(cells, "kl_k3", 0)


def test_the_check_catches_a_literalinclude_and_an_output():
    md = {"cell_type": "markdown", "metadata": {},
          "source": "```{literalinclude} ../ppo_grpo_lab/gae.py\n:pyobject: gae_loop\n```"}
    assert problems_above([md], "gae", 1)
    out = _code("show()")
    out["outputs"] = [{"output_type": "stream", "name": "stdout", "text": inspect.getsource(_resolve("ppo_grpo_lab.td._td_residuals"))}]
    assert problems_above([out], "td_residuals", 1)
    fine = _code("display(Code(inspect.getsource(clipped_surrogate)))\nloss, stats = clipped_surrogate(lp, old, adv, clip_eps=0.2)")
    assert not problems_above([fine], "clipped_surrogate", 1)


def test_the_check_catches_the_bradley_terry_loss_shown_before_its_exercise():
    """Chapter 14 once printed the package's loss right above its exercise: that display, or its code pasted, is caught."""
    shown = _code("print(inspect.getsource(bradley_terry_loss))")
    pasted = _code("margin = r_chosen - r_rejected\nloss = F.softplus(-margin).mean()")
    for cell in (shown, pasted):
        assert problems_above([cell], "bradley_terry_loss", 1)
    assert not problems_above([_code("loss, stats = bradley_terry_loss(torch.tensor([2.0]), torch.zeros(1))")],
                              "bradley_terry_loss", 1)


@pytest.mark.parametrize("shown", ["print(inspect.getsource(grpo_loss))",
                                   "print(inspect.getsource(llm.GRPOTrainer._optimise))"])
def test_the_check_catches_the_grpo_recipe_above_the_capstone(shown):
    cells = [_code(shown), _code("def grpo_step(policy, reference, optimizer):\n    pass")]
    assert problems_above(cells, "grpo_step", 1)
