"""Stored jobs for the card-rendering tests (built directly, as the store returns them)."""

from __future__ import annotations

from bot.storage import Job, JobKind, JobState


def failed_job(*, units: float | None, task: bool) -> Job:
    return Job(
        id="f" * 32, kind=JobKind.EDIT_SWAP, guild_id=1, channel_id=2, requester_id=3,
        session_id=4, request={"prompt": "swap the cat", "mode": "std", "duration": "5"},
        state=JobState.FAILED, kling_task_id="t1" if task else None,
        status_msg="the prompt was refused", card_message_id=None, queued_at=1800.0,
        submit_attempts=1, units=units, result_url=None, result_path=None,
        result_message_id=None, delivery_key=None, delivery_attempts=0, created_at=1800.0,
        submitted_at=None, finished_at=1900.0, delivered_at=None, updated_at=1900.0,
    )  # fmt: skip
