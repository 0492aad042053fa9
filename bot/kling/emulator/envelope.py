"""Kling's response envelope and business error codes, as the emulator speaks them."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

# HTTP status for each business code, from Kling's error-code table (reference §3).
HTTP_STATUS_BY_CODE: dict[int, int] = {
    0: 200,
    1000: 401,
    1001: 401,
    1002: 401,
    1003: 401,
    1004: 401,
    1100: 429,
    1101: 429,
    1102: 429,
    1103: 403,
    1200: 400,
    1201: 400,
    1202: 404,
    1203: 404,
    1300: 400,
    1301: 400,
    1302: 429,
    1303: 429,
    1304: 429,
    5000: 500,
    5001: 503,
    5002: 504,
}

DEFAULT_MESSAGES: dict[int, str] = {
    1000: "Authentication failed",
    1001: "Authorization is empty",
    1002: "Authorization is invalid",
    1003: "Authorization is not yet valid",
    1004: "Authorization has expired",
    1100: "Account exception",
    1101: "Account in arrears",
    1102: "Resource pack depleted or expired",
    1103: "Unauthorized access to requested resource",
    1200: "Invalid request parameters",
    1201: "Invalid parameters",
    1202: "Requested method is invalid",
    1203: "Requested resource does not exist",
    1300: "Trigger platform policy",
    1301: "Trigger content security policy",
    1302: "Request too fast, rate limit exceeded",
    1303: "parallel task over resource pack limit",
    1304: "Trigger IP whitelist policy",
    5000: "Server internal error",
    5001: "Server temporarily unavailable",
    5002: "Server internal timeout",
}


class KlingApiError(Exception):
    """A business error the emulator answers with, in Kling's envelope."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, "error")
        super().__init__(f"{code}: {self.message}")

    @property
    def http_status(self) -> int:
        return HTTP_STATUS_BY_CODE.get(self.code, 400)


def invalid(message: str) -> KlingApiError:
    """Code 1201, whose message names the offending field."""
    return KlingApiError(1201, message)


def http_status_for(code: int) -> int:
    return HTTP_STATUS_BY_CODE.get(code, 400)


def new_request_id() -> str:
    return str(uuid.uuid4())


def ok(data: Any) -> web.Response:
    return web.json_response(
        {"code": 0, "message": "SUCCEED", "request_id": new_request_id(), "data": data}
    )


def error_response(
    code: int, message: str | None = None, status: int | None = None
) -> web.Response:
    err = KlingApiError(code, message)
    return web.json_response(
        {"code": err.code, "message": err.message, "request_id": new_request_id(), "data": None},
        status=status or err.http_status,
    )
