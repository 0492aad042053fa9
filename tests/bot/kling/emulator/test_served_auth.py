"""`kling-bot emulator`, served on its own, refuses a request without an Authorization header the
way Kling does (HTTP 401, code 1001); the bot's emulator provider always sends one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.kling import KlingClient, make_provider
from bot.kling.emulator import KlingEmulator
from tests.processes import ChildProcess, child_env, python_module

REPO = Path(__file__).resolve().parents[4]
LIST = "/v1/videos/multi-elements"
LISTENING = re.compile(r"Kling emulator listening on (http://127\.0\.0\.1:\d+)")


@pytest.fixture
async def served_emulator(tmp_path: Path) -> AsyncIterator[str]:
    """`kling-bot emulator --port 0` as a real process; yields its base URL."""
    log = tmp_path / "emulator.log"
    proc = ChildProcess.start(
        python_module("bot.cli", "emulator", "--port", "0"), cwd=REPO, env=child_env({}), log=log
    )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not (found := LISTENING.search(proc.output())):
            assert proc.returncode is None, proc.output()
            assert loop.time() < deadline, f"the emulator did not start:\n{proc.output()}"
            await asyncio.sleep(0.05)
        yield found.group(1)
    finally:
        await proc.stop()


async def test_served_emulator_refuses_a_request_without_authorization(
    served_emulator: str,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(served_emulator + LIST) as response:
            body = await response.json()
            assert response.status == 401
        assert body["code"] == 1001
        assert body["message"] == "Authorization is empty"
        assert body["data"] is None and body["request_id"]
        # CometAPI's paths are guarded the same way.
        async with http.get(served_emulator + "/kling" + LIST) as response:
            assert response.status == 401
        async with http.get(
            served_emulator + LIST, headers={"Authorization": "Bearer any-token"}
        ) as response:
            assert response.status == 200
            assert (await response.json())["code"] == 0


async def test_the_bots_emulator_provider_is_let_in(served_emulator: str) -> None:
    async with aiohttp.ClientSession() as http:
        client = KlingClient(http, make_provider("emulator", base_url=served_emulator))
        page = await client.list_edit_tasks()
    assert page.tasks == ()


async def test_in_process_emulator_still_takes_requests_without_a_header() -> None:
    # The demo and the tests run it in-process; requiring a header there is opt-in.
    async with (
        KlingEmulator() as emulator,
        aiohttp.ClientSession() as http,
        http.get(emulator.base_url + LIST) as response,
    ):
        assert response.status == 200
