"""Which error an answer becomes: the business-code table of reference §3, unknown codes by family
then HTTP status, CometAPI's own envelope, and the status, code, request id and Kling's words an
error keeps."""

from __future__ import annotations

import pytest

from bot.kling.errors import (
    AccessDeniedError,
    AuthError,
    BillingError,
    ConcurrencyFullError,
    ContentPolicyError,
    CreateOutcomeUnknownError,
    InvalidInputError,
    KlingError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    SelectionRejectedError,
    ServerError,
    error_for,
    error_for_cometapi,
)

# (HTTP status, code, class, retryable) exactly as reference §3 lists them.
DOCUMENTED = [
    (401, 1000, AuthError, False),
    (401, 1001, AuthError, False),
    (401, 1002, AuthError, False),
    (401, 1003, AuthError, False),
    (401, 1004, AuthError, False),
    (429, 1100, BillingError, False),
    (429, 1101, BillingError, False),
    (429, 1102, BillingError, False),
    (403, 1103, AccessDeniedError, False),
    (400, 1200, InvalidInputError, False),
    (400, 1201, InvalidInputError, False),
    (404, 1202, NotFoundError, False),
    (404, 1203, NotFoundError, False),
    (400, 1300, ContentPolicyError, False),
    (400, 1301, ContentPolicyError, False),
    (429, 1302, RateLimitError, True),
    (429, 1303, ConcurrencyFullError, True),
    (429, 1304, AccessDeniedError, False),
    (500, 5000, ServerError, True),
    (503, 5001, ServerError, True),
    (504, 5002, ServerError, True),
]


@pytest.mark.parametrize(("http", "code", "cls", "retryable"), DOCUMENTED)
def test_documented_codes(http: int, code: int, cls: type[KlingError], retryable: bool) -> None:
    error = error_for(http, code, "official text", "req-1")
    assert type(error) is cls
    assert error.retryable is retryable
    assert (error.code, error.http_status, error.request_id) == (code, http, "req-1")
    assert error.kling_message == "official text"
    assert error.user_message.endswith(".")
    assert len(error.user_message) < 100
    assert f"code={code}" in str(error)


def test_only_stale_token_codes_ask_for_a_new_token() -> None:
    renewable = {
        code for _, code, _, _ in DOCUMENTED if error_for(401, code, "", None).renew_credentials
    }
    assert renewable == {1000, 1003, 1004}


def test_the_code_decides_not_the_http_status() -> None:
    # 429 is shared by credits, throttling and the IP allow-list.
    assert isinstance(error_for(429, 1102, "", None), BillingError)
    assert isinstance(error_for(429, 1302, "", None), RateLimitError)
    assert isinstance(error_for(429, 1304, "", None), AccessDeniedError)
    assert isinstance(error_for(200, 1301, "", None), ContentPolicyError)


@pytest.mark.parametrize(
    ("http", "code", "cls", "retryable"),
    [
        (401, 1009, AuthError, False),
        (429, 1199, BillingError, False),
        (400, 1250, InvalidInputError, False),
        (400, 1399, ContentPolicyError, False),
        (429, 1399, RateLimitError, True),
        (500, 5099, ServerError, True),
        (502, 7777, ServerError, True),
        (418, 7777, KlingError, False),
        (None, 42, KlingError, False),
    ],
)
def test_unknown_codes_fall_back_by_family_then_http(
    http: int | None, code: int, cls: type[KlingError], retryable: bool
) -> None:
    error = error_for(http, code, "new", None)
    assert type(error) is cls
    assert error.retryable is retryable


@pytest.mark.parametrize(
    ("http", "cls", "retryable"),
    [
        (400, InvalidInputError, False),
        (401, AuthError, False),
        (403, AccessDeniedError, False),
        (404, NotFoundError, False),
        (429, RateLimitError, True),
        (500, ServerError, True),
        (501, ServerError, False),
        (503, ServerError, True),
        (524, ServerError, True),
    ],
)
def test_http_status_alone(http: int, cls: type[KlingError], retryable: bool) -> None:
    error = error_for(http, None, "gateway says no", None)
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.code is None


@pytest.mark.parametrize(
    ("http", "body", "cls", "retryable"),
    [
        (
            401,
            {"code": "", "message": "Invalid token", "type": "comet_api_error"},
            AuthError,
            False,
        ),
        (429, {"code": "rate_limit", "message": "slow down"}, RateLimitError, True),
        (
            403,
            {"code": "insufficient_user_quota", "message": "quota exhausted"},
            BillingError,
            False,
        ),
        (400, {"code": "bad", "message": "image_list is required"}, InvalidInputError, False),
        (503, {"code": "", "message": "upstream busy"}, ServerError, True),
        (524, {"code": "", "message": "origin timeout"}, ServerError, True),
        (
            429,
            {"code": "1303", "message": "parallel task over resource pack limit"},
            ConcurrencyFullError,
            True,
        ),
    ],
)
def test_cometapi_envelope(http: int, body: dict, cls: type[KlingError], retryable: bool) -> None:
    error = error_for_cometapi(http, {**body, "message": body["message"] + " (request id: abc-1)"})
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.request_id == "abc-1"


def test_network_error_knows_whether_the_request_left() -> None:
    assert NetworkError("refused", request_sent=False).request_sent is False
    assert NetworkError("timeout").request_sent is True
    assert NetworkError("timeout").retryable is True


# What an error keeps of Kling's answer (status, code, request id, Kling's own words) --------


@pytest.mark.parametrize("http", [400, 401, 402, 403, 404, 413, 422, 429, 500, 501, 418, None])
def test_an_answer_without_a_code_keeps_status_and_words(http: int | None) -> None:
    error = error_for(http, None, "gateway says no", "req-9")
    assert (error.http_status, error.code, error.request_id) == (http, None, "req-9")
    assert error.kling_message == "gateway says no"
    assert error.renew_credentials is False


@pytest.mark.parametrize(
    ("http", "code", "cls", "retryable"),
    [
        (429, 1105, BillingError, False),  # 11xx is billing, whatever the status says
        (429, 1099, AuthError, False),
        (200, 1250, InvalidInputError, False),
        (200, 1350, ContentPolicyError, False),
        (429, 1350, RateLimitError, True),
        (200, 5004, ServerError, True),  # 5xxx is Kling's own trouble even behind a 200
        (200, 5999, ServerError, True),
        (200, 6001, KlingError, False),
        (200, 4999, KlingError, False),
    ],
)
def test_unknown_codes_keep_what_kling_said(
    http: int, code: int, cls: type[KlingError], retryable: bool
) -> None:
    error = error_for(http, code, "new code", "req-2")
    assert type(error) is cls
    assert error.retryable is retryable
    assert (error.http_status, error.code, error.request_id) == (http, code, "req-2")
    assert error.kling_message == "new code"
    assert error.renew_credentials is False


def test_defaults_of_a_bare_error() -> None:
    error = KlingError()
    assert (error.kling_message, error.code, error.http_status, error.request_id) == (
        "",
        None,
        None,
        None,
    )
    assert error.renew_credentials is False
    assert error.retryable is False
    assert error.user_message == "Kling returned an unexpected error; please try again later."


def test_errors_with_their_own_fields() -> None:
    unknown = CreateOutcomeUnknownError(
        "lost", external_task_id="job-1", known_to_exist=True, http_status=504
    )
    assert (unknown.external_task_id, unknown.known_to_exist) == ("job-1", True)
    assert (unknown.kling_message, unknown.http_status, unknown.retryable) == ("lost", 504, True)
    assert CreateOutcomeUnknownError(external_task_id="job-2").kling_message == ""
    assert CreateOutcomeUnknownError(external_task_id="job-2").known_to_exist is False
    network = NetworkError("refused", request_sent=False, request_id="r-3")
    assert (network.kling_message, network.request_id) == ("refused", "r-3")
    assert NetworkError().kling_message == ""
    rejected = SelectionRejectedError("bad point", selection_status=3, code=0)
    assert (rejected.selection_status, rejected.kling_message, rejected.code) == (3, "bad point", 0)
    assert SelectionRejectedError(selection_status=1).kling_message == ""


@pytest.mark.parametrize(
    ("http", "body", "cls", "code"),
    [
        # A numeric code Kling does not document still travels as a code.
        (429, {"code": "1399", "message": "slow"}, RateLimitError, 1399),
        # A small number is CometAPI's own, not a Kling code.
        (400, {"code": "42", "message": "bad"}, InvalidInputError, None),
        (400, {"code": 7, "message": "bad"}, InvalidInputError, None),
        # Only the code says it is about money.
        (403, {"code": "insufficient_user_quota", "message": "nope"}, BillingError, None),
        (429, {"code": "balance_low", "message": "nope"}, BillingError, None),
    ],
)
def test_cometapi_codes(
    http: int, body: dict[str, object], cls: type[KlingError], code: int | None
) -> None:
    error = error_for_cometapi(http, body)
    assert type(error) is cls
    assert (error.code, error.http_status, error.request_id) == (code, http, None)
    assert error.kling_message == body["message"]
