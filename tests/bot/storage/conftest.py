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


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def store(db_path: Path, clock: ManualClock) -> AsyncIterator[Store]:
    opened = await Store.open(db_path, clock=clock)
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
