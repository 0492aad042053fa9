"""The words a Kling error carries: the sentence a member reads for each code, HTTP status and
CometAPI answer (and whether it is tried again), the one-line summary, Kling's own text cut to 300
characters, and secrets redacted from all of them."""

from __future__ import annotations

import pytest

from bot.kling.errors import (
    KlingError,
    error_for,
    error_for_cometapi,
    redact_text,
)


def test_billing_message_tells_the_user_whom_to_ask() -> None:
    assert error_for(429, 1102, "", None).user_message == (
        "Kling's account is out of credits; ask a server admin."
    )


def test_secrets_are_redacted_from_message_str_and_repr() -> None:
    error = error_for(401, 1002, "bad header: Bearer sk-live-123456789", "r")
    error.redact(["sk-live-123456789"])
    for text in (str(error), repr(error), error.kling_message):
        assert "sk-live-123456789" not in text
        assert "[redacted]" in text


def test_long_kling_messages_are_shortened() -> None:
    error = error_for(400, 1201, "x" * 5000, None)
    assert len(error.kling_message) <= 300


# The sentence a member reads for each answer, and whether it is tried again ------------------

USER_SENTENCES = [
    (401, 1000, "The bot's Kling credentials were rejected; ask a server admin.", False),
    (401, 1001, "The bot sent no Kling credentials; ask a server admin.", False),
    (401, 1002, "The bot's Kling credentials were rejected; ask a server admin.", False),
    (401, 1003, "The bot's Kling token is not valid yet; check the server clock.", False),
    (401, 1004, "The bot's Kling token has expired; ask a server admin.", False),
    (429, 1100, "Kling flagged the bot's account; ask a server admin.", False),
    (429, 1101, "Kling's account has unpaid bills; ask a server admin.", False),
    (429, 1102, "Kling's account is out of credits; ask a server admin.", False),
    (403, 1103, "The bot's Kling account may not use this feature; ask a server admin.", False),
    (400, 1200, "Kling rejected the request as invalid.", False),
    (400, 1201, "Kling rejected the request as invalid.", False),
    (404, 1202, "The bot called a Kling endpoint that does not exist.", False),
    (404, 1203, "Kling could not find that task or session.", False),
    (400, 1300, "Kling refused the request under its platform policy.", False),
    (400, 1301, "Kling rejected the content under its content policy; try other inputs.", False),
    (429, 1302, "Kling is busy right now; the bot will try again shortly.", True),
    (429, 1303, "Kling's account is running its maximum number of jobs; yours is queued.", True),
    (429, 1304, "Kling refused the bot's IP address; ask a server admin.", False),
    (500, 5000, "Kling is having trouble right now; please try again later.", True),
    (503, 5001, "Kling is under maintenance; please try again later.", True),
    (504, 5002, "Kling timed out internally; please try again later.", True),
]


@pytest.mark.parametrize(("http", "code", "sentence", "retryable"), USER_SENTENCES)
def test_every_code_has_its_user_sentence(
    http: int, code: int, sentence: str, retryable: bool
) -> None:
    error = error_for(http, code, "official text", None)
    assert error.user_message == sentence
    assert str(error.message) == sentence
    assert error.retryable is retryable
    # The same code sent through CometAPI's envelope means the same thing.
    comet = error_for_cometapi(http, {"code": str(code), "message": "official text"})
    assert (comet.user_message, comet.retryable, comet.code) == (sentence, retryable, code)
    assert (comet.http_status, comet.kling_message) == (http, "official text")


@pytest.mark.parametrize(
    ("http", "sentence", "retryable"),
    [
        (400, "Kling rejected the request as invalid.", False),
        (401, "The bot's Kling credentials were rejected; ask a server admin.", False),
        (402, "Kling's account is out of credits; ask a server admin.", False),
        (403, "The bot's Kling account may not use this feature; ask a server admin.", False),
        (404, "Kling could not find that task or session.", False),
        (413, "Kling rejected the request as invalid.", False),
        (422, "Kling rejected the request as invalid.", False),
        (429, "Kling is busy right now; the bot will try again shortly.", True),
        (500, "Kling is having trouble right now; please try again later.", True),
        (501, "Kling is having trouble right now; please try again later.", False),
        (502, "Kling is having trouble right now; please try again later.", True),
        (504, "Kling is having trouble right now; please try again later.", True),
        (499, "Kling returned an unexpected error; please try again later.", False),
        (None, "Kling returned an unexpected error; please try again later.", False),
    ],
)
def test_http_status_without_a_code_has_its_user_sentence(
    http: int | None, sentence: str, retryable: bool
) -> None:
    error = error_for(http, None, "gateway says no", None)
    assert error.user_message == sentence
    assert error.retryable is retryable
    assert error.renew_credentials is False


@pytest.mark.parametrize(
    ("http", "body", "sentence", "retryable"),
    [
        # CometAPI 402: the prepaid balance is gone, whatever words it uses.
        (
            402,
            {"code": "", "message": "insufficient balance"},
            "Kling's account is out of credits; ask a server admin.",
            False,
        ),
        (
            402,
            {"code": "payment_required", "message": "pay first"},
            "Kling's account is out of credits; ask a server admin.",
            False,
        ),
        # CometAPI 429: out of quota is billing (no retry); otherwise it is throttling.
        (
            429,
            {"code": "insufficient_user_quota", "message": "user quota is not enough"},
            "Kling's account is out of credits; ask a server admin.",
            False,
        ),
        (
            429,
            {"code": "", "message": "no credit left", "type": "comet_api_error"},
            "Kling's account is out of credits; ask a server admin.",
            False,
        ),
        (
            429,
            {"code": "", "message": "x", "type": "Balance"},
            "Kling's account is out of credits; ask a server admin.",
            False,
        ),
        (
            429,
            {"code": "rate_limit", "message": "slow down"},
            "Kling is busy right now; the bot will try again shortly.",
            True,
        ),
        (
            403,
            {"code": "", "message": "forbidden"},
            "The bot's Kling account may not use this feature; ask a server admin.",
            False,
        ),
        (
            400,
            {"code": "", "message": "insufficient detail in prompt"},
            "Kling rejected the request as invalid.",
            False,
        ),
        (
            413,
            {"code": "", "message": "request entity too large"},
            "Kling rejected the request as invalid.",
            False,
        ),
        (
            422,
            {"code": "", "message": "unprocessable"},
            "Kling rejected the request as invalid.",
            False,
        ),
    ],
)
def test_cometapi_status_user_sentences(
    http: int, body: dict[str, object], sentence: str, retryable: bool
) -> None:
    error = error_for_cometapi(http, body)
    assert error.user_message == sentence
    assert error.retryable is retryable
    assert error.code is None
    assert error.http_status == http
    assert error.kling_message == body["message"]


def test_no_message_is_an_empty_message() -> None:
    error = error_for(400, 1200, None, None)
    assert error.kling_message == ""
    assert str(error) == "InvalidInputError http=400 code=1200"
    assert error_for_cometapi(500, {"code": ""}).kling_message == ""


def test_the_summary_names_class_status_code_and_request() -> None:
    assert str(error_for(401, 1001, "no header", "r-1")) == (
        "AuthError http=401 code=1001 request_id=r-1: no header"
    )
    assert str(error_for(None, 42, "odd", None)) == "KlingError code=42: odd"
    assert str(KlingError()) == "KlingError"
    assert repr(error_for(503, None, "", "r-2")) == "<ServerError http=503 request_id=r-2>"


@pytest.mark.parametrize(("length", "kept"), [(299, 299), (300, 300), (301, 300), (5000, 300)])
def test_kling_messages_are_cut_at_300_characters(length: int, kept: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(length))
    message = error_for(400, 1201, text, None).kling_message
    assert len(message) == kept
    if length <= 300:
        assert message == text
    else:
        assert message == text[:299] + "…"


def test_redaction_replaces_real_secrets_only() -> None:
    assert redact_text("key sk-123456 leaked", ["sk-123456"]) == "key [redacted] leaked"
    assert redact_text("key 123456 leaked", ["123456"]) == "key [redacted] leaked"  # 6 is enough
    # A too-short "secret" would blank out ordinary words; an empty one is no secret at all.
    assert redact_text("the code abcde", ["abcde", ""]) == "the code abcde"
    assert redact_text("nothing here", ["sk-123456"]) == "nothing here"
