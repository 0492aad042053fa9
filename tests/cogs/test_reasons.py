"""Failure reasons are stored in English and shown in the reader's language (cogs.jobs.reasons)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from bot.jobs.poller import plain_reason
from bot.kling.errors import ContentPolicyError
from bot.storage import JobState
from cogs.jobs.job_cards import render_card
from cogs.jobs.reasons import stored_reason
from tests.bot.jobs.conftest import Rig, rig
from tests.bot.jobs.fakes import new_job
from tests.cogs.job_cards_data import failed_job

__all__ = ["rig"]  # the runner rig, imported as a fixture
JOBS = Path(__file__).resolve().parents[2] / "bot" / "jobs"

TIMED_OUT = "Kling did not finish within 20 minutes; the bot stopped waiting (Kling task t-91)."


def test_a_runner_reason_stored_in_english_is_worded_again_in_each_language() -> None:
    reason = stored_reason(TIMED_OUT)
    assert reason is not None and str(reason) == TIMED_OUT
    assert reason.render("pt-BR") == (
        "O Kling não terminou em 20 minutos; o bot parou de esperar (tarefa do Kling t-91)."
    )
    assert reason.render("id") == (
        "Kling tidak selesai dalam 20 menit; bot berhenti menunggu (tugas Kling t-91)."
    )
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
    assert text.splitlines()[1] == (
        "❌ Falhou: O Kling não terminou em 20 minutos; o bot parou "
        "de esperar (tarefa do Kling t-91)."
    )
    assert "Decorrido 1 min 40 s" in text and "O Kling cobrou 2 unidades." in text
    english = render_card(job, now=2000.0)
    assert f"❌ Failed: {TIMED_OUT}" in english and "Kling charged 2 units." in english


async def test_a_result_that_could_not_be_posted_reads_in_portuguese(rig: Rig) -> None:
    rig.deliverer.fail_times = 100  # Discord refuses every post
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, JobState.FAILED)
    assert rig.store is not None
    failed = await rig.store.get_job(job.id)
    assert failed is not None
    card = render_card(failed, now=failed.created_at + 100, locale="pt-BR")
    assert card.splitlines()[1] == (
        "❌ Falhou: O vídeo está pronto, mas o bot não conseguiu publicá-lo neste canal."
    )
    assert "Videonya sudah siap" in render_card(failed, now=failed.created_at + 100, locale="id")


async def test_a_job_cancelled_before_it_was_sent_reads_in_indonesian(rig: Rig) -> None:
    runner = await rig.start()
    job = await runner.submit(new_job())
    cancelled = await runner.cancel(job.id)
    assert cancelled is not None and cancelled.state is JobState.CANCELLED
    card = render_card(cancelled, now=cancelled.created_at + 1, locale="id")
    assert card.splitlines()[1].endswith("Dibatalkan sebelum dikirim.")


def test_every_reason_the_runner_stores_is_a_catalogue_message() -> None:
    """A literal string given as a job's reason in bot/jobs would reach every server in English
    (cogs.jobs.reasons translates only what the catalogue knows): reasons are written as Msg."""
    plain: list[str] = []
    for path in sorted(JOBS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name not in {"_fail", "_fail_unless_posted", "cancel_job"}:
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                in_msg = {
                    id(c)
                    for m in ast.walk(arg)
                    if isinstance(m, ast.Call) and getattr(m.func, "id", "") == "Msg"
                    for c in ast.walk(m)
                }
                plain += [
                    f"{path.name}:{inner.lineno}: {inner.value}"
                    for inner in ast.walk(arg)
                    if isinstance(inner, ast.Constant)
                    and isinstance(inner.value, str)
                    and " " in inner.value
                    and id(inner) not in in_msg
                ]
    assert plain == []
