"""One HTTP exchange with Kling: send, time out, read, and check the envelope.

This module turns every way a call can go wrong into a ``KlingError`` (never a bare aiohttp or
JSON exception), renews a stale JWT once, redacts secrets, and logs one line per exchange.
Retry *policy* (which failures to repeat, and when) belongs to the client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.kling.auth import Provider
from bot.kling.errors import (
    KlingError,
    MalformedResponseError,
    NetworkError,
    code_as_int,
    error_for,
    error_for_cometapi,
    redact_text,
)

log = logging.getLogger("bot.kling")

# Long strings in request bodies are base64 images or long prompts; never log them whole.
_LOG_STRING_LIMIT = 64
_SNIPPET_LIMIT = 120

# The largest answer read from Kling. The biggest honest one is a selection answer: every object's
# mask twice (RLE counts and a base64 PNG). A 4K mask whose runs are single pixels is 8 MiB of
# counts; real masks are tens of KiB. 64 MiB leaves room for several worst cases and still stops
# a broken or hostile server from making the bot buffer gigabytes (JSON parsing multiplies the
# body's size again in memory).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# Bodies larger than this are parsed in a worker thread: json.loads of a few MiB takes tens of
# milliseconds, which would stall every other task on the event loop.
PARSE_IN_THREAD_BYTES = 256 * 1024
_READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Envelope:
    """A successful answer: Kling's ``data`` plus what identifies the exchange."""

    data: Any
    request_id: str | None
    http_status: int
    message: str | None = None


def redact_payload(value: Any) -> Any:
    """A copy of a JSON body safe to log: long strings (base64 images, prompts) are summarised."""
    if isinstance(value, str):
        return value if len(value) <= _LOG_STRING_LIMIT else f"<{len(value)} chars>"
    if isinstance(value, Mapping):
        return {key: redact_payload(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_payload(item) for item in value]
    return value


def parse_envelope(http_status: int, payload: Any) -> Envelope:
    """Check the HTTP status and the business ``code``; raise the matching ``KlingError``."""
    if not isinstance(payload, dict):
        raise MalformedResponseError(
            f"Kling answered HTTP {http_status} with JSON that is not an object",
            http_status=http_status,
        )
    comet_error = payload.get("error")
    if comet_error is not None and "code" not in payload:
        details = comet_error if isinstance(comet_error, dict) else {"message": str(comet_error)}
        raise error_for_cometapi(http_status, details)
    message = _as_text(payload.get("message"))
    request_id = _as_text(payload.get("request_id"))
    if "code" not in payload:
        if http_status >= 400:
            raise error_for(http_status, None, message, request_id)
        raise MalformedResponseError(
            f"Kling answered HTTP {http_status} with JSON lacking the code/data envelope",
            http_status=http_status,
            request_id=request_id,
        )
    code = code_as_int(payload.get("code"))
    if code is None:
        raise MalformedResponseError(
            f"Kling answered HTTP {http_status} with a non-numeric code",
            http_status=http_status,
            request_id=request_id,
        )
    if code != 0 or http_status >= 400:
        raise error_for(http_status, code if code != 0 else None, message, request_id)
    return Envelope(payload.get("data"), request_id, http_status, message)


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _describe_non_json(http_status: int, body: bytes) -> MalformedResponseError:
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        kind = "an empty body"
    elif text[:1] == "<":
        kind = "an HTML page"
    else:
        kind = "text that is not JSON"
    return MalformedResponseError(
        f"Kling answered HTTP {http_status} with {kind} instead of JSON: {text[:_SNIPPET_LIMIT]}",
        http_status=http_status,
        # A gateway error page (502/503/504) is worth another try; a 2xx/4xx page is not.
        retryable=http_status >= 500 or http_status == 429,
    )


class Transport:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        provider: Provider,
        *,
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        total_timeout: float = 60.0,
    ) -> None:
        self._session = session
        self._provider = provider
        self._base_url = (base_url or provider.base_url).rstrip("/")
        self._timeout = aiohttp.ClientTimeout(
            total=total_timeout, connect=connect_timeout, sock_connect=connect_timeout
        )
        self._total_timeout = total_timeout

    def url_for(self, path: str) -> str:
        return f"{self._base_url}{self._provider.path_prefix}{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Envelope:
        """One logical call; a stale JWT (1000/1003/1004) is renewed and the call re-sent once."""
        renewed = False
        while True:
            try:
                return await self._exchange(method, path, json_body, params)
            except KlingError as error:
                if error.renew_credentials and not renewed and self._provider.renew():
                    renewed = True
                    log.info("kling %s %s: code %s, renewing the token", method, path, error.code)
                    continue
                raise

    async def _exchange(
        self,
        method: str,
        path: str,
        json_body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
    ) -> Envelope:
        headers = {"Accept": "application/json", **self._provider.auth_headers()}
        secrets = self._provider.secrets()
        if json_body is not None and log.isEnabledFor(logging.DEBUG):
            log.debug("kling %s %s body=%s", method, path, redact_payload(json_body))
        started = time.monotonic()
        try:
            envelope = await self._send(method, path, json_body, params, headers)
        except KlingError as error:
            error.redact(secrets)
            log.warning(
                "kling %s %s -> http=%s code=%s request_id=%s %.0f ms: %s",
                method,
                path,
                error.http_status,
                error.code,
                error.request_id,
                (time.monotonic() - started) * 1000,
                type(error).__name__,
            )
            raise
        log.log(
            logging.DEBUG if method == "GET" else logging.INFO,
            "kling %s %s -> http=%s code=0 request_id=%s %.0f ms",
            method,
            path,
            envelope.http_status,
            envelope.request_id,
            (time.monotonic() - started) * 1000,
        )
        return envelope

    async def _send(
        self,
        method: str,
        path: str,
        json_body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        headers: dict[str, str],
    ) -> Envelope:
        url = self.url_for(path)
        try:
            async with self._session.request(
                method,
                url,
                json=json_body,
                params=params,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                location = response.headers.get("Location", "")
                body = await _read_capped(response)
        # Only these two prove that no byte of the request reached Kling: aiohttp raises them
        # while opening the connection (DNS, refused, unreachable, TLS, connect timeout), before
        # sending. Everything after that (read timeout, reset, disconnect) leaves it unknown.
        except aiohttp.ConnectionTimeoutError as exc:
            raise NetworkError(
                f"could not connect to Kling in time ({type(exc).__name__})", request_sent=False
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise NetworkError(
                f"could not connect to Kling: {redact_text(str(exc), headers.values())}",
                request_sent=False,
            ) from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise NetworkError(f"no answer from Kling within {self._total_timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise NetworkError(f"connection to Kling dropped ({type(exc).__name__})") from None

        if 300 <= status < 400:
            raise MalformedResponseError(
                f"Kling answered HTTP {status} redirecting to {location or '?'}; "
                "check the base URL",
                http_status=status,
            )
        try:
            if len(body) > PARSE_IN_THREAD_BYTES:
                payload = await asyncio.to_thread(_decode_json, body)
            else:
                payload = _decode_json(body)
        except ValueError:
            raise _describe_non_json(status, body) from None
        return parse_envelope(status, payload)


def _decode_json(body: bytes) -> Any:
    return json.loads(body)


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The whole body, or ``MalformedResponseError`` once it passes ``MAX_RESPONSE_BYTES``."""
    declared = response.content_length
    if declared is not None and declared > MAX_RESPONSE_BYTES:
        raise _too_large(response.status, f"declared {declared} bytes")
    parts: list[bytes] = []
    size = 0
    async for part in response.content.iter_chunked(_READ_CHUNK):
        size += len(part)
        if size > MAX_RESPONSE_BYTES:
            raise _too_large(response.status, f"more than {MAX_RESPONSE_BYTES} bytes")
        parts.append(part)
    return b"".join(parts)


def _too_large(http_status: int, how_big: str) -> MalformedResponseError:
    return MalformedResponseError(
        f"Kling answered HTTP {http_status} with a body too large to read ({how_big}; the limit "
        f"is {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB)",
        http_status=http_status,
    )
