"""A create whose answer was lost is never taken as "not created", and Kling refusing the job's
external_task_id as taken means "look it up and adopt the task", never "failed".

Driven through the real JobRunner and KlingClient against the Kling emulator, whose fault injector
drops the connection after storing the task and makes its lookups lag behind (answer "no such
task" although it exists), as a real service may right after a create.
"""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.kling import KlingClient, KlingProvider, NetworkError
from bot.kling.errors import ContentPolicyError, InvalidInputError, RateLimitError, error_for
from bot.kling.retry import proves_not_processed, refuses_duplicate_id
from bot.storage import JobState
from tests.faults.world import job_world

CREATE = "multi-image2video:create"
GET, LIST = "multi-image2video:get", "multi-image2video:list"


def lookups_lag(world_faults: object, times: int) -> None:
    """The next ``times`` lookups by external_task_id (path form, then query form) say absent."""
    world_faults.fail(GET, 1203, times=times)  # type: ignore[attr-defined]
    world_faults.fail(LIST, 1203, times=times)  # type: ignore[attr-defined]


async def test_lost_answer_then_lagging_lookup_then_duplicate_refusal_adopts_the_task(
    tmp_path: Path,
) -> None:
    """The client's own lookup says absent twice; the resend is refused as a duplicate. The job
    must still end delivered, from the one task Kling made."""
    async with job_world(tmp_path) as world:
        world.emulator.faults.drop(CREATE, after_handler=True)  # stored, answer lost
        lookups_lag(world.emulator.faults, times=2)
        job = await world.submit()
        done = await world.settle(job.id)
        tasks = list(world.emulator.store.tasks.values())
        creates = world.calls.get(CREATE, 0)
    assert done.state is JobState.DELIVERED, done.status_msg
    assert [t.external_task_id for t in tasks] == [job.id]
    assert done.kling_task_id == tasks[0].task_id
    assert creates == 2  # the resend after "absent", refused as a duplicate; never a third
    assert [jid for jid, _ in world.deliverer.posted] == [job.id]


async def test_runner_lookup_says_absent_and_the_resend_is_refused_as_a_duplicate(
    tmp_path: Path,
) -> None:
    """The client gives up looking (lookups fail), the runner's later lookup says absent, the
    runner resends: Kling refuses the id as taken, and the runner adopts the task."""
    async with job_world(tmp_path) as world:
        faults = world.emulator.faults
        faults.drop(CREATE, after_handler=True)
        faults.fail(GET, 5000, times=4)  # the client's own lookup fails: outcome unknown
        # Then the runner's lookup finds nothing (path form and query form say absent).
        faults.fail(GET, 1203, nth=5, times=1)
        faults.fail(LIST, 1203, nth=1, times=1)
        job = await world.submit()
        done = await world.settle(job.id)
        tasks = list(world.emulator.store.tasks.values())
        creates = world.calls.get(CREATE, 0)
    assert done.state is JobState.DELIVERED, done.status_msg
    assert [t.external_task_id for t in tasks] == [job.id]
    assert done.kling_task_id == tasks[0].task_id
    assert creates == 2  # the runner's resend, refused as a duplicate
    assert [jid for jid, _ in world.deliverer.posted] == [job.id]


async def test_a_connection_reset_after_sending_is_not_proof_of_anything() -> None:
    """Kling read the whole create, then the connection died: the outcome is unknown."""

    async def read_then_reset(request: web.Request) -> web.StreamResponse:
        await request.read()
        assert request.transport is not None
        request.transport.abort()  # RST, not a polite close
        return web.Response()

    app = web.Application()
    app.router.add_post("/v1/videos/multi-elements/clear-selection", read_then_reset)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            client = KlingClient(
                http,
                KlingProvider(api_key="kling-api-key-0123456789abcdef"),
                base_url=f"http://127.0.0.1:{port}",
            )
            with pytest.raises(NetworkError) as caught:
                await client._transport.request(
                    "POST", "/v1/videos/multi-elements/clear-selection", json_body={"a": 1}
                )
    finally:
        await runner.cleanup()
    assert caught.value.request_sent is True
    assert not proves_not_processed(caught.value)


async def test_only_a_connection_never_made_proves_the_request_never_left() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as http:
        client = KlingClient(
            http,
            KlingProvider(api_key="kling-api-key-0123456789abcdef"),
            base_url=f"http://127.0.0.1:{port}",
        )
        with pytest.raises(NetworkError) as refused:
            await client._transport.request("POST", "/v1/videos/multi-elements", json_body={})
    assert refused.value.request_sent is False and proves_not_processed(refused.value)
    assert not proves_not_processed(NetworkError("no answer from Kling within 60 s"))


class NoSuchHost(AbstractResolver):
    """A resolver that knows no host (no real DNS query leaves the machine)."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        raise OSError(-2, f"Name or service not known: {host}")

    async def close(self) -> None:
        return None


async def test_a_dns_failure_proves_the_request_never_left() -> None:
    connector = aiohttp.TCPConnector(resolver=NoSuchHost())
    async with aiohttp.ClientSession(connector=connector) as http:
        client = KlingClient(
            http,
            KlingProvider(api_key="kling-api-key-0123456789abcdef"),
            base_url="http://kling.invalid",
        )
        with pytest.raises(NetworkError) as failed:
            await client._transport.request("POST", "/v1/videos/multi-elements", json_body={})
    assert failed.value.request_sent is False and proves_not_processed(failed.value)


@pytest.mark.parametrize(
    ("code", "message", "duplicate"),
    [
        (1201, "external_task_id 3f2a already exists", True),  # the emulator's wording
        (1200, "Duplicate external task id", True),
        (1201, "externalTaskId must be unique", True),
        (1300, "external_task_id has been used", True),  # the other reading of the docs
        (1201, "duration must be 5 or 10", False),  # an unrelated bad parameter still fails
        (1301, "content risk", False),
        (1303, "external_task_id busy", False),  # throttling: certainly not created
        (1102, "external_task_id ok but no credits", False),
    ],
)
def test_which_refusals_mean_the_id_is_taken(code: int, message: str, duplicate: bool) -> None:
    error = error_for(400, code, message, "req-1")
    assert refuses_duplicate_id(error) is duplicate
    if duplicate:
        assert isinstance(error, InvalidInputError | ContentPolicyError)
    if code == 1303:
        assert isinstance(error, RateLimitError)
