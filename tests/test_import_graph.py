"""The import graph of `bot/` and `cogs/`: no circles, no Discord in `bot/`, and no import hidden
inside a function to get round a circle.

Every module's imports are read with `ast` (function-level ones too; those under
`if TYPE_CHECKING:` never run and are left out of the circles, not of the Discord rule).
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "cogs")

# The one import of cogs/ from bot/: the command line starts Discord only when asked to, so
# `bot/` stays importable (and testable) without discord.py.
DEFERRED_ALLOWED = {("bot.cli", "cogs.core.app")}
# The command line loads each subcommand's modules only when that subcommand runs (a quick
# `--help`); nowhere else may an import hide in a function.
LAZY_MODULES = ("bot.cli",)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))
    }


class Import:
    def __init__(self, target: str, line: int, *, deferred: bool, type_only: bool) -> None:
        self.target, self.line, self.deferred, self.type_only = target, line, deferred, type_only


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = name.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def visit(node: ast.AST, *, deferred: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name, child.lineno, deferred=deferred, type_only=type_only)
            elif isinstance(child, ast.ImportFrom):
                source = resolve(child)
                for alias in child.names:
                    full = f"{source}.{alias.name}"
                    target = full if full in known else source
                    yield Import(target, child.lineno, deferred=deferred, type_only=type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                yield from visit(child, deferred=deferred, type_only=True)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from visit(child, deferred=True, type_only=type_only)
            else:
                yield from visit(child, deferred=deferred, type_only=type_only)

    yield from visit(tree, deferred=False, type_only=False)


Graph = dict[str, set[str]]


def project_graph() -> tuple[Graph, dict[str, list[Import]]]:
    known = modules()
    found = {name: list(imports_of(name, path, known)) for name, path in known.items()}
    graph: Graph = {name: set() for name in known}
    for name, imports in found.items():
        for imp in imports:
            if imp.target in known and not imp.type_only and imp.target != name:
                graph[name].add(imp.target)
    return graph, found


def circle_in(graph: Graph) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_no_import_circles() -> None:
    graph, _ = project_graph()
    circle = circle_in(graph)
    assert circle is None, "import circle: " + " <- ".join(circle or [])


def test_bot_never_imports_discord() -> None:
    _, found = project_graph()
    offenders = [
        f"{name}:{imp.line} imports {imp.target}"
        for name, imports in found.items()
        if name.split(".")[0] == "bot"
        for imp in imports
        if imp.target.split(".")[0] in ("discord", "cogs")
        and (name, imp.target) not in DEFERRED_ALLOWED
    ]
    assert not offenders, "\n".join(offenders)


def test_no_project_import_hidden_in_a_function() -> None:
    # Circles through function-level imports already fail test_no_import_circles.
    _, found = project_graph()
    known = modules()
    deferred = [
        f"{name}:{imp.line} imports {imp.target} inside a function"
        for name, imports in found.items()
        if name not in LAZY_MODULES
        for imp in imports
        if imp.deferred and imp.target in known
    ]
    assert not deferred, "\n".join(deferred)


def test_the_rules_see_what_they_forbid(tmp_path: Path) -> None:
    # The walker itself: a function-level import, a TYPE_CHECKING one and a relative one.
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nfrom . import sibling\n"
        "if TYPE_CHECKING:\n    import discord\n"
        "def f():\n    from cogs.core import app\n"
    )
    known = {"pkg.mod": source, "pkg.sibling": source, "cogs.core.app": source}
    seen = {(i.target, i.deferred, i.type_only) for i in imports_of("pkg.mod", source, known)}
    assert ("pkg.sibling", False, False) in seen
    assert ("discord", False, True) in seen
    assert ("cogs.core.app", True, False) in seen
    assert circle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert circle_in({"a": {"b"}, "b": {"c"}, "c": set()}) is None
