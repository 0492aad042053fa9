"""Discord's JSON error bodies and the exceptions of the stand-in's test API."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
UNKNOWN_APPLICATION_COMMAND = 10063
UNKNOWN_INTERACTION = 10062
INTERACTION_ALREADY_ACKNOWLEDGED = 40060
REQUEST_ENTITY_TOO_LARGE = 40005
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035
CANNOT_EDIT_OTHER_USERS_MESSAGE = 50005

JSON_HEADERS = {"Content-Type": "application/json"}


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON reply whose Content-Type is exactly `application/json`, as discord.py compares it."""
    merged = dict(JSON_HEADERS)
    if headers:
        merged.update(headers)
    return web.Response(body=json.dumps(data).encode(), status=status, headers=merged)


def api_error(
    status: int, code: int, message: str, errors: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    return json_response(body, status=status)


class TwinUsageError(AssertionError):
    """A test asked for what a Discord user could not do (unknown command, no such button)."""


class InteractionFailedError(AssertionError):
    """The client would show "This interaction failed": the bot did not acknowledge in time."""
