"""No `assert` statement in the bot's own code: `python -O` removes them, so a check that guards a
real condition must raise a proper exception instead (and one that only narrows a type for the
type checker is written as an explicit check too, so no one has to prove it cannot fail)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "cogs")


def asserts_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(REPO)}:{node.lineno}: assert {ast.unparse(node.test)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert)
    ]


def test_the_finder_sees_an_assert() -> None:
    sample = REPO / "tests" / "test_no_runtime_asserts.py"
    assert asserts_in(sample)  # this very file asserts: the walk finds statements, not text


def test_no_assert_statements_in_bot_or_cogs() -> None:
    files = [p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))]
    assert len(files) > 50  # the packages were found
    found = [line for path in files for line in asserts_in(path)]
    assert found == [], "replace each with an explicit check:\n" + "\n".join(found)
