"""The package's shape rules (STYLE.md): one concept per module, no module over 300 lines, no function over 60."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ppo_grpo_lab"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE, MAX_FUNCTION = 300, 60


def long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    """(name, lines) of every function or method of ``source`` longer than ``limit`` lines (``def`` to its end)."""
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit]


def test_the_rule_finds_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    assert long_functions(f"def f():\n{body}\n", MAX_FUNCTION) == [("f", 61)]
    assert long_functions(f"class A:\n    def g(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n", 10)[0][0] == "g"
    assert long_functions("def f():\n    return 1\n", MAX_FUNCTION) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_short(path):
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE, f"{path.name}: {len(source.splitlines())} lines > {MAX_MODULE}"
    assert long_functions(source, MAX_FUNCTION) == [], f"{path.name}: functions over {MAX_FUNCTION} lines"
