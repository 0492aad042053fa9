"""What the `kling-bot migrate-db` tests share: a bot's SQLite file filled through the Store, the
command run in-process (never printing the password or a traceback), and the copy read back from
PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.cli import main
from bot.storage import JobKind, JobState, NewJob, NewSession, Store, VideoInfo
from tests.bot.storage.conftest import ManualClock

GUILD = 1_234_567_890_123_456_789  # 63-bit Discord ids
OTHER_GUILD = 9_223_372_036_854_775_807  # the largest 63-bit id
ALICE = 987_654_321_098_765_432
PASSWORD = "Pa:ss@w%rd/42"  # characters a URL must escape
QUOTED_PASSWORD = "Pa%3Ass%40w%25rd%2F42"
# Coordinates whose last bits a 32-bit or decimal round trip would change.
AWKWARD = [
    (0.1 + 0.2, 1 / 3),
    (math.nextafter(0.5, 1.0), 5e-324),
    (0.9999999999999999, 2.220446049250313e-16),
    (0.0, 1.0),
]


def with_password(url: str) -> str:
    """The test cluster trusts loopback, so any password is accepted: and must never show."""
    parts = urlsplit(url)
    netloc = f"{parts.username}:{QUOTED_PASSWORD}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["migrate-db", *args])
    out, err = capsys.readouterr()
    for text in (out, err):
        assert PASSWORD not in text and QUOTED_PASSWORD not in text
        assert "Traceback" not in text
    return status, out, err


def session(channel: int, *, emoji: str = "") -> NewSession:
    return NewSession(
        guild_id=GUILD,
        channel_id=channel,
        created_by=ALICE,
        video=VideoInfo(fps=29.97002997002997, width=1920, height=1080, total_frame=301,
                        duration=10.043366666666667),
        source_message_id=OTHER_GUILD - channel,
        source_url=f"https://cdn.example/clip{emoji}.mp4",
        source_attachment_id=None,
        local_path=f"/media/séance {emoji}.mp4",
    )  # fmt: skip


async def fill(path: Path) -> None:
    """Everything the bot keeps, written the way the bot writes it."""
    clock = ManualClock(1_760_000_000.123456)
    store = await Store.open(path, clock=clock)
    try:
        first = await store.start_session(session(111, emoji="🎬✨"))
        second = await store.start_session(session(222))
        await store.add_points(first.id, 0, AWKWARD[:2], added_by=ALICE, masks=[{"rle": "a"}])
        await store.add_points(first.id, 7, AWKWARD[2:], added_by=OTHER_GUILD)
        await store.set_frame_masks(second.id, 3, [{"rle": "🙂", "size": [1080, 1920]}])
        await store.set_kling_session(
            first.id, kling_session_id="k-1", expires_at=1_760_003_600.5, normalized_video=None
        )
        await store.end_session(second.id)
        third = await store.start_session(session(222))  # a new active one where one ended
        await store.mark_selection_unsure(third.id)
        jobs = []
        for n, kind in enumerate([JobKind.EDIT_REMOVAL, JobKind.EDIT_SWAP, JobKind.ANIMATE]):
            clock.now += 1.5
            jobs.append(
                await store.create_job(
                    NewJob(kind, GUILD, 111, ALICE, {"prompt": f"ünïcode 🚗 {n}"}, first.id)
                )
            )
        done, failed, _waiting = jobs
        for to in (JobState.SUBMITTING, JobState.SUBMITTED):
            clock.now += 0.25
            await store.transition_job(done.id, from_states=list(JobState), to=to)
        await store.transition_job(
            done.id, from_states=[JobState.SUBMITTED], to=JobState.SUCCEEDED,
            detail="Kling finished", units=0.7000000000000001, kling_task_id="task-1",
            result_url="https://kling.example/r.mp4",
        )  # fmt: skip
        await store.claim_delivery(done.id)
        await store.mark_delivered(done.id, OTHER_GUILD - 1)
        await store.transition_job(
            failed.id, from_states=[JobState.QUEUED], to=JobState.FAILED, detail="refused: 🙅"
        )
        await store.update_settings(
            GUILD, submit_role_id=OTHER_GUILD, daily_jobs_per_member=None, default_mode="pro",
            disabled_channels={333, OTHER_GUILD},
        )  # fmt: skip
        await store.update_settings(OTHER_GUILD, sessions_in_threads=True)
        await store.get_or_create_secret("picker-signing-key", lambda: "s3cret-ключ")
    finally:
        await store.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "kling-bot.sqlite3"
    asyncio.run(fill(path))
    return path


async def postgres_rows(url: str, tables: list[str], keys: dict[str, str]) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        found = {}
        for table in tables:
            query = f'SELECT * FROM "{table}" ORDER BY {keys[table]}'  # noqa: S608
            found[table] = [dict(row) for row in await conn.fetch(query)]
        return found
    finally:
        await conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The order SQLite numbered each table's rows in, as a PostgreSQL ORDER BY.
ORDER = {
    "sessions": "id",
    "points": "id",
    "frame_masks": "session_id, frame_index",
    "jobs": "seq",
    "job_events": "id",
    "guild_settings": "guild_id",
    "disabled_channels": "guild_id, channel_id",
    "bot_secrets": "name",
}
