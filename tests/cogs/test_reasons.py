"""Failure reasons are stored in English and shown in the reader's language (cogs.reasons)."""

from __future__ import annotations

import dataclasses

from bot.jobs.steps import plain_reason
from bot.kling.errors import ContentPolicyError
from cogs.job_cards import render_card
from cogs.reasons import stored_reason
from tests.cogs.job_cards_data import failed_job

TIMED_OUT = "Kling did not finish within 20 minutes; the bot stopped waiting (Kling task t-91)."


def test_a_runner_reason_stored_in_english_is_worded_again_in_each_language() -> None:
    reason = stored_reason(TIMED_OUT)
    assert reason is not None and str(reason) == TIMED_OUT
    assert reason.render("pt-BR") == ("O Kling não terminou em 20 minutos; o bot parou de esperar "
                                      "(tarefa do Kling t-91).")
    assert reason.render("id") == ("Kling tidak selesai dalam 20 menit; bot berhenti menunggu "
                                   "(tugas Kling t-91).")
    assert reason.render("en-GB") == TIMED_OUT


def test_kling_error_messages_and_the_empty_reason_are_translated_too() -> None:
    policy = str(ContentPolicyError.default_user_message)
    expected = ContentPolicyError.default_user_message.render("id")
    assert stored_reason(policy).render("id") == expected
    assert stored_reason(policy).render("id") != policy
    empty = plain_reason("   ")
    assert stored_reason(str(empty)).render("pt-BR") == "O Kling não disse por que a tarefa falhou."


def test_kling_s_own_words_and_missing_reasons_are_left_alone() -> None:
    kling_words = "Failure to pass the risk control system"
    assert stored_reason(kling_words).render("id") == kling_words
    assert stored_reason(None) is None and stored_reason("  ") is None
    # Only a whole match is rebuilt: a known sentence with more after it is someone's own text.
    longer = "Kling reported success but sent no video. The task id was t-1."
    assert stored_reason(longer).render("pt-BR") == longer


def test_a_failed_card_is_in_the_server_s_language_with_its_reason() -> None:
    job = dataclasses.replace(failed_job(units=2.0, task=True), status_msg=TIMED_OUT)
    text = render_card(job, now=2000.0, locale="pt-BR")
    assert text.splitlines()[0] == "**Tarefa do Kling** · Trocar · std · 5 s · “swap the cat”"
    assert text.splitlines()[1] == ("❌ Falhou: O Kling não terminou em 20 minutos; o bot parou "
                                    "de esperar (tarefa do Kling t-91).")
    assert "Decorrido 1 min 40 s" in text and "O Kling cobrou 2 unidades." in text
    english = render_card(job, now=2000.0)
    assert f"❌ Failed: {TIMED_OUT}" in english and "Kling charged 2 units." in english
