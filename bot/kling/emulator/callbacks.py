"""Status-change callbacks to a task's callback_url, optionally Standard-Webhooks signed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

_CALLBACK_TIMEOUT_S = 10.0


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(
    secret: str, body: bytes, *, message_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    # Receivers compare against their own wall clock, so this is real time, not the emulator's.
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


@dataclass
class CallbackDelivery:
    """One attempted POST, kept so tests and operators can see what was sent."""

    url: str
    task_id: str
    task_status: str
    http_status: int | None
    error: str | None
    body: dict[str, Any]


def legacy_payload(task_payload: dict[str, Any]) -> dict[str, Any]:
    """The callback body of reference §5 (legacy models) from a query-style task payload."""
    keys = (
        "task_id",
        "task_status",
        "task_status_msg",
        "created_at",
        "updated_at",
        "final_unit_deduction",
        "final_balance_deduction",
        "task_info",
        "task_result",
    )
    body = {key: task_payload[key] for key in keys if key in task_payload}
    videos = body.get("task_result", {}).get("videos", [])
    if videos:
        body["task_result"] = {
            "videos": [{k: v[k] for k in ("id", "url", "duration") if k in v} for v in videos]
        }
    return body


async def deliver(
    http: aiohttp.ClientSession, url: str, payload: dict[str, Any], secret: str | None
) -> CallbackDelivery:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        headers.update(signature_headers(secret, raw))
    status: int | None = None
    error: str | None = None
    try:
        async with http.post(
            url, data=raw, headers=headers, timeout=aiohttp.ClientTimeout(total=_CALLBACK_TIMEOUT_S)
        ) as reply:
            status = reply.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = type(exc).__name__
    return CallbackDelivery(
        url, str(payload.get("task_id")), str(payload.get("task_status")), status, error, payload
    )
