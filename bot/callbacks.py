"""Kling's task callbacks (SPEC §5, reference §5): a tiny aiohttp app that wakes the job runner.

Kling POSTs to the ``callback_url`` sent with each create call whenever the task changes status.
The bot does not trust the body: a valid callback only makes the runner poll that job now, so
polling stays the single source of truth and a forged or repeated callback cannot change a job.

When a webhook secret (``whsec_...``) is configured every callback must carry a valid
Standard-Webhooks signature: ``webhook-id``, ``webhook-timestamp`` (unix seconds, at most five
minutes off) and ``webhook-signature`` (one or more space-separated ``v1,<base64>``), over
``"{id}.{timestamp}.{raw body}"`` with HMAC-SHA256. A webhook id already seen is refused, so a
captured request cannot be replayed while its timestamp is still fresh.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

log = logging.getLogger(__name__)

CALLBACK_PATH = "/kling/callback/"
# Answers {"ok": true}: lets `kling-bot check` and a proxy's health probe reach the endpoint.
HEALTH_PATH = "/kling/callback-health"
TOLERANCE_SECONDS = 5 * 60
MAX_BODY_BYTES = 256 * 1024
_MAX_REMEMBERED_IDS = 50_000
# Job ids are uuid4 hex; anything else in the path is not one of ours.
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Told the job id of a valid callback; may return an awaitable (it is awaited before answering).
WakeJob = Callable[[str], Awaitable[None] | None]
Clock = Callable[[], float]


class CallbackRejectedError(Exception):
    """A callback that fails verification; ``reason`` is safe to log (no secret, no body)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def callback_url(base_url: str, job_id: str) -> str:
    """The URL sent to Kling for one job."""
    return f"{base_url.rstrip('/')}{CALLBACK_PATH}{job_id}"


def _secret_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        # Not base64: use the text itself rather than refuse to start over a console quirk.
        return secret.encode()


class SignatureVerifier:
    """Standard-Webhooks verification with a freshness window and replay protection."""

    def __init__(
        self, secret: str, *, tolerance: float = TOLERANCE_SECONDS, clock: Clock = time.time
    ) -> None:
        self._key = _secret_key(secret)
        self._tolerance = tolerance
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __repr__(self) -> str:
        return "SignatureVerifier(secret='********')"

    def expected(self, message_id: str, timestamp: str, body: bytes) -> bytes:
        signed = f"{message_id}.{timestamp}.".encode() + body
        return base64.b64encode(hmac.new(self._key, signed, hashlib.sha256).digest())

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Return the webhook id of a valid callback; raise CallbackRejectedError otherwise."""
        message_id = headers.get("webhook-id", "").strip()
        stamp = headers.get("webhook-timestamp", "").strip()
        signatures = headers.get("webhook-signature", "").strip()
        if not (message_id and stamp and signatures):
            raise CallbackRejectedError("missing webhook-id, -timestamp or -signature header")
        try:
            sent_at = int(stamp)
        except ValueError:
            raise CallbackRejectedError("webhook-timestamp is not a number") from None
        now = self._clock()
        if abs(now - sent_at) > self._tolerance:
            raise CallbackRejectedError(f"webhook-timestamp is {now - sent_at:+.0f} s off")
        wanted = self.expected(message_id, stamp, body)
        matched = False
        for candidate in signatures.split():
            version, _, value = candidate.partition(",")
            # Compare every candidate (no early exit) so timing says nothing about which matched.
            if version == "v1" and hmac.compare_digest(value.encode(), wanted):
                matched = True
        if not matched:
            raise CallbackRejectedError("no webhook-signature matches")
        self._forget_old(now)
        if message_id in self._seen:
            raise CallbackRejectedError(f"webhook-id {message_id[:40]} was already delivered")
        self._seen[message_id] = now
        return message_id

    def _forget_old(self, now: float) -> None:
        # An id older than twice the window cannot come back: its timestamp would be stale.
        while self._seen:
            oldest_id, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= 2 * self._tolerance and len(self._seen) < _MAX_REMEMBERED_IDS:
                break
            del self._seen[oldest_id]


def _job_id_from_body(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    info = payload.get("task_info")
    external = info.get("external_task_id") if isinstance(info, dict) else None
    return external if isinstance(external, str) else None


def create_callback_app(
    wake: WakeJob, *, secret: str | None = None, clock: Clock = time.time
) -> web.Application:
    """The callback app: ``POST /kling/callback/{job_id}`` verifies and calls ``wake(job_id)``."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    add_callback_routes(app, wake, secret=secret, clock=clock)
    return app


def add_callback_routes(
    app: web.Application, wake: WakeJob, *, secret: str | None = None, clock: Clock = time.time
) -> None:
    """Add the callback and its health route to `app` (the bot's one web server, bot.web)."""
    verifier = SignatureVerifier(secret, clock=clock) if secret else None

    async def receive(request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        if not _JOB_ID.match(job_id):
            return web.json_response({"ok": False, "error": "unknown job"}, status=404)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"ok": False, "error": "body too large"}, status=413)
        if verifier is not None:
            try:
                verifier.verify(request.headers, body)
            except CallbackRejectedError as rejected:
                log.warning("callback for job %s rejected: %s", job_id, rejected.reason)
                return web.json_response({"ok": False, "error": "rejected"}, status=401)
        named = _job_id_from_body(body)
        if named is not None and named != job_id:
            log.warning("callback for job %s names job %s; ignored", job_id, named[:64])
            return web.json_response({"ok": False, "error": "job mismatch"}, status=400)
        log.info("callback for job %s: polling it now", job_id)
        woken = wake(job_id)
        if inspect.isawaitable(woken):
            await woken
        return web.json_response({"ok": True})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_post(CALLBACK_PATH + "{job_id}", receive)
    app.router.add_get(HEALTH_PATH, health)


async def serve_app(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 60.0
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0 picks a free port): its runner, to clean up when done,
    and the port it listens on. ``shutdown_timeout`` is aiohttp's own default unless given."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]


class CallbackServer:
    """Serves :func:`create_callback_app` on ``host:port`` until closed."""

    def __init__(
        self,
        wake: WakeJob,
        *,
        port: int,
        host: str = "0.0.0.0",  # noqa: S104
        secret: str | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._app = create_callback_app(wake, secret=secret, clock=clock)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        self._runner, self.port = await serve_app(self._app, self._host, self._port)
        log.info("Kling callback endpoint listening on %s:%s", self._host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
