"""A result link that starts sending and then stalls is given up after the runner's time limit,
with a message naming the limit, and leaves no partial file behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.jobs.download import DownloadError, download_to_file


async def test_a_stalled_result_download_stops_at_its_time_limit(tmp_path: Path) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "4096"})
        await response.prepare(request)
        await response.write(b"\x00" * 1024)  # a quarter of the file, then nothing
        started.set()
        await release.wait()
        return response

    app = web.Application()
    app.router.add_get("/result.mp4", stalls)
    server = web.AppRunner(app, shutdown_timeout=0.2)
    await server.setup()
    await web.TCPSite(server, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{server.addresses[0][1]}/result.mp4"
    dest = tmp_path / "results" / "job.mp4"
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(5):
            with pytest.raises(DownloadError, match=r"longer than 0\.3 s"):
                await download_to_file(http, url, dest, max_bytes=1 << 20, time_limit=0.3)
        assert started.is_set()  # it did stall mid-body, not fail to connect
        assert not dest.exists() and list(dest.parent.iterdir()) == []
    finally:
        release.set()
        await server.cleanup()
