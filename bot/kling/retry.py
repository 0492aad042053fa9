"""Retry policy and the rules for which failures may be repeated safely."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from bot.kling.errors import (
    ContentPolicyError,
    InvalidInputError,
    KlingError,
    MalformedResponseError,
    NetworkError,
    RateLimitError,
    ServerError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: wait ``U(0, min(max_delay, base_delay * 2**n))``."""

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays must not be negative")

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        """Wait before the next try, after ``failures`` failed tries (1 for the first)."""
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** max(0, failures - 1)))
        return rng() * ceiling if self.jitter else ceiling


def proves_not_processed(error: KlingError) -> bool:
    """True when Kling certainly did not act on the request, so repeating it cannot double up.

    Only a throttle answer (1302/1303) or a connection that was never made (refused, DNS, connect
    timeout: ``request_sent`` False, see the transport) proves it. A timeout or a connection
    dropped after the request went out proves nothing: Kling may have stored the task.
    """
    if isinstance(error, RateLimitError):
        return True
    return isinstance(error, NetworkError) and not error.request_sent


def refuses_duplicate_id(error: KlingError) -> bool:
    """True when a create was refused because its ``external_task_id`` is already taken.

    The task exists at Kling (an earlier send of this very job), so the caller must look it up
    and adopt it, never fail the job. Kling's docs name no code for this refusal. Two readings
    are accepted: a parameter error (1200/1201, "invalid parameters, read the message"; this is
    how the emulator and the reference's error table read it) or a platform-policy refusal
    (13xx other than the 1302/1303 throttles). Either way it counts only when Kling's message
    names the external task id, so an unrelated bad parameter still fails the job.
    """
    if not isinstance(error, InvalidInputError | ContentPolicyError):
        return False
    if error.code is None or not 1200 <= error.code < 1400:
        return False
    text = error.kling_message.lower().replace(" ", "_").replace("-", "_")
    return "external_task_id" in text or "externaltaskid" in text


def create_outcome_unknown(error: KlingError) -> bool:
    """True when a create may have reached Kling and been stored despite the error."""
    if isinstance(error, NetworkError):
        return error.request_sent
    if isinstance(error, ServerError):
        return True
    if isinstance(error, MalformedResponseError):
        status = error.http_status
        return status is None or status < 300 or status >= 500
    return False


def unknown_route(error: KlingError) -> bool:
    """404 for the route itself (1202 or no code), as opposed to 1203 "no such resource"."""
    if error.http_status != 404:
        return False
    return isinstance(error, MalformedResponseError) or error.code in (None, 1202)
