from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import NewSession, Store, VideoInfo

GUILD = 1_000_000_000_000_000_001
CHANNEL = 1_100_000_000_000_000_002
ALICE = 900_000_000_000_000_001
BOB = 900_000_000_000_000_002


class ManualClock:
    def __init__(self, now: float = 1_760_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test of a store runs on both backends, except those about the SQLite file itself
    (they ask for ``db_path``)."""
    if "backend" in metafunc.fixturenames:
        sqlite_only = "db_path" in metafunc.fixturenames
        metafunc.parametrize("backend", ["sqlite"] if sqlite_only else ["sqlite", "postgresql"])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
def db_where(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str | Path:
    """What ``Store.open`` is given: the SQLite file, or a fresh PostgreSQL database's URL."""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def store(db_where: str | Path, clock: ManualClock) -> AsyncIterator[Store]:
    opened = await Store.open(db_where, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


def new_session(
    channel_id: int = CHANNEL, *, by: int = ALICE, total_frame: int = 150
) -> NewSession:
    return NewSession(
        guild_id=GUILD,
        channel_id=channel_id,
        created_by=by,
        video=VideoInfo(fps=30.0, width=1280, height=720, total_frame=total_frame, duration=5.0),
        source_message_id=42,
        source_url="https://cdn.example/attachments/1/2/clip.mp4",
        source_attachment_id=43,
        local_path="/media/clip.mp4",
    )
