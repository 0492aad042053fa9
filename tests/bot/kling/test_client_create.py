"""Task creation never creates a task twice: timeouts, drops and 5xx are reconciled by lookup."""

from __future__ import annotations

import asyncio

import pytest

from bot.kling import (
    ConcurrencyFullError,
    CreateEditTask,
    CreateMultiImageTask,
    CreateOutcomeUnknownError,
    InvalidInputError,
    KlingError,
    NotFoundError,
    RetryPolicy,
    ServerError,
)
from tests.bot.kling.fake_kling import (
    EDIT,
    MULTI,
    SESSION_ID,
    FakeKling,
    RecordingSleep,
    envelope,
    kling_error,
    open_client,
)
from tests.bot.kling.test_errors import DOCUMENTED

REQUEST = CreateEditTask(
    session_id=SESSION_ID, edit_mode="removal", prompt="Delete the chick from <<<video_1>>>"
)


def _creates(fake: FakeKling, base: str = EDIT) -> list[str]:
    """The external ids of every create request the server received, in order."""
    return [
        r.body["external_task_id"] for r in fake.requests if r.method == "POST" and r.path == base
    ]


# The first create is held until the test releases it (HOLD_S only bounds a broken test), so the
# client gives up on it after LIMIT_S whatever the machine's speed; the other calls (lookups,
# resend) are tiny loopback requests that a busy machine still answers well within LIMIT_S.
HOLD_S = 60.0
LIMIT_S = 1.0


@pytest.mark.parametrize("understood", [{"path", "query"}, {"path"}, {"query"}])
async def test_timeout_after_the_server_stored_the_task(understood: set[str]) -> None:
    fake = FakeKling(
        first_create_delay=HOLD_S, store_before_delay=True, external_lookup=frozenset(understood)
    )
    async with open_client(fake, total_timeout=LIMIT_S) as client:
        task = await client.create_edit_task(REQUEST)
    assert len(fake.tasks[EDIT]) == 1
    assert task.task_id == fake.tasks[EDIT][0]["task_id"]
    assert len(_creates(fake)) == 1  # found by lookup, never sent again


async def test_timeout_before_the_server_stored_the_task() -> None:
    # The slow first request stores its task only after the client gave up on it, looked the id up
    # (absent) and sent again; the server's unique external_task_id stops the late duplicate.
    fake = FakeKling(first_create_delay=HOLD_S, store_before_delay=False)
    async with open_client(fake, total_timeout=LIMIT_S) as client:
        task = await client.create_edit_task(REQUEST)
        assert not fake.first_create_done.is_set()  # still held: the client gave up on it
        fake.release()
        async with asyncio.timeout(30):
            await fake.first_create_done.wait()  # the late request has reached the store
    ids = _creates(fake)
    assert len(ids) == 2
    assert ids[0] == ids[1]
    assert len(fake.tasks[EDIT]) == 1
    assert task.task_id == fake.tasks[EDIT][0]["task_id"]


async def test_resend_refused_as_duplicate_is_resolved_by_lookup() -> None:
    # 5002 with nothing stored -> lookup: absent -> resend, which Kling refuses with 1201 because
    # the first attempt got stored late -> a second lookup finds it and the client returns it.
    fake = FakeKling()
    fake.script("POST", EDIT, kling_error(5002, 504), fake.store_then_fail(EDIT, 1201, 400))
    async with open_client(fake) as client:
        task = await client.create_edit_task(REQUEST)
    assert len(_creates(fake)) == 2
    assert len(fake.tasks[EDIT]) == 1
    assert task.task_id == fake.tasks[EDIT][0]["task_id"]


async def test_resend_refused_for_a_real_input_error_is_reported() -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, kling_error(5002, 504), kling_error(1201, 400, "bad prompt"))
    async with open_client(fake) as client:
        with pytest.raises(InvalidInputError, match="bad prompt"):
            await client.create_edit_task(REQUEST)
    assert len(_creates(fake)) == 2
    assert fake.tasks[EDIT] == []


async def test_5000_after_the_server_stored_the_task_is_not_duplicated() -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, fake.store_then_fail(EDIT, 5000, 500))
    async with open_client(fake) as client:
        task = await client.create_edit_task(REQUEST)
    assert len(_creates(fake)) == 1
    assert len(fake.tasks[EDIT]) == 1
    assert task.task_id == fake.tasks[EDIT][0]["task_id"]


async def test_5000_before_storing_is_sent_again_with_the_same_id() -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, kling_error(5000, 500))
    async with open_client(fake) as client:
        task = await client.create_edit_task(REQUEST)
    ids = _creates(fake)
    assert len(ids) == 2
    assert ids[0] == ids[1] == task.external_task_id
    assert len(fake.tasks[EDIT]) == 1


async def test_dropped_connection_after_storing_is_not_duplicated() -> None:
    fake = FakeKling()
    fake.script("POST", MULTI, fake.store_then_drop(MULTI))
    request = CreateMultiImageTask(images=["https://img.example/a.png"], prompt="a dog")
    async with open_client(fake) as client:
        task = await client.create_multi_image_task(request)
    assert len(_creates(fake, MULTI)) == 1
    assert len(fake.tasks[MULTI]) == 1
    assert task.task_id == fake.tasks[MULTI][0]["task_id"]


async def test_persistent_5002_gives_up_without_creating_anything() -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, *[kling_error(5002, 504)] * 5)
    sleep = RecordingSleep()
    async with open_client(fake, sleep=sleep) as client:
        with pytest.raises(ServerError) as caught:
            await client.create_edit_task(REQUEST)
    assert caught.value.code == 5002
    assert len(set(_creates(fake))) == 1
    assert len(_creates(fake)) == 3
    assert fake.tasks[EDIT] == []


async def test_failed_lookup_reports_an_unknown_outcome_with_the_id() -> None:
    fake = FakeKling(first_create_delay=HOLD_S, store_before_delay=True)
    gateway_down = (503, "<html>Service Unavailable</html>")
    async with open_client(fake, total_timeout=LIMIT_S) as client:
        external_id = "job-unknown-1"
        lookup_path = f"{EDIT}/{external_id}"
        fake.script("GET", lookup_path, *[gateway_down] * 5)
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            await client.create_edit_task(REQUEST.with_external_task_id(external_id))
    assert caught.value.external_task_id == external_id
    assert caught.value.retryable is True
    assert len(_creates(fake)) == 1  # never sent blind
    assert fake.hits("GET", lookup_path) == 3


async def test_concurrency_full_is_retried_without_lookup() -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, kling_error(1303, 429), kling_error(1302, 429))
    sleep = RecordingSleep()
    async with open_client(fake, sleep=sleep) as client:
        task = await client.create_edit_task(REQUEST)
    assert len(_creates(fake)) == 3
    assert [r.method for r in fake.requests] == ["POST", "POST", "POST"]
    assert len(fake.tasks[EDIT]) == 1
    assert task.external_task_id == _creates(fake)[0]
    assert len(sleep.delays) == 2


async def test_concurrency_full_surfaces_after_the_last_attempt() -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, *[kling_error(1303, 429)] * 5)
    async with open_client(fake, retry=RetryPolicy(max_attempts=2, base_delay=0.0)) as client:
        with pytest.raises(ConcurrencyFullError):
            await client.create_edit_task(REQUEST)
    assert len(_creates(fake)) == 2


@pytest.mark.parametrize(("http", "code", "cls", "retryable"), DOCUMENTED)
async def test_every_code_on_create(
    http: int, code: int, cls: type[KlingError], retryable: bool
) -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, *[kling_error(code, http)] * 5)
    async with open_client(fake) as client:
        with pytest.raises(cls):
            await client.create_edit_task(REQUEST)
    lookups = [r for r in fake.requests if r.method == "GET"]
    assert len(_creates(fake)) == (3 if retryable else 1)
    assert len(set(_creates(fake))) == 1
    # Only a server error leaves the outcome open and triggers a lookup before each resend.
    assert bool(lookups) is (code >= 5000)
    assert fake.tasks[EDIT] == []


async def test_plain_invalid_input_is_not_looked_up() -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, kling_error(1201, 400, "prompt must reference <<<video_1>>>"))
    async with open_client(fake) as client:
        with pytest.raises(InvalidInputError, match="<<<video_1>>>"):
            await client.create_edit_task(REQUEST)
    assert len(fake.requests) == 1


async def test_create_falls_back_to_the_trailing_slash_route() -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, kling_error(1202, 404, "method not found"))
    created = {"task_id": "slash-1", "task_status": "submitted"}
    fake.script("POST", EDIT + "/", (200, envelope(created)))
    async with open_client(fake) as client:
        task = await client.create_edit_task(REQUEST)
    assert task.task_id == "slash-1"
    assert [r.path for r in fake.requests] == [EDIT, EDIT + "/"]
    assert fake.requests[0].body == fake.requests[1].body


async def test_missing_session_is_not_mistaken_for_a_missing_route() -> None:
    fake = FakeKling()
    fake.script("POST", EDIT, kling_error(1203, 404, "session not found"))
    async with open_client(fake) as client:
        with pytest.raises(NotFoundError, match="session not found"):
            await client.create_edit_task(REQUEST)
    assert len(fake.requests) == 1


async def test_an_id_refused_as_taken_on_the_first_send_is_looked_up_and_adopted() -> None:
    """E.g. a resend after a restart: Kling already runs the task, so it is returned, not an
    error that would fail the job."""
    fake = FakeKling()
    request = REQUEST.with_external_task_id("job-0042")
    fake._store(EDIT, request.to_body())  # the earlier send, stored by Kling
    async with open_client(fake) as client:
        task = await client.create_edit_task(request)
    assert task.task_id == fake.tasks[EDIT][0]["task_id"]
    assert _creates(fake) == ["job-0042"] and len(fake.tasks[EDIT]) == 1


async def test_an_id_refused_as_taken_but_not_found_yet_is_reported_as_unknown() -> None:
    fake = FakeKling()
    request = REQUEST.with_external_task_id("job-0043")
    fake._store(EDIT, request.to_body())
    # Kling's lookup does not show it yet, in either form.
    fake.script("GET", f"{EDIT}/job-0043", kling_error(1203, 404, "task not found"))
    fake.script("GET", EDIT, kling_error(1203, 404, "task not found"))
    async with open_client(fake) as client:
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            await client.create_edit_task(request)
    assert caught.value.known_to_exist is True and caught.value.retryable is True
    assert caught.value.external_task_id == "job-0043"
    assert len(_creates(fake)) == 1
