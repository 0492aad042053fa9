"""Fault injection: error codes on the Nth call, dropped connections, malformed bodies, latency."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from bot.kling import (
    BillingError,
    CreateMultiImageTask,
    MalformedResponseError,
    NetworkError,
    SelectionRejectedError,
)
from bot.kling.emulator import KlingEmulator

from .conftest import ClientFactory, api, b64, png_bytes

IMAGE = b64(png_bytes((400, 400), (10, 200, 10)))
LIST = "/v1/videos/multi-image2video"


async def test_error_code_on_the_nth_call_only(
    http: aiohttp.ClientSession, emulator: KlingEmulator
) -> None:
    emulator.faults.fail("multi-image2video:list", 1303, nth=2)
    url = emulator.base_url + LIST
    first, second, third = [await api(http, "GET", url) for _ in range(3)]
    assert first[0] == 200 and first[1]["code"] == 0
    assert second[0] == 429 and second[1]["code"] == 1303
    assert second[1]["message"] == "parallel task over resource pack limit"
    assert third[0] == 200 and third[1]["code"] == 0
    assert emulator.faults.calls["multi-image2video:list"] == 3


async def test_the_client_retries_server_errors_and_gives_up_on_billing(
    make_client: ClientFactory, emulator: KlingEmulator
) -> None:
    client = make_client()
    emulator.faults.fail("multi-image2video:list", 5001)
    page = await client.list_multi_image_tasks()
    assert page.tasks == ()
    assert emulator.faults.calls["multi-image2video:list"] == 2
    emulator.faults.fail("multi-image2video:list", 1102, status=429)
    with pytest.raises(BillingError) as caught:
        await client.list_multi_image_tasks()
    assert caught.value.code == 1102 and caught.value.http_status == 429


async def test_a_dropped_connection_gives_no_reply(
    http: aiohttp.ClientSession, emulator: KlingEmulator, make_client: ClientFactory
) -> None:
    emulator.faults.drop("multi-image2video:create")
    # A POST, because aiohttp quietly re-sends a GET once when the connection drops.
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api(http, "POST", emulator.base_url + LIST, {"prompt": "p"})
    assert emulator.faults.calls["multi-image2video:create"] == 1
    emulator.faults.drop("multi-image2video:list", times=None)
    with pytest.raises(NetworkError):
        await make_client().list_multi_image_tasks()


async def test_a_create_whose_reply_is_lost_is_found_again_not_duplicated(
    make_client: ClientFactory, emulator: KlingEmulator
) -> None:
    client = make_client()
    emulator.faults.drop("multi-image2video:create", after_handler=True)
    task = await client.create_multi_image_task(
        CreateMultiImageTask(images=[IMAGE], prompt="a green square", external_task_id="job-42")
    )
    assert task.external_task_id == "job-42"
    listed = await client.list_multi_image_tasks()
    assert [t.task_id for t in listed.tasks] == [task.task_id]
    assert emulator.faults.calls["multi-image2video:create"] == 1


@pytest.mark.parametrize("kind", ["html", "truncated_json"])
async def test_malformed_bodies(
    http: aiohttp.ClientSession, emulator: KlingEmulator, make_client: ClientFactory, kind: str
) -> None:
    emulator.faults.malformed("multi-image2video:list", kind)
    async with http.get(emulator.base_url + LIST) as response:
        text = await response.text()
    if kind == "html":
        assert response.status == 502
        assert response.content_type == "text/html" and "<html>" in text
    else:
        assert response.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
    emulator.faults.malformed("multi-image2video:list", kind, times=None)
    with pytest.raises(MalformedResponseError):
        await make_client(retry=None).list_multi_image_tasks()


async def test_latency_applies_to_the_chosen_endpoint(
    http: aiohttp.ClientSession, emulator: KlingEmulator
) -> None:
    rule = emulator.faults.latency(0.3, max_seconds=0.4, endpoint="multi-image2video:list")
    started = time.monotonic()
    status, _ = await api(http, "GET", emulator.base_url + LIST)
    slow = time.monotonic() - started
    await api(http, "GET", emulator.base_url + "/v1/videos/multi-elements")
    assert status == 200
    assert slow >= 0.3  # a busy machine can only make it slower
    # The other endpoint's call was not even counted by the rule, so it was not delayed.
    assert (rule.seen, rule.fired) == (1, 1)


async def test_a_stalled_call_is_held_until_released_then_answered(
    http: aiohttp.ClientSession, emulator: KlingEmulator
) -> None:
    faults = emulator.faults
    faults.stall("multi-image2video:list")
    held = asyncio.create_task(api(http, "GET", emulator.base_url + LIST))
    async with asyncio.timeout(10):
        await faults.holding(1)
    # Other calls, and the next call to the same endpoint, are answered meanwhile.
    assert (await api(http, "GET", emulator.base_url + "/v1/videos/multi-elements"))[0] == 200
    assert (await api(http, "GET", emulator.base_url + LIST))[0] == 200
    assert faults.finished["multi-image2video:list"] == 1 and faults.held == 1
    assert not held.done()
    faults.release()
    status, body = await held
    assert status == 200 and body["code"] == 0
    await faults.settled()
    assert faults.finished["multi-image2video:list"] == 2 and faults.held == 0


async def test_settled_waits_for_a_call_whose_caller_gave_up(
    http: aiohttp.ClientSession, emulator: KlingEmulator
) -> None:
    faults = emulator.faults
    faults.stall("multi-image2video:create")
    body = {"image_list": [{"image": IMAGE}], "prompt": "late", "external_task_id": "job-late"}
    async with asyncio.timeout(10):
        with pytest.raises(TimeoutError):
            async with http.post(
                emulator.base_url + LIST, json=body, timeout=aiohttp.ClientTimeout(total=0.2)
            ) as response:
                await response.read()
        await faults.holding(1)  # still held: the caller's giving up did not end the call
        assert faults.finished["multi-image2video:create"] == 0
        faults.release()
        await faults.settled("multi-image2video:create")
    # The late request was carried out in full: the task exists.
    assert [t.external_task_id for t in emulator.store.tasks.values()] == ["job-late"]


async def test_closing_the_emulator_releases_held_calls(tmp_path: Path) -> None:
    emulator = KlingEmulator(work_dir=tmp_path)
    await emulator.start()
    emulator.faults.stall("multi-image2video:list")
    async with aiohttp.ClientSession() as http:
        held = asyncio.create_task(api(http, "GET", emulator.base_url + LIST))
        async with asyncio.timeout(10):
            await emulator.faults.holding(1)
            # Without the release, the shutdown would wait for the held call (60 s by default).
            await emulator.close()
            await asyncio.gather(held, return_exceptions=True)
    assert emulator.faults.finished["multi-image2video:list"] == 1


async def test_faults_can_be_set_listed_and_cleared_over_http(
    http: aiohttp.ClientSession, emulator: KlingEmulator
) -> None:
    control = emulator.base_url + "/emulator/faults"
    status, body = await api(
        http, "POST", control, {"kind": "error", "endpoint": "*", "code": 1302, "times": 2}
    )
    assert status == 200 and body["data"]["rule_id"]
    for _ in range(2):
        status, body = await api(http, "GET", emulator.base_url + "/kling" + LIST)
        assert (status, body["code"]) == (429, 1302)
    status, body = await api(http, "GET", control)
    assert body["data"]["rules"][0]["fired"] == 2
    assert body["data"]["calls"]["multi-image2video:list"] == 2

    await api(http, "POST", control, {"kind": "malformed", "endpoint": "*", "times": None})
    status, body = await api(http, "DELETE", control)
    assert status == 200
    status, body = await api(http, "GET", emulator.base_url + LIST)
    assert status == 200 and body["code"] == 0

    for bad in (
        {"kind": "explode"},
        {"kind": "error", "endpoint": "nope"},
        {"kind": "error", "colour": "red"},
    ):
        status, body = await api(http, "POST", control, bad)
        assert (status, body["code"]) == (400, 1201)


async def test_the_manual_clock_can_be_advanced_over_http(
    http: aiohttp.ClientSession, emulator: KlingEmulator
) -> None:
    before = emulator.clock.now()
    status, body = await api(
        http, "POST", emulator.base_url + "/emulator/clock/advance", {"seconds": 90}
    )
    assert status == 200
    assert body["data"]["now"] == pytest.approx(before + 90)


async def test_a_rejected_selection_reaches_the_client_as_such(
    make_client: ClientFactory, emulator: KlingEmulator, file_server: str
) -> None:
    client = make_client()
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    emulator.faults.reject("add-selection", 7)
    with pytest.raises(SelectionRejectedError) as caught:
        await client.add_selection(session.session_id, 0, [(0.5, 0.5)])
    assert caught.value.selection_status == 7
    # The rejected click was not stored: the next one starts object 0 afresh.
    result = await client.add_selection(session.session_id, 0, [(0.5, 0.5)])
    assert [m.object_id for m in result.masks] == [0]


async def test_each_call_is_recorded_with_its_interval_and_selection(
    make_client: ClientFactory, file_server: str, emulator: KlingEmulator
) -> None:
    """The load bench splits a member's wait into Kling's time from these records: a held call's
    interval covers the hold, and each record names its session, frame and exact points."""
    client = make_client()
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    faults = emulator.faults
    faults.stall("add-selection")
    held = asyncio.create_task(client.add_selection(session.session_id, 3, [(0.25, 0.5)]))
    async with asyncio.timeout(10):
        await faults.holding(1)
    released_at = time.time()
    faults.release()
    await held
    await client.delete_selection(session.session_id, 3, [(0.25, 0.5)])
    init, add, delete = list(faults.records)
    assert [r.endpoint for r in (init, add, delete)] == [
        "init-selection",
        "add-selection",
        "delete-selection",
    ]
    assert add.started < released_at <= add.ended <= delete.started <= delete.ended
    assert (add.session_id, add.frame_index, add.points) == (session.session_id, 3, ((0.25, 0.5),))
    assert (delete.session_id, delete.frame_index, delete.points) == (
        session.session_id,
        3,
        ((0.25, 0.5),),
    )
    assert init.session_id is None and init.points == ()
