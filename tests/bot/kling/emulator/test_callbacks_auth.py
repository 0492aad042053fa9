"""Callbacks on every status change (signed when a secret is set) and optional auth."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest
from aiohttp import web

from bot.kling import AuthError, CreateMultiImageTask, KlingClient, make_provider
from bot.kling.emulator import KlingEmulator, ManualClock

from .conftest import api, b64, png_bytes, run_to_end

SECRET_BYTES = b"emulator-webhook-secret-32-bytes"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()
IMAGE = b64(png_bytes((400, 400), (10, 200, 10)))
LIST = "/v1/videos/multi-image2video"


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    sink = Receiver()
    app = web.Application()
    app.router.add_post("/kling-callback", sink.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sink.url = f"http://127.0.0.1:{runner.addresses[0][1]}/kling-callback"
    yield sink
    await runner.cleanup()


def expected_signature(headers: dict[str, str], body: bytes) -> str:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = hmac.new(SECRET_BYTES, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def test_callbacks_arrive_on_each_status_change_with_a_valid_signature(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    async with KlingEmulator(
        clock=ManualClock(), seconds_per_stage=5, webhook_secret=SECRET, image2video_long_side=320
    ) as emu:
        client_provider = make_provider("emulator", base_url=emu.base_url)
        client = KlingClient(http, client_provider)
        task = await client.create_multi_image_task(
            CreateMultiImageTask(
                images=[IMAGE],
                prompt="a green square",
                callback_url=receiver.url,
                external_task_id="cb-1",
            )
        )
        await run_to_end(emu, client.get_multi_image_task, task.task_id)
        assert [d.http_status for d in emu.deliveries] == [200, 200, 200]

    bodies = [json.loads(body) for _, body in receiver.received]
    assert [b["task_status"] for b in bodies] == ["submitted", "processing", "succeed"]
    assert all(b["task_id"] == task.task_id for b in bodies)
    assert bodies[0]["task_info"]["external_task_id"] == "cb-1"
    assert bodies[-1]["task_result"]["videos"][0]["url"].endswith(".mp4")
    for headers, body in receiver.received:
        assert headers["webhook-signature"] == expected_signature(headers, body)
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300


async def test_callbacks_are_unsigned_without_a_secret(
    http: aiohttp.ClientSession, receiver: Receiver, emulator: KlingEmulator
) -> None:
    status, body = await api(
        http,
        "POST",
        emulator.base_url + LIST,
        {"image_list": [{"image": IMAGE}], "prompt": "p", "callback_url": receiver.url},
    )
    assert status == 200
    client = KlingClient(http, make_provider("emulator", base_url=emulator.base_url))
    done = await run_to_end(emulator, client.get_multi_image_task, body["data"]["task_id"])
    assert done.status.is_terminal  # type: ignore[attr-defined]
    assert len(receiver.received) == 3
    assert all("webhook-signature" not in headers for headers, _ in receiver.received)
    status, log = await api(http, "GET", emulator.base_url + "/emulator/callbacks")
    assert [entry["task_status"] for entry in log["data"]] == ["submitted", "processing", "succeed"]


async def test_an_api_key_can_be_required(http: aiohttp.ClientSession) -> None:
    async with KlingEmulator(api_key="right-key") as emu:
        url = emu.base_url + LIST
        status, body = await api(http, "GET", url)
        assert (status, body["code"]) == (401, 1001)
        async with http.get(url, headers={"Authorization": "Bearer wrong"}) as response:
            assert (response.status, (await response.json())["code"]) == (401, 1002)
        good = KlingClient(http, make_provider("kling", api_key="right-key", base_url=emu.base_url))
        assert (await good.list_multi_image_tasks()).tasks == ()
        comet = KlingClient(
            http, make_provider("cometapi", api_key="right-key", base_url=emu.base_url)
        )
        assert (await comet.list_multi_image_tasks()).tasks == ()
        bad = KlingClient(http, make_provider("kling", api_key="nope", base_url=emu.base_url))
        with pytest.raises(AuthError):
            await bad.list_multi_image_tasks()


async def test_jwt_tokens_are_checked_on_the_emulator_clock(http: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with KlingEmulator(
        access_key="ak", secret_key="sk-secret-that-is-long-enough-for-hs256", clock=clock
    ) as emu:
        client = KlingClient(
            http,
            make_provider(
                "kling",
                access_key="ak",
                secret_key="sk-secret-that-is-long-enough-for-hs256",
                base_url=emu.base_url,
                clock=clock.now,
            ),
        )
        assert (await client.list_edit_tasks()).tasks == ()

        def token(**claims: object) -> str:
            now = int(clock.now())
            payload = {"iss": "ak", "exp": now + 1800, "nbf": now - 5, **claims}
            return jwt.encode(payload, "sk-secret-that-is-long-enough-for-hs256", algorithm="HS256")

        async def code_for(bearer: str) -> int:
            async with http.get(
                emu.base_url + LIST, headers={"Authorization": f"Bearer {bearer}"}
            ) as response:
                return (await response.json())["code"]

        assert await code_for(token()) == 0
        assert await code_for(token(exp=int(clock.now()) - 1)) == 1004
        assert await code_for(token(nbf=int(clock.now()) + 60)) == 1003
        assert await code_for(token(iss="someone-else")) == 1002
        other_secret = "another-secret-that-is-long-enough-for-hs"
        forged = jwt.encode({"iss": "ak"}, other_secret, algorithm="HS256")
        assert await code_for(forged) == 1002
