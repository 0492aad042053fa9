"""`run_emulator` (`kling-bot emulator`) serves until cancelled; the app factory stands alone."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.kling.emulator import EmulatorConfig, create_emulator_app, run_emulator


async def test_run_emulator_serves_until_cancelled(
    capsys: pytest.CaptureFixture[str], http: aiohttp.ClientSession
) -> None:
    serving = asyncio.create_task(run_emulator("127.0.0.1", 0, seconds_per_stage=0))
    printed = ""
    async with asyncio.timeout(30):  # a deadline for an emulator that never starts
        while not (match := re.search(r"listening on (http://\S+)", printed)):
            await asyncio.sleep(0.02)
            printed += capsys.readouterr().out
    url = match.group(1)
    async with http.get(f"{url}/emulator/health") as response:
        assert (await response.json())["data"]["emulator"] is True
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.get(f"{url}/emulator/health"):
            pass


async def test_the_app_factory_runs_under_any_aiohttp_server() -> None:
    app = create_emulator_app(EmulatorConfig(seconds_per_stage=0))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/kling/v1/videos/multi-elements?pageNum=1&pageSize=5")
        body = await response.json()
        assert response.status == 200
        assert body["code"] == 0 and body["data"] == [] and body["request_id"]
