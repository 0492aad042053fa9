"""Answers too large to read are refused with a clear error; large ones are parsed off the loop."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from aiohttp import web

from bot.kling import MalformedResponseError
from bot.kling import transport as transport_module
from tests.bot.kling.fake_kling import (
    EDIT,
    SESSION_ID,
    FakeKling,
    Recorded,
    envelope,
    open_client,
    selection_data,
)

MIB = 1024 * 1024


def endless_answer(sent: list[int], limit: int) -> Any:
    """A 200 answer streamed without Content-Length, a JSON string that goes on and on."""

    async def answer(record: Recorded) -> web.StreamResponse:
        assert record.request is not None
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(record.request)
        await response.write(b'{"code": 0, "message": "SUCCEED", "data": {"junk": "')
        chunk = b"a" * MIB
        try:
            while sent[0] < limit:
                await response.write(chunk)
                sent[0] += len(chunk)
        except (ConnectionResetError, RuntimeError):
            pass  # the client stopped reading and closed the connection
        return response

    return answer


async def test_an_endless_answer_is_cut_off_at_the_cap_with_a_clear_error() -> None:
    fake = FakeKling()
    sent = [0]
    cap = transport_module.MAX_RESPONSE_BYTES
    fake.script("POST", f"{EDIT}/clear-selection", endless_answer(sent, cap + 64 * MIB))
    async with open_client(fake) as client:
        with pytest.raises(MalformedResponseError) as caught:
            await client.clear_selection(SESSION_ID)
    assert "too large to read" in str(caught.value)
    assert f"the limit is {cap // MIB} MiB" in str(caught.value)
    assert caught.value.retryable is False
    assert fake.hits("POST", f"{EDIT}/clear-selection") == 1  # the same call would do the same
    assert sent[0] < cap + 32 * MIB  # the client stopped reading soon after the cap


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport_module, "MAX_RESPONSE_BYTES", 4096)
    fake = FakeKling()
    body = json.dumps(envelope({**selection_data("clear-selection"), "pad": "x" * 8000}))
    fake.script(
        "POST",
        f"{EDIT}/clear-selection",
        lambda record: web.Response(body=body, content_type="application/json"),
    )
    async with open_client(fake) as client:
        with pytest.raises(MalformedResponseError, match=r"declared \d+ bytes"):
            await client.clear_selection(SESSION_ID)


async def test_large_answers_are_parsed_in_a_worker_thread_small_ones_inline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[int] = []
    decode = transport_module._decode_json

    def spy(body: bytes) -> Any:
        threads.append(threading.get_ident())
        return decode(body)

    monkeypatch.setattr(transport_module, "_decode_json", spy)
    fake = FakeKling()
    big = {**selection_data("clear-selection"), "pad": "x" * (2 * MIB)}
    small = selection_data("clear-selection")
    fake.script("POST", f"{EDIT}/clear-selection", (200, envelope(big)), (200, envelope(small)))
    loop_thread = threading.get_ident()
    async with open_client(fake) as client:
        first = await client.clear_selection(SESSION_ID)
        second = await client.clear_selection(SESSION_ID)
    assert first.session_id == second.session_id == SESSION_ID
    assert threads[0] != loop_thread  # 2 MiB: parsed off the event loop
    assert threads[1] == loop_thread  # a few hundred bytes: not worth a thread hop
