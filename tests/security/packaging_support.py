"""What the packaging tests share: the repository's root, the constraints file, and `pip install`
commands read as a shell would split them (from the README or from a Dockerfile step)."""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = "requirements/constraints.txt"


def shell_steps(command: str) -> Iterator[list[str]]:
    """Each `&&`-joined step of a shell command, split into words."""
    for step in command.split("&&"):
        words = shlex.split(step)
        if words:
            yield words


@dataclass
class PipInstall:
    constraints: list[str] = field(default_factory=list)
    requirement_files: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def pip_install(words: list[str]) -> PipInstall | None:
    start = next((i for i in range(len(words) - 1) if words[i : i + 2] == ["pip", "install"]), None)
    if start is None:
        return None
    found = PipInstall()
    rest = iter(words[start + 2 :])
    for word in rest:
        if word in ("-c", "--constraint"):
            found.constraints.append(next(rest))
        elif word in ("-r", "--requirement"):
            found.requirement_files.append(next(rest))
        elif word.startswith("-"):
            found.flags.add(word)
        else:
            found.targets.append(word)
    return found


def readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    return [line for line in readme.split("```", 2)[1].splitlines() if line.strip()]


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())
