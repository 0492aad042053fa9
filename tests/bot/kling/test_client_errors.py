"""Error answers over loopback: the exception raised and how often the server was hit."""

from __future__ import annotations

import socket

import aiohttp
import jwt
import pytest
from aiohttp import web

from bot.kling import (
    AuthError,
    CometApiProvider,
    ConcurrencyFullError,
    KlingClient,
    KlingError,
    KlingProvider,
    MalformedResponseError,
    NetworkError,
    RateLimitError,
    RetryPolicy,
    SelectionRejectedError,
    ServerError,
)
from tests.bot.kling.fake_kling import (
    EDIT,
    SESSION_ID,
    FakeKling,
    RecordingSleep,
    envelope,
    kling_error,
    open_client,
    selection_data,
    stall,
)
from tests.bot.kling.test_errors import DOCUMENTED

ATTEMPTS = 3  # FAST_RETRY.max_attempts
TASK_PATH = f"{EDIT}/123"


def _always(fake: FakeKling, method: str, path: str, answer: object) -> None:
    fake.script(method, path, *[answer] * 10)


@pytest.mark.parametrize(("http", "code", "cls", "retryable"), DOCUMENTED)
async def test_every_code_on_a_safe_call(
    http: int, code: int, cls: type[KlingError], retryable: bool
) -> None:
    fake = FakeKling()
    _always(fake, "GET", TASK_PATH, kling_error(code, http, f"kling says {code}"))
    async with open_client(fake) as client:
        with pytest.raises(cls) as caught:
            await client.get_edit_task(task_id="123")
    assert type(caught.value) is cls
    assert caught.value.code == code
    assert caught.value.http_status == http
    assert caught.value.request_id == f"req-{code}"
    assert fake.hits("GET", TASK_PATH) == (ATTEMPTS if retryable else 1)


@pytest.mark.parametrize(("http", "code", "cls", "retryable"), DOCUMENTED)
async def test_every_code_on_add_selection_retries_only_throttling(
    http: int, code: int, cls: type[KlingError], retryable: bool
) -> None:
    path = f"{EDIT}/add-selection"
    fake = FakeKling()
    _always(fake, "POST", path, kling_error(code, http))
    async with open_client(fake) as client:
        with pytest.raises(cls):
            await client.add_selection(SESSION_ID, 0, [(0.5, 0.5)])
    # A 5xx may have stored the click; only a throttle proves it did not.
    assert fake.hits("POST", path) == (ATTEMPTS if code in (1302, 1303) else 1)


async def test_retry_then_success_with_backoff_and_full_jitter() -> None:
    fake = FakeKling()
    fake.script("POST", f"{EDIT}/init-selection", kling_error(5000, 500), kling_error(5001, 503))
    sleep = RecordingSleep()
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=1.5)
    async with open_client(fake, retry=policy, sleep=sleep, rng=lambda: 0.5) as client:
        session = await client.init_selection(video_url="https://v.example/a.mp4")
    assert session.session_id == SESSION_ID
    assert fake.hits("POST", f"{EDIT}/init-selection") == 3
    assert sleep.delays == [0.5, 0.75]  # U(0, 1) and U(0, min(1.5, 2)) at rng = 0.5


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=False)
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    jittered = RetryPolicy(base_delay=1.0, max_delay=30.0)
    assert jittered.delay(3, rng=lambda: 0.25) == 1.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


SECRET = "kling-secret-key-for-tests-0123456789"


@pytest.mark.parametrize("code", [1003, 1004])
async def test_jwt_is_remade_once_on_stale_token_codes(code: int) -> None:
    clock = Clock()
    provider = KlingProvider(access_key="ak-1", secret_key=SECRET, clock=clock)
    fake = FakeKling()
    async with open_client(fake, provider) as client:
        await client.clear_selection(SESSION_ID)  # mints and caches a token
        clock.now += 60  # still fresh: the cache is reused until Kling complains
        fake.script("POST", f"{EDIT}/clear-selection", kling_error(code, 401))
        await client.clear_selection(SESSION_ID)
    tokens = [r.headers["Authorization"].removeprefix("Bearer ") for r in fake.requests]
    assert len(tokens) == 3
    assert tokens[0] == tokens[1] != tokens[2]
    claims = [
        jwt.decode(
            t, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
        )
        for t in tokens
    ]
    assert claims[2]["nbf"] == int(clock.now) - 5
    assert claims[2]["exp"] == int(clock.now) + 1800


@pytest.mark.parametrize("code", [1003, 1004])
async def test_stale_token_twice_fails_after_one_renewal(code: int) -> None:
    provider = KlingProvider(access_key="ak-1", secret_key=SECRET, clock=Clock())
    fake = FakeKling()
    _always(fake, "POST", f"{EDIT}/clear-selection", kling_error(code, 401))
    async with open_client(fake, provider) as client:
        with pytest.raises(AuthError) as caught:
            await client.clear_selection(SESSION_ID)
    assert caught.value.code == code
    assert caught.value.retryable is False
    assert fake.hits("POST", f"{EDIT}/clear-selection") == 2


async def test_api_key_is_not_renewed_on_1004() -> None:
    fake = FakeKling()
    _always(fake, "POST", f"{EDIT}/clear-selection", kling_error(1004, 401))
    async with open_client(fake) as client:
        with pytest.raises(AuthError):
            await client.clear_selection(SESSION_ID)
    assert fake.hits("POST", f"{EDIT}/clear-selection") == 1


async def test_expired_cached_jwt_is_remade_before_sending() -> None:
    clock = Clock()
    provider = KlingProvider(access_key="ak-1", secret_key=SECRET, clock=clock)
    fake = FakeKling()
    async with open_client(fake, provider) as client:
        await client.clear_selection(SESSION_ID)
        clock.now += 1500  # within 5 minutes of the 30-minute expiry
        await client.clear_selection(SESSION_ID)
    first, second = (r.headers["Authorization"] for r in fake.requests)
    assert first != second


@pytest.mark.parametrize(
    ("answer", "needle", "hits"),
    [
        ((502, "<html><body>502 Bad Gateway</body></html>"), "HTML page", ATTEMPTS),
        ((200, "<!DOCTYPE html><html>login</html>"), "HTML page", 1),
        ((200, '{"code": 0, "data": '), "not JSON", 1),
        ((200, ""), "empty body", 1),
        ((200, [1, 2, 3]), "not an object", 1),
        ((200, {"data": {"session_id": "1"}}), "envelope", 1),
        ((200, {"code": "zero", "data": {}}), "non-numeric code", 1),
        ((200, envelope({"status": 0})), "session_id", 1),
        ((200, envelope(None)), "no data", 1),
    ],
)
async def test_malformed_answers_give_a_clear_error(answer: tuple, needle: str, hits: int) -> None:
    fake = FakeKling()
    _always(fake, "POST", f"{EDIT}/clear-selection", answer)
    async with open_client(fake) as client:
        with pytest.raises(MalformedResponseError) as caught:
            await client.clear_selection(SESSION_ID)
    assert needle in str(caught.value)
    assert fake.hits("POST", f"{EDIT}/clear-selection") == hits


async def test_a_redirect_is_reported_not_followed() -> None:
    fake = FakeKling()
    fake.script(
        "GET",
        TASK_PATH,
        lambda record: web.Response(status=301, headers={"Location": "/elsewhere"}),
    )
    async with open_client(fake) as client:
        with pytest.raises(MalformedResponseError, match="check the base URL"):
            await client.get_edit_task(task_id="123")
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("http", "error", "cls", "hits"),
    [
        (401, {"code": "", "message": "Invalid token (request id: c-1)"}, AuthError, 1),
        (429, {"code": "", "message": "Too many requests (request id: c-1)"}, RateLimitError, 3),
        (524, {"code": "", "message": "upstream timeout (request id: c-1)"}, ServerError, 3),
    ],
)
async def test_cometapi_error_envelope(
    http: int, error: dict, cls: type[KlingError], hits: int
) -> None:
    fake = FakeKling(prefix="/kling")
    _always(fake, "GET", TASK_PATH, (http, {"error": {**error, "type": "comet_api_error"}}))
    async with open_client(fake, CometApiProvider(api_key="comet-key-abcdef123456")) as client:
        with pytest.raises(cls) as caught:
            await client.get_edit_task(task_id="123")
    assert caught.value.request_id == "c-1"
    assert fake.hits("GET", TASK_PATH) == hits


async def test_unknown_path_at_cometapi_is_a_clear_error() -> None:
    fake = FakeKling(prefix="/other")  # every path answers 404 with an HTML page
    async with open_client(fake, CometApiProvider(api_key="comet-key-abcdef123456")) as client:
        with pytest.raises(MalformedResponseError, match="HTTP 404 with an HTML page"):
            await client.get_edit_task(task_id="1")


@pytest.mark.parametrize("action", ["init-selection", "add-selection", "preview-selection"])
async def test_nonzero_data_status_is_a_rejection(action: str) -> None:
    fake = FakeKling()
    data = {**selection_data(action), "status": 7}
    fake.script("POST", f"{EDIT}/{action}", (200, envelope(data, message="recognition failed")))
    async with open_client(fake) as client:
        with pytest.raises(SelectionRejectedError) as caught:
            if action == "init-selection":
                await client.init_selection(video_url="https://v.example/a.mp4")
            elif action == "add-selection":
                await client.add_selection(SESSION_ID, 0, [(0.1, 0.2)])
            else:
                await client.preview_selection(SESSION_ID)
    assert caught.value.selection_status == 7
    assert caught.value.retryable is False
    assert caught.value.kling_message == "recognition failed"
    if action == "init-selection":
        assert "2-5 s or 7-10 s" in caught.value.user_message
    assert len(fake.requests) == 1


async def test_timeout_on_a_safe_call_is_retried_then_reported() -> None:
    fake = FakeKling()
    answer = stall(0.4, (200, envelope(selection_data("clear-selection"))))
    _always(fake, "POST", f"{EDIT}/clear-selection", answer)
    async with open_client(fake, total_timeout=0.1) as client:
        with pytest.raises(NetworkError) as caught:
            await client.clear_selection(SESSION_ID)
    assert caught.value.request_sent is True
    assert "within 0.1 s" in str(caught.value)
    assert fake.hits("POST", f"{EDIT}/clear-selection") == ATTEMPTS


async def test_refused_connection_is_retried_even_for_add_selection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on ``port`` now: every connection is refused before anything is sent.
    sleep = RecordingSleep()
    async with aiohttp.ClientSession() as http:
        client = KlingClient(
            http,
            KlingProvider(api_key="kling-api-key-0123456789abcdef"),
            base_url=f"http://127.0.0.1:{port}",
            retry=RetryPolicy(max_attempts=3, base_delay=0.01),
            sleep=sleep,
        )
        with pytest.raises(NetworkError) as caught:
            await client.add_selection(SESSION_ID, 0, [(0.5, 0.5)])
    assert caught.value.request_sent is False
    assert len(sleep.delays) == 2


async def test_concurrency_full_is_retried_then_surfaces_for_queueing() -> None:
    fake = FakeKling()
    _always(fake, "POST", f"{EDIT}/clear-selection", kling_error(1303, 429))
    async with open_client(fake) as client:
        with pytest.raises(ConcurrencyFullError) as caught:
            await client.clear_selection(SESSION_ID)
    assert caught.value.retryable is True
    assert "queued" in caught.value.user_message
