"""What the client logs, and that no secret or base64 payload ever reaches logs or exceptions."""

from __future__ import annotations

import base64
import logging

import pytest
from aiohttp import web

from bot.kling import (
    AuthError,
    CometApiProvider,
    CreateEditTask,
    KlingError,
    KlingProvider,
    Provider,
)
from tests.bot.kling.fake_kling import API_KEY, EDIT, SESSION_ID, FakeKling, Recorded, open_client

SECRET_KEY = "kling-secret-key-never-logged-0123456789"
COMET_KEY = "comet-key-never-logged-0123456789"
IMAGE_B64 = base64.b64encode(bytes(range(256)) * 8).decode()


def _echo_authorization(record: Recorded) -> web.Response:
    """A careless server that repeats the credentials it got inside its error message."""
    header = record.headers.get("Authorization", "")
    return web.json_response(
        {"code": 1002, "message": f"Authorization is invalid: {header}", "request_id": "r-echo"},
        status=401,
    )


PROVIDERS = {
    "api_key": lambda: KlingProvider(api_key=API_KEY),
    "jwt": lambda: KlingProvider(access_key="ak-visible-id", secret_key=SECRET_KEY),
    "cometapi": lambda: CometApiProvider(api_key=COMET_KEY),
}


@pytest.mark.parametrize("kind", sorted(PROVIDERS))
async def test_no_secret_or_base64_in_logs_or_errors(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider: Provider = PROVIDERS[kind]()
    fake = FakeKling(prefix=provider.path_prefix)
    request = CreateEditTask(
        session_id=SESSION_ID,
        edit_mode="swap",
        images=[IMAGE_B64],
        prompt="swap the cap from <<<image_1>>> for the hat in <<<video_1>>>",
    )
    errors: list[KlingError] = []
    async with open_client(fake, provider) as client:
        await client.create_edit_task(request)
        fake.script("POST", f"{EDIT}/clear-selection", _echo_authorization, _echo_authorization)
        with pytest.raises(AuthError) as caught:
            await client.clear_selection(SESSION_ID)
        errors.append(caught.value)
    sent_tokens = {r.headers["Authorization"].removeprefix("Bearer ") for r in fake.requests}
    secrets = {API_KEY, SECRET_KEY, COMET_KEY, *sent_tokens}
    texts = [caplog.text, *(str(e) for e in errors), *(repr(e) for e in errors)]
    texts += [e.kling_message for e in errors]
    for text in texts:
        for secret in secrets:
            assert secret not in text
        assert "Bearer" not in text or "[redacted]" in text
        assert IMAGE_B64[:80] not in text
    assert "[redacted]" in errors[0].kling_message
    assert fake.requests[0].body["image_list"] == [{"image": IMAGE_B64}]  # sent in full


async def test_log_lines_carry_method_path_code_request_id_and_latency(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.kling")
    fake = FakeKling()
    fake.script(
        "POST",
        f"{EDIT}/preview-selection",
        (429, {"code": 1302, "message": "slow", "request_id": "req-1302"}),
    )
    async with open_client(fake) as client:
        await client.init_selection(video_url="https://v.example/a.mp4")
        await client.preview_selection(SESSION_ID)
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.kling"]
    init_line = next(m for m in messages if "init-selection ->" in m)
    assert init_line.startswith(f"kling POST {EDIT}/init-selection -> http=200 code=0")
    assert "request_id=req-fake-1" in init_line
    assert init_line.endswith(" ms")
    failed = next(m for m in messages if "preview-selection -> http=429" in m)
    assert "code=1302 request_id=req-1302" in failed
    assert "RateLimitError" in failed
    assert any("retrying in" in m for m in messages)
    levels = {r.levelno for r in caplog.records if "http=429" in r.getMessage()}
    assert levels == {logging.WARNING}
