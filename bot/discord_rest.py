"""A few bot-token calls to Discord's REST API over plain aiohttp, for `kling-bot check` and
`kling-bot invite`: they run without logging in to the gateway, and bot/ never imports discord."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.config import Config

DISCORD_API = "https://discord.com/api/v10"
# Discord asks every client for "DiscordBot (url, version)"; the project has no URL of its own.
USER_AGENT = "DiscordBot (kling-discord-bot, 0.1)"
TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=10)


class DiscordUnreachableError(Exception):
    """No HTTP answer at all: DNS, refused connection, TLS or timeout. Names no secret."""


class DiscordHttpError(Exception):
    """Discord answered with an error status (401: the token is refused)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if message else f"HTTP {status}")
        self.status = status
        self.message = message


def api_base(config: Config) -> str:
    return (config.discord.api_base or DISCORD_API).rstrip("/")


class DiscordRest:
    """GET requests authorised with the bot token, over a caller-owned session."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self._http = http
        self.base = base.rstrip("/")
        self._token = token

    def __repr__(self) -> str:
        return f"DiscordRest(base={self.base!r})"

    async def get(self, path: str, **params: str) -> Any:
        headers = {"Authorization": f"Bot {self._token}", "User-Agent": USER_AGENT}
        try:
            async with self._http.get(
                self.base + path,
                headers=headers,
                params=params,
                timeout=TIMEOUT,
                allow_redirects=False,
            ) as response:
                status = response.status
                try:
                    body: Any = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            # aiohttp's text names the host and the OS error, never the headers.
            reason = str(exc).replace(self._token, "[redacted]") or type(exc).__name__
            raise DiscordUnreachableError(reason) from None
        if status >= 300:
            message = body.get("message", "") if isinstance(body, dict) else ""
            raise DiscordHttpError(status, str(message).replace(self._token, "[redacted]")[:200])
        if body is None:
            raise DiscordHttpError(status, "the answer is not JSON: is this Discord's API?")
        return body


async def application_id(config: Config) -> int:
    """The application (client) id behind the configured token: `GET /oauth2/applications/@me`."""
    if not config.discord.token:
        raise ValueError("no Discord token configured")
    async with aiohttp.ClientSession() as http:
        rest = DiscordRest(http, api_base(config), config.discord.token.reveal())
        app = await rest.get("/oauth2/applications/@me")
    if not isinstance(app, dict) or not str(app.get("id", "")).isdigit():
        raise DiscordHttpError(200, "the answer has no application id: is this Discord's API?")
    return int(app["id"])
