"""Media retention: old media goes, media that live sessions and unfinished jobs need stays."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.retention import sweep_forever, sweep_media
from bot.storage import JobKind, JobState, NewJob, Store
from tests.bot.storage.conftest import new_session

DAY = 86400


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.sqlite3")
    try:
        yield opened
    finally:
        with contextlib.suppress(Exception):  # a test may have closed it on purpose
            await opened.close()


def media_file(path: Path, *, age_days: float, size: int = 1000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    old = time.time() - age_days * DAY
    os.utime(path, (old, old))
    return path


async def finished_job(store: Store, result: Path, state: JobState) -> str:
    job = await store.create_job(
        NewJob(
            kind=JobKind.ANIMATE,
            guild_id=1,
            channel_id=2,
            requester_id=3,
            request={"image_paths": []},
        )
    )
    await store.transition_job(
        job.id, from_states=[JobState.QUEUED], to=state, result_path=str(result)
    )
    return job.id


async def test_old_media_goes_and_what_live_work_needs_stays(store: Store, tmp_path: Path) -> None:
    media = tmp_path / "media"
    # An active session: its video and frame cache are old but still needed for its board.
    live_video = media_file(media / "videos" / "live.mp4", age_days=40)
    live = await store.start_session(replace(new_session(), local_path=str(live_video)))
    live_frame = media_file(media / "sessions" / str(live.id) / "frames" / "0.jpg", age_days=40)
    # An ended session's video and frames: old, nobody needs them.
    ended_video = media_file(media / "videos" / "ended.mp4", age_days=40)
    ended = await store.start_session(
        replace(new_session(channel_id=99), local_path=str(ended_video))
    )
    await store.end_session(ended.id)
    ended_frame = media_file(media / "sessions" / str(ended.id) / "frames" / "3.jpg", age_days=40)
    # A queued job's reference image is old but the job still needs it.
    queued_image = media_file(media / "jobs" / "abc" / "ref.png", age_days=40)
    await store.create_job(
        NewJob(
            kind=JobKind.ANIMATE,
            guild_id=1,
            channel_id=2,
            requester_id=3,
            request={"image_paths": [str(queued_image)]},
        )
    )
    # A delivered job's result copy past retention, and a fresh one.
    old_result = media_file(media / "results" / "old.mp4", age_days=31, size=5000)
    old_job = await finished_job(store, old_result, JobState.FAILED)
    new_result = media_file(media / "results" / "new.mp4", age_days=2)
    new_job = await finished_job(store, new_result, JobState.FAILED)
    # The emulator's own folder is not ours to clean.
    emulator_file = media_file(media / "emulator" / "task.mp4", age_days=90)

    report = await sweep_media(store, media, retention_days=30)

    assert not ended_video.exists() and not ended_frame.exists() and not old_result.exists()
    assert not (media / "sessions" / str(ended.id)).exists()  # emptied folders go too
    for kept in (live_video, live_frame, queued_image, new_result, emulator_file):
        assert kept.exists(), kept
    assert report.files_removed == 3
    assert report.bytes_freed == 1000 + 1000 + 5000
    assert report.results_forgotten == 1
    assert (await store.get_job(old_job)).result_path is None
    assert (await store.get_job(new_job)).result_path == str(new_result)

    # A second sweep finds nothing more to do.
    again = await sweep_media(store, media, retention_days=30)
    assert (again.files_removed, again.results_forgotten) == (0, 0)


async def test_missing_media_folder_is_not_an_error(store: Store, tmp_path: Path) -> None:
    report = await sweep_media(store, tmp_path / "nowhere", retention_days=30)
    assert report.files_removed == 0


async def test_the_periodic_sweep_survives_a_failure(store: Store, tmp_path: Path) -> None:
    media = tmp_path / "media"
    stale = media_file(media / "videos" / "stale.mp4", age_days=60)
    sweeps = 0

    async def fake_sleep(_seconds: float) -> None:
        nonlocal sweeps
        sweeps += 1
        if sweeps == 1:
            # Break the next sweep: the loop must log it and carry on.
            await store.close()
        if sweeps == 3:
            raise asyncio.CancelledError

    with contextlib.suppress(asyncio.CancelledError):
        await sweep_forever(store, media, retention_days=30, sleep=fake_sleep)
    assert not stale.exists()
    assert sweeps == 3
