"""`kling-bot check`'s storage and media folder lines: a folder that cannot be created or written
(in the same words `kling-bot run` refuses it with), a database path that is a folder, and what
PostgreSQL storage still needs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import load_config
from bot.startup import storage_problems
from tests.bot.checkup_support import (
    Setup,
    clean_env,
    emulator,
    line,
    setup,
)
from tests.discord_twin.model import TwinGuild

__all__ = ["clean_env", "emulator", "setup"]  # fixtures pytest finds here by name


async def test_storage_folder_that_cannot_be_created(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
) -> None:
    blocker = setup.tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    status, lines = await setup.run(capsys)

    assert status == 1
    assert line(lines, "storage folder") == (
        f"FAIL storage folder: storage folder {blocker} exists but is not a folder: remove it "
        "or change [storage] path"
    )
    assert line(lines, "media folder") == (
        f"FAIL media folder: cannot create the media folder {blocker / 'media'}: {blocker} is "
        "a file, not a folder: move the file away or change [storage] media_dir"
    )
    assert blocker.read_text() == "a file where the data folder should be"


# Folders no one may write into, root included (CI runs as root): a kernel file system.
@pytest.mark.parametrize(
    ("storage", "problem"),
    [
        (
            "/proc/1/bot.sqlite3",
            "FAIL storage folder: the storage folder /proc/1 is not writable by uid {uid} (",
        ),
        (
            "/sys/kling-bot-check/bot.sqlite3",
            "FAIL storage folder: cannot create the storage folder /sys/kling-bot-check (",
        ),
    ],
)
async def test_storage_folder_that_cannot_be_written(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
    storage: str,
    problem: str,
) -> None:
    setup.storage["path"] = storage
    status, lines = await setup.run(capsys)
    assert status == 1
    assert line(lines, "storage folder").startswith(problem.format(uid=os.geteuid()))
    assert line(lines, "storage folder").endswith("or change [storage] path")
    assert line(lines, "media folder").startswith("OK   media folder:")
    # `kling-bot run` refuses the very same folder with the very same words.
    config = load_config(setup.write(), env={})
    assert [line(lines, "storage folder")[len("FAIL storage folder: ") :]] == storage_problems(
        config
    )


async def test_database_path_that_is_a_folder(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
) -> None:
    folder = setup.tmp_path / "db-folder"
    (folder / "bot.sqlite3").mkdir(parents=True)
    setup.storage["path"] = str(folder / "bot.sqlite3")
    status, lines = await setup.run(capsys)
    assert status == 1
    assert line(lines, "storage folder") == (
        f"FAIL storage folder: the database {folder / 'bot.sqlite3'} is a folder: "
        "[storage] path must name a file"
    )


def test_on_postgresql_the_sqlite_file_is_not_required_but_its_folder_is(tmp_path: Path) -> None:
    (tmp_path / "kling-bot.sqlite3").mkdir()  # would be refused as the SQLite database
    env = {
        "KLING_BOT__STORAGE__PATH": str(tmp_path / "kling-bot.sqlite3"),
        "KLING_BOT__STORAGE__MEDIA_DIR": str(tmp_path / "media"),
    }
    on_sqlite = load_config(None, env=env)
    database = tmp_path / "kling-bot.sqlite3"
    assert storage_problems(on_sqlite) == [
        f"the database {database} is a folder: [storage] path must name a file"
    ]
    on_postgres = load_config(None, env={**env, "DATABASE_URL": "postgresql://k:p@127.0.0.1/k"})
    assert storage_problems(on_postgres) == []
