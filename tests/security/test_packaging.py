"""The Dockerfile and compose example say what the issue asks, and install like the README."""

from __future__ import annotations

import re
from pathlib import Path

from bot.health import check_heartbeat, write_heartbeat

REPO = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in lines if line and not line.startswith("#")]


def test_dockerfile_runs_slim_non_root_with_data_volume_and_health_check() -> None:
    steps = instructions()
    kinds = [kind for kind, _ in steps]
    base = dict(steps)["FROM"]
    assert re.fullmatch(r"python:3\.11-slim(@sha256:[0-9a-f]+)?", base)
    users = [arg for kind, arg in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert kinds.index("USER") < kinds.index("CMD")
    assert any(kind == "VOLUME" and "/data" in arg for kind, arg in steps)
    health = next(arg for kind, arg in steps if kind == "HEALTHCHECK")
    assert '"kling-bot", "health"' in health
    assert dict(steps)["CMD"] == '["kling-bot", "run"]'


def test_dockerfile_installs_exactly_like_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    first_block = readme.split("```", 2)[1]
    readme_install = re.search(r"pip install (\S+)", first_block)
    assert readme_install is not None
    runs = [arg for kind, arg in instructions() if kind == "RUN"]
    docker_installs = [m.group(1) for run in runs for m in re.finditer(r"pip install (\S+)", run)]
    assert docker_installs == [readme_install.group(1)]


def test_compose_example_takes_secrets_from_the_environment() -> None:
    compose = (REPO / "docker-compose.yml").read_text()
    for name in ("DISCORD_TOKEN", "KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY",
                 "KLING_WEBHOOK_SECRET"):
        assert re.search(rf"^\s+{name}: \$\{{{name}[:?-]", compose, re.M), name
    assert re.search(r"^\s+restart: unless-stopped$", compose, re.M)
    assert re.search(r"^\s+- kling-data:/data$", compose, re.M)


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
