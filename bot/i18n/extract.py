"""Finding every message in the source: ``Msg("...")`` and ``translate(locale, "...")`` calls.

An AST walk rather than Babel's keyword extractor, because ``msgctxt`` is a keyword argument here
and because a call whose text is not a literal must be *reported* (it could never be in a
catalogue), not skipped.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_MSG_NAMES = frozenset({"Msg"})
_TRANSLATE_NAMES = frozenset({"translate"})


@dataclass
class SourceMessage:
    msgid: str
    msgctxt: str | None
    locations: list[tuple[str, int]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str | None]:
        return self.msgid, self.msgctxt


@dataclass
class Extraction:
    messages: dict[tuple[str, str | None], SourceMessage] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # "path:line: why" for non-literal calls


def _callee(node: ast.Call) -> str | None:
    """``Msg``/``translate`` called by name or as ``i18n.Msg`` (not ``str.translate``)."""
    if isinstance(node.func, ast.Name):
        return node.func.id
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.attr if func.value.id == "i18n" else None
    return None


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _text_argument(node: ast.Call, name: str) -> ast.expr | None:
    index = 0 if name in _MSG_NAMES else 1
    return node.args[index] if len(node.args) > index else None


def extract_file(path: Path, relative_to: Path, into: Extraction) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(relative_to).as_posix()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        if name not in _MSG_NAMES and name not in _TRANSLATE_NAMES:
            continue
        text = _literal(_text_argument(node, name))
        context_node = next((k.value for k in node.keywords if k.arg == "msgctxt"), None)
        context = _literal(context_node)
        if text is None or (context_node is not None and context is None):
            into.problems.append(f"{where}:{node.lineno}: {name}() needs literal text")
            continue
        entry = into.messages.setdefault((text, context), SourceMessage(text, context))
        entry.locations.append((where, node.lineno))


def extract_tree(roots: Iterable[Path], relative_to: Path) -> Extraction:
    """Every message under ``roots`` (folders of .py files), with where each is used."""
    found = Extraction()
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            if "i18n" in path.relative_to(relative_to).parts:
                continue  # the machinery itself names Msg without being a message
            extract_file(path, relative_to, found)
    return found


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def project_messages() -> Extraction:
    """The messages of ``bot/`` and ``cogs/`` of this checkout."""
    root = project_root()
    return extract_tree([root / "bot", root / "cogs"], root)
