"""The Dockerfile, the compose example and the entrypoint install and run what the README says.

The image cannot be built here, so these tests read the Dockerfile as Docker would (instructions,
shell steps) and check it against the repository: the same constraints file and extras as the
README's commands, every path it names present, the database inside the volume, and the entrypoint
really giving the data folder away before dropping root.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import DEFAULT_CONFIG_PATH, load_config
from bot.health import heartbeat_path
from tests.security.packaging_support import (
    CONSTRAINTS,
    REPO,
    PipInstall,
    pip_install,
    pyproject,
    readme_commands,
    shell_steps,
)


def instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def docker_installs() -> list[PipInstall]:
    return [
        found
        for kind, arg in instructions()
        if kind == "RUN"
        for words in shell_steps(arg)
        if (found := pip_install(words)) is not None
    ]


# -- the Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_installs_like_the_readme() -> None:
    installs = docker_installs()
    demo_install = pip_install(next(shell_steps(readme_commands()[0])))
    assert demo_install is not None
    # Same pins as the README's commands, for every install in the image.
    assert installs and all(i.constraints == demo_install.constraints for i in installs)
    # The project itself once, with the README's first command's extras (none), its
    # dependencies already in place.
    project = [i for i in installs if i.targets]
    assert [i.targets for i in project] == [demo_install.targets]
    assert "--no-deps" in project[0].flags


def test_dockerfile_installs_the_dependencies_before_copying_the_code() -> None:
    steps = instructions()
    copied_code = min(
        i
        for i, (kind, arg) in enumerate(steps)
        if kind == "COPY" and arg.split()[0] in ("bot", "cogs")
    )
    deps_run = next(i for i, (kind, arg) in enumerate(steps) if kind == "RUN" and "-r " in arg)
    assert deps_run < copied_code
    copied_before = {arg.split()[0] for kind, arg in steps[:deps_run] if kind == "COPY"}
    assert {"pyproject.toml", CONSTRAINTS} <= copied_before
    # The list of dependencies is read from pyproject.toml by the step itself: run that step's
    # Python here and compare with what pyproject.toml says.
    words = list(shell_steps(steps[deps_run][1]))
    python = next(w for w in words if w[:2] == ["python", "-c"])
    listed_into = python[python.index(">") + 1]
    install = next(pip_install(w) for w in words if pip_install(w) is not None)
    assert install is not None and install.requirement_files == [listed_into]
    out = subprocess.run(
        [sys.executable, "-c", python[2]],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert out.splitlines() == pyproject()["project"]["dependencies"]


def test_every_path_the_dockerfile_names_exists() -> None:
    steps = instructions()
    copies = [arg.split() for kind, arg in steps if kind == "COPY"]
    for *sources, _dest in copies:
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    # .dockerignore lets only these into the build (no config.toml, .env or data/).
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    assert "*" in ignore and all(ignore.index("*") < ignore.index(f"!{a}") for a in allowed)
    assert {source for *sources, _dest in copies for source in sources} == allowed
    entrypoint = shlex.split(dict(steps)["ENTRYPOINT"].strip("[]").replace(",", " "))[0]
    script = next(sources[0] for *sources, dest in copies if dest.rstrip("/").endswith(entrypoint))
    assert os.access(REPO / script, os.X_OK)
    assert (REPO / script).read_text().startswith("#!/bin/sh\n")


def test_dockerfile_runs_slim_with_data_volume_and_health_check() -> None:
    steps = instructions()
    base = dict(steps)["FROM"]
    assert re.fullmatch(r"python:3\.11-slim(-bookworm)?(@sha256:[0-9a-f]+)?", base)
    assert all(arg not in ("root", "0") for kind, arg in steps if kind == "USER")
    assert dict(steps)["ENTRYPOINT"] == '["kling-bot-entrypoint"]'
    health = next(arg for kind, arg in steps if kind == "HEALTHCHECK")
    assert '"kling-bot", "health"' in health
    assert dict(steps)["CMD"] == '["kling-bot", "run"]'


def run_dir_and_volume() -> tuple[str, str]:
    steps = instructions()
    workdir = [arg for kind, arg in steps if kind == "WORKDIR"][-1]
    volume = shlex.split(dict(steps)["VOLUME"].strip("[]"))[0]
    return workdir, volume


def test_database_and_media_land_in_the_volume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not in a data/ folder inside the volume (the old /data/data/)."""
    workdir, volume = run_dir_and_volume()
    root = tmp_path / "container"
    run_dir, data_dir = root / workdir.lstrip("/"), root / volume.lstrip("/")
    run_dir.mkdir(parents=True)
    monkeypatch.chdir(run_dir)
    # Environment only, then the example file bind-mounted where the compose example puts it.
    mounted = root / config_mount_target().lstrip("/")
    assert mounted == run_dir / DEFAULT_CONFIG_PATH  # read without --config
    shutil.copy(REPO / "config.example.toml", mounted)
    for config in (load_config(None, env={}), load_config(mounted, env={})):
        assert config.storage.path.parent == data_dir
        assert config.storage.media_dir.parent == data_dir


# -- the compose example ----------------------------------------------------------------------


def compose() -> str:
    return (REPO / "docker-compose.yml").read_text()


def config_mount_target() -> str:
    mount = re.search(r"^\s*#?\s*- \./config\.toml:(\S+?)(:ro)?$", compose(), re.M)
    assert mount is not None, "no config.toml bind mount in docker-compose.yml"
    return mount.group(1)


def test_compose_mounts_the_volume_and_the_config_file() -> None:
    workdir, volume = run_dir_and_volume()
    assert re.search(rf"^\s+- \./data:{re.escape(volume)}$", compose(), re.M)
    assert config_mount_target() == f"{workdir}/{DEFAULT_CONFIG_PATH}"
    assert (REPO / "config.example.toml").is_file()  # what ./config.toml is copied from
    assert re.search(r"^\s+restart: unless-stopped$", compose(), re.M)


def compose_environment(host: dict[str, str]) -> dict[str, str]:
    """The container's environment, `${NAME:-default}` and `${NAME:?error}` filled from `host`."""
    block = compose().split("environment:", 1)[1].split("volumes:", 1)[0]
    env = {}
    for name, value in re.findall(r"^\s+([A-Z_]+): (.+)$", block, re.M):

        def fill(m: re.Match[str]) -> str:
            var, op, word = m.groups()
            if host.get(var):
                return host[var]
            assert op == "-", f"{var} is required"
            return word

        env[name] = re.sub(r"\$\{(\w+):([-?])([^}]*)\}", fill, value)
    return env


def test_compose_uses_the_real_provider_with_the_documented_variables() -> None:
    for name in (
        "DISCORD_TOKEN",
        "KLING_PROVIDER",
        "KLING_API_KEY",
        "KLING_ACCESS_KEY",
        "KLING_SECRET_KEY",
        "KLING_WEBHOOK_SECRET",
    ):
        assert re.search(rf"^\s+{name}: \$\{{{name}[:?-]", compose(), re.M), name
    host = {
        "DISCORD_TOKEN": "MTA5ODc2NTQzMjE.GxYz12.abcdefghijklmnopqrstuvwxyz0123456789AB",
        "KLING_ACCESS_KEY": "ak-4f1c2d9e",
        "KLING_SECRET_KEY": "sk-8b7a6c5d",
    }
    config = load_config(None, env=compose_environment(host))
    assert config.kling.provider == "kling"
    assert config.kling.access_key is not None and config.kling.access_key.reveal() == "ak-4f1c2d9e"
    with pytest.raises(AssertionError, match="DISCORD_TOKEN is required"):
        compose_environment({})


def shard_environments(host: dict[str, str]) -> dict[str, dict[str, str]]:
    """The environment of each bot service of the compose 'scale' profile (the first one's block
    is the anchor the others merge in), `${...}` filled from `host` as above."""
    services = re.split(
        r"^  (?=[a-z0-9-]+:(?: &[\w-]+)?\n)", compose().split("\nservices:\n", 1)[1], flags=re.M
    )
    blocks = {block.split(":", 1)[0]: block for block in services if block.strip()}
    shared: dict[str, str] = {}
    found: dict[str, dict[str, str]] = {}
    for name, block in blocks.items():
        if not name.startswith("kling-bot-shard-"):
            continue
        own = dict(re.findall(r"^      ([A-Z_]+): (.+)$", block, re.M))
        if "&shard-environment" in block:
            shared = own
        found[name] = own
    filled = {}
    for name, own in found.items():
        env = {}
        for key, value in {**shared, **own}.items():
            env[key] = re.sub(
                r"\$\{(\w+):[-?]([^}]*)\}", lambda m: host.get(m[1]) or m[2], value
            ).strip('"')
        filled[name] = env
    return filled


def test_compose_shard_processes_share_the_data_but_each_has_its_own_heartbeat() -> None:
    host = {"DISCORD_TOKEN": "MTA5ODc2NTQzMjE.GxYz12.abcdef", "POSTGRES_PASSWORD": "pw-1f2e"}
    configs = {name: load_config(None, env=env) for name, env in shard_environments(host).items()}
    assert len(configs) == 2, sorted(configs)
    # One bot: the same database and media folder, the shards split between the processes.
    assert len({c.storage.url.reveal() for c in configs.values() if c.storage.url}) == 1
    assert len({c.storage.media_dir for c in configs.values()}) == 1
    assert sorted(c.discord.shards.ids or () for c in configs.values()) == [(0,), (1,)]
    # `kling-bot health` (the image's health check) reads its own process's heartbeat: a shared
    # file would report one process healthy while the other's heartbeat is fresh.
    heartbeats = {heartbeat_path(c.storage.path) for c in configs.values()}
    assert len(heartbeats) == len(configs), heartbeats


# -- the entrypoint ---------------------------------------------------------------------------

ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="the entrypoint's root branch needs root and setpriv, as in the image",
)


@pytest.fixture
def host_folder() -> Iterator[Path]:
    """A folder under /tmp that other users may enter (pytest's tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="entrypoint-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base)


def entrypoint(
    command: list[str],
    data: Path,
    *,
    as_user: int | None = None,
    puid: int = 10001,
    pgid: int = 10002,
) -> subprocess.CompletedProcess[str]:
    prefix = (
        []
        if as_user is None
        else ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups", "--"]
    )
    env = {**os.environ, "DATA_DIR": str(data), "PUID": str(puid), "PGID": str(pgid)}
    return subprocess.run(
        [*prefix, "sh", str(ENTRYPOINT), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@needs_root
def test_entrypoint_gives_a_root_owned_bind_mount_to_the_bot_then_drops_root(
    host_folder: Path,
) -> None:
    data = host_folder / "data"  # as Docker creates a missing bind-mount source: root's
    (data / "media").mkdir(parents=True)
    (data / "kling-bot.sqlite3").write_bytes(b"")
    result = entrypoint(["sh", "-c", 'id -u; id -G; touch "$DATA_DIR/media/new"'], data)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10001", "10002"]  # no root, no supplementary groups
    for path in [data, *data.rglob("*")]:
        assert (path.stat().st_uid, path.stat().st_gid) == (10001, 10002), path
    assert (data / "media" / "new").exists()


@needs_root
def test_entrypoint_creates_a_missing_data_folder(host_folder: Path) -> None:
    data = host_folder / "absent"
    result = entrypoint(["id", "-u"], data, puid=10005, pgid=10005)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "10005"
    assert (data.stat().st_uid, data.stat().st_gid) == (10005, 10005)


@needs_root
def test_entrypoint_started_as_another_user_changes_nothing(host_folder: Path) -> None:
    data = host_folder / "data"
    data.mkdir()
    result = entrypoint(["id", "-u"], data, as_user=10003)
    assert result.returncode == 0, result.stderr
    assert (result.stdout.strip(), result.stderr) == ("10003", "")
    assert data.stat().st_uid == 0
