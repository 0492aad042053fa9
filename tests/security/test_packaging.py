"""The README's install commands, the pins and the command table say what the project really needs
and has: the constraints file pins every dependency exactly, for every supported Python, the
commands install with it, and `kling-bot health` follows the heartbeat the README describes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.cli import build_parser
from bot.health import check_heartbeat, write_heartbeat
from tests.security.packaging_support import (
    CONSTRAINTS,
    REPO,
    pip_install,
    pyproject,
    readme_commands,
    shell_steps,
)

# -- the README's commands and the pins -----------------------------------------------------


def test_readme_commands_install_with_the_pins() -> None:
    demo, tests = readme_commands()  # .ci/run reads exactly these two lines
    demo_install = pip_install(next(shell_steps(demo)))
    tests_install = pip_install(next(shell_steps(tests)))
    assert demo_install is not None and tests_install is not None
    assert demo_install.constraints == [CONSTRAINTS] and demo_install.targets == ["."]
    assert tests_install.constraints == [CONSTRAINTS] and tests_install.targets == [".[test]"]
    assert "kling-bot demo" in demo and "python -m pytest" in tests
    assert (REPO / CONSTRAINTS).is_file()
    ci = (REPO / ".ci" / "run").read_text()
    assert f"pip install --quiet -c {CONSTRAINTS} ruff" in ci


def pins() -> list[tuple[str, str, str]]:
    """(canonical name, version, marker) of every pin in the constraints file."""
    found = []
    for line in (REPO / CONSTRAINTS).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, _, marker = line.partition(";")
        name, sep, version = requirement.strip().partition("==")
        assert sep and re.fullmatch(r"[\w.!+]+", version.strip()), f"not an exact pin: {line}"
        found.append((canonicalize_name(name), version.strip(), marker.strip()))
    return found


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_pins_cover_every_dependency_of_pyproject(python: str) -> None:
    project = pyproject()["project"]
    named = [Requirement(r) for r in project["dependencies"]]
    named += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    env = {**default_environment(), "python_version": python, "python_full_version": f"{python}.0"}
    active: dict[str, list[str]] = {}
    for name, version, marker in pins():
        if not marker or Requirement(f"x; {marker}").marker.evaluate(env):  # type: ignore[union-attr]
            active.setdefault(name, []).append(version)
    for requirement in named:
        versions = active.get(canonicalize_name(requirement.name))
        assert versions is not None, f"{requirement.name} is not pinned for Python {python}"
        assert len(versions) == 1, f"{requirement.name} pinned twice: {versions}"
        assert requirement.specifier.contains(versions[0]), f"{requirement} vs {versions[0]}"


def test_readme_says_how_to_refresh_the_pins() -> None:
    header = (REPO / CONSTRAINTS).read_text().splitlines()[:3]
    command = next(line.lstrip("# ").strip() for line in header if "pip compile" in line)
    assert command in (REPO / "README.md").read_text()
    for extra in pyproject()["project"]["optional-dependencies"]:
        assert f"--extra {extra}" in command


# -- the README's command table and the health check ----------------------------------------


def test_every_command_is_in_the_readme_table() -> None:
    readme = (REPO / "README.md").read_text()
    table = readme.split("### Command line", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `kling-bot ")]
    documented = {row.split("`")[1].split()[1] for row in rows}
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert documented == set(sub.choices), "README's command table vs `kling-bot --help`"  # type: ignore[arg-type]
    assert "health" in documented


def test_health_follows_the_heartbeat(tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat.json"
    assert not check_heartbeat(beat).healthy
    write_heartbeat(beat, connected=True, servers=3, clock=lambda: 1_000.0)
    assert check_heartbeat(beat, clock=lambda: 1_010.0).healthy
    assert "stuck" in check_heartbeat(beat, clock=lambda: 1_100.0).reason
    write_heartbeat(beat, connected=False, clock=lambda: 1_000.0)
    assert "not connected" in check_heartbeat(beat, clock=lambda: 1_001.0).reason
    beat.write_text("{half")
    assert not check_heartbeat(beat).healthy
