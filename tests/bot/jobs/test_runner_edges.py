from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.jobs.download import DownloadError, download_to_file
from bot.storage import Job, JobState
from tests.bot.jobs.conftest import Rig
from tests.bot.jobs.fakes import new_job


class ExplodingObserver:
    def __init__(self) -> None:
        self.calls = 0

    async def on_state_change(self, job: Job) -> None:
        self.calls += 1
        raise RuntimeError("Discord edit failed")

    async def on_progress(self, job: Job, elapsed: float, estimate: float | None) -> None:
        self.calls += 1
        raise RuntimeError("Discord edit failed")

    async def on_finished(self, job: Job) -> None:
        self.calls += 1
        await asyncio.Event().wait()  # hangs: the runner must give up on it


async def test_a_broken_observer_cannot_stop_a_job(rig: Rig) -> None:
    observer = ExplodingObserver()
    rig.observer = observer  # type: ignore[assignment]
    rig.config = dataclasses.replace(rig.config, observer_time_limit=0.05)
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, JobState.DELIVERED)
    assert observer.calls >= 6
    assert len(rig.deliverer.posted) == 1


async def test_poll_soon_skips_the_wait(rig: Rig) -> None:
    rig.kling.polls_needed = 2
    rig.time.running.clear()  # no virtual time passes unless we say so
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, JobState.SUBMITTED)
    start = rig.time.now
    runner.poll_soon(job.id)
    runner.poll_soon(job.id)  # a second nudge does not add a second poll
    await rig.wait_state(job.id, JobState.PROCESSING)
    await rig.time.quiet()  # virtual time is held, so only nudged polls could have run
    assert rig.time.now == start  # polled without waiting the 5 s
    assert len(rig.kling.gets) == 1
    rig.time.running.set()
    await rig.wait_state(job.id, JobState.DELIVERED)


async def _chunked_server(body: bytes, chunks: int) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()  # no Content-Length: the cap must hold while reading
        await response.prepare(request)
        step = len(body) // chunks
        for i in range(chunks):
            await response.write(body[i * step : (i + 1) * step])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/video.mp4", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/video.mp4"


async def test_download_cap_holds_without_content_length(tmp_path: Path) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    server, url = await _chunked_server(body, 16)
    try:
        async with aiohttp.ClientSession() as http:
            dest = tmp_path / "out" / "video.mp4"
            with pytest.raises(DownloadError, match="cap"):
                await download_to_file(http, url, dest, max_bytes=300_000, time_limit=5)
            assert not dest.exists() and not list(dest.parent.iterdir())
            got = await download_to_file(http, url, dest, max_bytes=len(body), time_limit=5)
            assert got.read_bytes() == body
            with pytest.raises(DownloadError, match="http"):
                await download_to_file(http, "file:///etc/passwd", dest, max_bytes=9, time_limit=5)
    finally:
        await server.cleanup()
