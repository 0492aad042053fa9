"""The bot's one web server (SPEC §10): Kling's callback endpoint, a health check and, when a
public URL is configured, the picker.

Every response, errors included, carries a strict Content-Security-Policy (the page loads only
its own script and style and talks only to this server), ``Cache-Control: no-store`` (pages,
frames and masks are personal, and masks change with every click; the page keeps the frames it
needs itself) and ``Referrer-Policy: no-referrer`` (the
token in the page's URL never leaves in a Referer header).
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from bot.callbacks import MAX_BODY_BYTES, Clock, WakeJob, add_callback_routes, serve_app
from bot.web.picker import Picker

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}


async def _secure_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value


def create_web_app(
    *,
    wake: WakeJob | None = None,
    webhook_secret: str | None = None,
    picker: Picker | None = None,
    clock: Clock = time.time,
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.on_response_prepare.append(_secure_headers)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get(HEALTH_PATH, health)
    if wake is not None:
        add_callback_routes(app, wake, secret=webhook_secret, clock=clock)
    if picker is not None:
        picker.add_routes(app)
    return app


class WebServer:
    """Serves :func:`create_web_app` on ``host:port`` until closed."""

    def __init__(
        self,
        *,
        port: int,
        host: str = "0.0.0.0",  # noqa: S104
        wake: WakeJob | None = None,
        webhook_secret: str | None = None,
        picker: Picker | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.app = create_web_app(
            wake=wake, webhook_secret=webhook_secret, picker=picker, clock=clock
        )
        self.picker = picker
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        # Open event streams end on shutdown (the picker's on_shutdown), so a short timeout
        # is enough for the rest to finish.
        self._runner, self.port = await serve_app(
            self.app, self._host, self._port, shutdown_timeout=2.0
        )
        log.info(
            "web server listening on %s:%s (%s)",
            self._host,
            self.port,
            "picker and callbacks" if self.picker else "callbacks",
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
