"""Kling callbacks: signed ones wake a job; forged, stale and replayed ones do not."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from bot.callbacks import CallbackServer, SignatureVerifier, callback_url
from bot.kling.emulator import sign, signature_headers
from bot.storage import JobState
from tests.faults.world import FAST_RUNNER, JobWorld, job_world

SECRET = "whsec_" + base64.b64encode(b"kling-webhook-secret-for-tests!!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"somebody-else-entirely-0123456").decode()
BODY = json.dumps(
    {"task_id": "1", "task_status": "succeed", "task_info": {"external_task_id": "job1"}}
).encode()


class Woken:
    def __init__(self) -> None:
        self.jobs: list[str] = []

    def __call__(self, job_id: str) -> None:
        self.jobs.append(job_id)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, Woken, aiohttp.ClientSession]]:
    woken = Woken()
    server = CallbackServer(woken, port=0, host="127.0.0.1", secret=SECRET)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield f"http://127.0.0.1:{server.port}", woken, http
    finally:
        await server.close()


async def post(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes = BODY
) -> int:
    async with http.post(
        url, data=body, headers={"Content-Type": "application/json", **headers}
    ) as reply:
        return reply.status


def test_signature_matches_the_emulator_and_the_reference_format() -> None:
    verifier = SignatureVerifier(SECRET)
    headers = signature_headers(SECRET, BODY, message_id="msg_1", timestamp=int(time.time()))
    assert verifier.verify(headers, BODY) == "msg_1"
    expected = sign(SECRET, "msg_2", 1781080794, b"{}")
    assert expected == "v1," + verifier.expected("msg_2", "1781080794", b"{}").decode()
    assert "kling-webhook" not in repr(verifier)


async def test_signed_callback_wakes_the_job(
    endpoint: tuple[str, Woken, aiohttp.ClientSession],
) -> None:
    base, woken, http = endpoint
    url = callback_url(base, "job1")
    assert await post(http, url, signature_headers(SECRET, BODY)) == 200
    assert woken.jobs == ["job1"]


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "stale", "future", "tampered body", "no headers", "bad timestamp", "v2 only"],
)
async def test_forged_callbacks_are_refused(
    endpoint: tuple[str, Woken, aiohttp.ClientSession], case: str
) -> None:
    base, woken, http = endpoint
    now = int(time.time())
    body = BODY
    if case == "wrong secret":
        headers = signature_headers(OTHER_SECRET, BODY)
    elif case == "stale":
        headers = signature_headers(SECRET, BODY, timestamp=now - 301)
    elif case == "future":
        headers = signature_headers(SECRET, BODY, timestamp=now + 400)
    elif case == "tampered body":
        headers = signature_headers(SECRET, BODY)
        body = BODY.replace(b"succeed", b"failed!")
    elif case == "no headers":
        headers = {}
    elif case == "bad timestamp":
        headers = {**signature_headers(SECRET, BODY), "webhook-timestamp": "soon"}
    else:
        good = signature_headers(SECRET, BODY)
        headers = {**good, "webhook-signature": good["webhook-signature"].replace("v1,", "v2,")}
    assert await post(http, callback_url(base, "job1"), headers, body) == 401
    assert woken.jobs == []


async def test_replayed_callback_is_refused(
    endpoint: tuple[str, Woken, aiohttp.ClientSession],
) -> None:
    base, woken, http = endpoint
    headers = signature_headers(SECRET, BODY)
    url = callback_url(base, "job1")
    assert await post(http, url, headers) == 200
    assert await post(http, url, headers) == 401
    # A different message id with a fresh signature is a new delivery (Kling sends several).
    assert await post(http, url, signature_headers(SECRET, BODY)) == 200
    assert woken.jobs == ["job1", "job1"]


async def test_any_of_several_signatures_may_match_during_rotation(
    endpoint: tuple[str, Woken, aiohttp.ClientSession],
) -> None:
    base, woken, http = endpoint
    good = signature_headers(SECRET, BODY)
    old = sign(OTHER_SECRET, good["webhook-id"], int(good["webhook-timestamp"]), BODY)
    headers = {**good, "webhook-signature": f"{old} {good['webhook-signature']}"}
    assert await post(http, callback_url(base, "job1"), headers) == 200
    assert woken.jobs == ["job1"]


async def test_a_callback_naming_another_job_or_a_bad_id_is_refused(
    endpoint: tuple[str, Woken, aiohttp.ClientSession],
) -> None:
    base, woken, http = endpoint
    assert await post(http, callback_url(base, "job2"), signature_headers(SECRET, BODY)) == 400
    assert await post(http, base + "/kling/callback/..%2f..%2fetc", {}) == 404
    huge = b"{" + b" " * (300 * 1024) + b"}"
    assert (
        await post(http, callback_url(base, "job1"), signature_headers(SECRET, huge), huge) == 413
    )
    assert woken.jobs == []


async def test_emulator_signed_callbacks_deliver_a_job_without_polling(tmp_path: Path) -> None:
    """Polling is slowed to an hour; only the callbacks can move the job along in time."""
    woken = Woken()
    wake: list[Callable[[str], None]] = []
    server = CallbackServer(
        lambda job_id: (woken(job_id), wake[0](job_id)), port=0, host="127.0.0.1", secret=SECRET
    )
    await server.start()
    slow = replace(FAST_RUNNER, poll_first=3600.0, poll_max=3600.0)
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with job_world(
            tmp_path,
            webhook_secret=SECRET,
            seconds_per_stage=0.1,
            callback_url=lambda job: callback_url(base, job.id),
            runner_config=slow,
        ) as world:
            wake.append(world.runner.poll_soon)
            job = await world.submit()
            done = await world.settle(job.id, timeout=60)  # far below the first poll
            deliveries = list(world.emulator.deliveries)
    finally:
        await server.close()
    assert done.state is JobState.DELIVERED
    assert deliveries and all(d.http_status == 200 for d in deliveries)
    assert all(d.url == callback_url(base, job.id) for d in deliveries)
    assert set(woken.jobs) == {job.id}


async def last_callback_answered(world: JobWorld) -> None:
    """Polling can finish the job before the emulator has sent its last callback ("succeed");
    wait for that one's answer, after which no callback is left to be accepted."""
    async with asyncio.timeout(60):
        while True:
            if any(d.task_status == "succeed" for d in world.emulator.deliveries):
                return
            await asyncio.sleep(0.02)


async def test_unsigned_callbacks_are_refused_when_a_secret_is_set(tmp_path: Path) -> None:
    woken = Woken()
    server = CallbackServer(woken, port=0, host="127.0.0.1", secret=SECRET)
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        # The emulator signs with a different secret: every callback must bounce.
        async with job_world(
            tmp_path,
            webhook_secret=OTHER_SECRET,
            callback_url=lambda job: callback_url(base, job.id),
        ) as world:
            job = await world.submit()
            done = await world.settle(job.id)
            await last_callback_answered(world)
            statuses = {d.http_status for d in world.emulator.deliveries}
    finally:
        await server.close()
    assert done.state is JobState.DELIVERED  # polling alone still finishes the job
    assert statuses == {401}
    assert woken.jobs == []
