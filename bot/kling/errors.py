"""One exception family for everything that can go wrong talking to Kling.

Kling answers errors with an HTTP status *and* a business ``code`` (reference §3). The HTTP status
is shared by unrelated failures (429 covers both "out of credits" and "slow down"), so the mapping
here is keyed on ``code`` first and falls back to the HTTP status only when no code was sent.

``retryable`` means "the very same request may succeed if sent again later, unchanged". Auth codes
1000/1003/1004 are *not* retryable in that sense: the client renews the JWT once by itself
(``renew_credentials``) and, if Kling still refuses, nothing the caller can do will help.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.errors import as_text
from bot.i18n import Msg, Text
from bot.logs import redact_jwts

# Kling messages are shown to users and logged; keep them short.
_MAX_KLING_MESSAGE = 300


class KlingError(Exception):
    """Base class: any failure of a Kling API call."""

    default_user_message = Msg("Kling returned an unexpected error; please try again later.")
    default_retryable = False

    def __init__(
        self,
        kling_message: str = "",
        *,
        code: int | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        user_message: str | None = None,
        retryable: bool | None = None,
        renew_credentials: bool = False,
    ) -> None:
        self.kling_message = _shorten(kling_message)
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.user_message = user_message or self.default_user_message
        self.retryable = self.default_retryable if retryable is None else retryable
        self.renew_credentials = renew_credentials
        super().__init__(self._summary())

    @property
    def message(self) -> Text:
        """``user_message`` as a translatable :class:`~bot.i18n.Text`."""
        return as_text(self.user_message)

    def _summary(self) -> str:
        parts = [type(self).__name__]
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        head = " ".join(parts)
        return f"{head}: {self.kling_message}" if self.kling_message else head

    def redact(self, secrets: Iterable[str]) -> None:
        """Blank out any secret that Kling (or a proxy) echoed back in its message."""
        self.kling_message = redact_text(self.kling_message, secrets)
        self.args = (self._summary(),)

    def __repr__(self) -> str:
        return f"<{self._summary()}>"


class AuthError(KlingError):
    default_user_message = Msg("The bot's Kling credentials were rejected; ask a server admin.")


class AccessDeniedError(AuthError):
    """1103 (no permission for this API/model) and 1304 (IP allow-list)."""

    default_user_message = Msg(
        "The bot's Kling account may not use this feature; ask a server admin."
    )


class BillingError(KlingError):
    default_user_message = Msg("Kling's account is out of credits; ask a server admin.")


class InvalidInputError(KlingError):
    default_user_message = Msg("Kling rejected the request as invalid.")


class NotFoundError(KlingError):
    default_user_message = Msg("Kling could not find that task or session.")


class ContentPolicyError(KlingError):
    default_user_message = Msg(
        "Kling rejected the content under its content policy; try other inputs."
    )


class RateLimitError(KlingError):
    default_user_message = Msg("Kling is busy right now; the bot will try again shortly.")
    default_retryable = True


class ConcurrencyFullError(RateLimitError):
    default_user_message = Msg(
        "Kling's account is running its maximum number of jobs; yours is queued."
    )


class ServerError(KlingError):
    default_user_message = Msg("Kling is having trouble right now; please try again later.")
    default_retryable = True


class NetworkError(KlingError):
    """Timeout, refused or dropped connection.

    ``request_sent`` is False only when the connection was never made, so Kling cannot have
    acted on the request; otherwise the outcome is unknown.
    """

    default_user_message = Msg("The bot could not reach Kling; please try again later.")
    default_retryable = True

    def __init__(
        self, kling_message: str = "", *, request_sent: bool = True, **kwargs: Any
    ) -> None:
        self.request_sent = request_sent
        super().__init__(kling_message, **kwargs)


class MalformedResponseError(KlingError):
    """Kling (or a proxy in front of it) answered with something that is not its JSON envelope."""

    default_user_message = Msg("Kling sent an unreadable answer; please try again later.")


class SelectionRejectedError(KlingError):
    """A selection call succeeded at the envelope level but ``data.status`` was non-zero."""

    default_user_message = Msg(
        "Kling could not use that selection; try marking the object differently."
    )

    def __init__(self, kling_message: str = "", *, selection_status: int, **kwargs: Any) -> None:
        self.selection_status = selection_status
        super().__init__(kling_message, **kwargs)


class CreateOutcomeUnknownError(KlingError):
    """A create call failed in transit and the follow-up lookup also failed.

    The task may or may not exist; look it up later by ``external_task_id`` before sending again.
    """

    default_user_message = Msg(
        "The bot lost contact with Kling while submitting; it will check back."
    )
    default_retryable = True

    def __init__(
        self,
        kling_message: str = "",
        *,
        external_task_id: str,
        known_to_exist: bool = False,
        **kwargs: Any,
    ) -> None:
        self.external_task_id = external_task_id
        # Kling refused the id as taken: the task exists even if no lookup shows it yet.
        self.known_to_exist = known_to_exist
        super().__init__(kling_message, **kwargs)


# code -> (class, retryable, user message or None for the class default)
_CODE_TABLE: dict[int, tuple[type[KlingError], bool, Msg | None]] = {
    1000: (AuthError, False, None),
    1001: (AuthError, False, Msg("The bot sent no Kling credentials; ask a server admin.")),
    1002: (AuthError, False, None),
    1003: (
        AuthError,
        False,
        Msg("The bot's Kling token is not valid yet; check the server clock."),
    ),
    1004: (AuthError, False, Msg("The bot's Kling token has expired; ask a server admin.")),
    1100: (BillingError, False, Msg("Kling flagged the bot's account; ask a server admin.")),
    1101: (BillingError, False, Msg("Kling's account has unpaid bills; ask a server admin.")),
    1102: (BillingError, False, None),
    1103: (AccessDeniedError, False, None),
    1200: (InvalidInputError, False, None),
    1201: (InvalidInputError, False, None),
    1202: (NotFoundError, False, Msg("The bot called a Kling endpoint that does not exist.")),
    1203: (NotFoundError, False, None),
    1300: (ContentPolicyError, False, Msg("Kling refused the request under its platform policy.")),
    1301: (ContentPolicyError, False, None),
    1302: (RateLimitError, True, None),
    1303: (ConcurrencyFullError, True, None),
    1304: (
        AccessDeniedError,
        False,
        Msg("Kling refused the bot's IP address; ask a server admin."),
    ),
    5000: (ServerError, True, None),
    5001: (ServerError, True, Msg("Kling is under maintenance; please try again later.")),
    5002: (ServerError, True, Msg("Kling timed out internally; please try again later.")),
}

# Codes after which a fresh JWT may help: 1000 ("regenerate once"), 1003 (skew), 1004 (expiry).
RENEWABLE_AUTH_CODES = frozenset({1000, 1003, 1004})

_FAMILY_BY_PREFIX: dict[int, type[KlingError]] = {
    10: AuthError,
    11: BillingError,
    12: InvalidInputError,
    13: ContentPolicyError,
}

# Gateway statuses worth another try (CometAPI lists 429/500/503/504/524).
_RETRYABLE_HTTP = frozenset({429, 500, 502, 503, 504, 524})


def error_for(
    http_status: int | None,
    code: int | None,
    message: str | None,
    request_id: str | None,
) -> KlingError:
    """Build the right exception for an error answer, keyed on ``code`` first."""
    text = message or ""
    common: dict[str, Any] = {"code": code, "http_status": http_status, "request_id": request_id}
    if code is not None and code in _CODE_TABLE:
        cls, retryable, user_message = _CODE_TABLE[code]
        return cls(
            text,
            retryable=retryable,
            user_message=user_message,
            renew_credentials=code in RENEWABLE_AUTH_CODES,
            **common,
        )
    if code is not None:
        family = _FAMILY_BY_PREFIX.get(code // 100)
        if family is ContentPolicyError and http_status == 429:
            # An unknown 13xx sent with 429 looks like throttling (1302/1303), not a policy hit.
            return RateLimitError(text, **common)
        if family is not None:
            return family(text, retryable=False, **common)
        if code // 1000 == 5:
            return ServerError(text, **common)
    return _error_for_http_status(http_status, text, common)


def _error_for_http_status(
    http_status: int | None, text: str, common: dict[str, Any]
) -> KlingError:
    status = http_status or 0
    if status == 401:
        return AuthError(text, **common)
    if status == 402:
        return BillingError(text, **common)
    if status == 403:
        return AccessDeniedError(text, **common)
    if status == 404:
        return NotFoundError(text, **common)
    if status == 429:
        return RateLimitError(text, **common)
    if status in (400, 413, 422):
        return InvalidInputError(text, **common)
    if status >= 500:
        return ServerError(text, retryable=status in _RETRYABLE_HTTP, **common)
    return KlingError(text, **common)


_COMET_REQUEST_ID = re.compile(r"\(request id: ([^)]+)\)")
_COMET_BILLING_HINTS = ("quota", "balance", "credit", "insufficient")


def error_for_cometapi(http_status: int | None, error: dict[str, object]) -> KlingError:
    """Map CometAPI's own ``{"error": {"code", "message", "type"}}`` envelope."""
    message = str(error.get("message") or "")
    raw_code = error.get("code")
    match = _COMET_REQUEST_ID.search(message)
    request_id = match.group(1).strip() if match else None
    numeric = code_as_int(raw_code)
    if numeric is not None and (numeric in _CODE_TABLE or numeric >= 1000):
        return error_for(http_status, numeric, message, request_id)
    hint = f"{raw_code or ''} {error.get('type') or ''} {message}".lower()
    common: dict[str, Any] = {"code": None, "http_status": http_status, "request_id": request_id}
    if http_status in (402, 403, 429) and any(word in hint for word in _COMET_BILLING_HINTS):
        return BillingError(message, retryable=False, **common)
    return _error_for_http_status(http_status, message, common)


def code_as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _shorten(text: str) -> str:
    text = " ".join(str(text).split())
    if len(text) > _MAX_KLING_MESSAGE:
        return text[: _MAX_KLING_MESSAGE - 1] + "…"
    return text


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each (non-trivial) secret, and any JWT (one minted before a
    renewal is no longer among the provider's secrets), with a placeholder."""
    for secret in secrets:
        if secret and len(secret) >= 6 and secret in text:
            text = text.replace(secret, "[redacted]")
    return redact_jwts(text)
