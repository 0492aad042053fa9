"""A runner step that crashes (a bug, a locked database): the stop sentence quoting the logged error
id, a crashed submit keeping its place in the queue, and the limits after which a job whose steps
keep crashing is failed."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from bot.storage import Job, JobState, Store
from tests.bot.jobs.conftest import Rig, UnexpectedErrors
from tests.bot.jobs.fakes import new_job

S = JobState


# -- unexpected errors ---------------------------------------------------------------------


async def test_the_stop_sentence_quotes_the_logged_error_id(
    rig: Rig, unexpected_errors: UnexpectedErrors
) -> None:
    unexpected_errors.expect()
    original = rig.kling.get

    async def unreadable(job: Job) -> Any:
        await original(job)
        return None  # a bug: the step raises

    rig.kling.get = unreadable  # type: ignore[method-assign]
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    failed = await rig.job(job.id)
    ids = [r.unexpected_error for r in unexpected_errors.records]  # type: ignore[attr-defined]
    assert len(set(ids)) == len(ids) == rig.config.max_unexpected_errors
    assert all(isinstance(i, str) and re.fullmatch(r"[0-9a-f]{8}", i) for i in ids)
    assert failed.status_msg == (
        f"Something went wrong on our side while handling this job (error id `{ids[-1]}`); "
        "the bot stopped it."
    )


async def test_a_queued_job_whose_submit_crashed_keeps_its_place(
    rig: Rig, unexpected_errors: UnexpectedErrors
) -> None:
    unexpected_errors.expect()
    runner = await rig.start()
    assert rig.store is not None
    store = rig.store
    original = store.transition_job
    crashes = 1

    async def once_broken(job_id: str, **kwargs: Any) -> Job | None:
        nonlocal crashes
        if kwargs.get("to") is S.SUBMITTING and crashes:
            crashes -= 1
            raise RuntimeError("database is locked")
        return await original(job_id, **kwargs)

    store.transition_job = once_broken  # type: ignore[method-assign]
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert runner.stats.unexpected_errors == 1
    [(_, sent_at)] = rig.kling.creates
    assert sent_at - job.created_at == pytest.approx(30.0)  # tried again after 30 s


async def test_a_delivery_that_keeps_crashing_fails_once_nothing_was_posted(
    rig: Rig, unexpected_errors: UnexpectedErrors, monkeypatch: pytest.MonkeyPatch
) -> None:
    unexpected_errors.expect()
    rig.deliverer.hang_before_post = True
    runner = await rig.start()
    job = await runner.submit(new_job())

    async def deliver_called() -> bool:
        return len(rig.deliverer.calls) == 1

    await rig.wait_for(deliver_called)
    await rig.stop()  # the process died while posting: the job is 'delivering'
    rig.deliverer.hang_before_post = False
    original = Store.reclaim_delivery
    crashes = rig.config.max_unexpected_errors

    async def broken(self: Store, job_id: str, attempts_seen: int) -> Job | None:
        nonlocal crashes
        if crashes:
            crashes -= 1
            raise RuntimeError("database is locked")
        return await original(self, job_id, attempts_seen)

    monkeypatch.setattr(Store, "reclaim_delivery", broken)
    runner = await rig.start()
    await rig.wait_state(job.id, S.FAILED, S.DELIVERED)
    failed = await rig.job(job.id)
    ids = [r.unexpected_error for r in unexpected_errors.records]  # type: ignore[attr-defined]
    assert failed.state is S.FAILED
    assert failed.status_msg == (
        f"Something went wrong on our side while handling this job (error id `{ids[-1]}`); "
        "the bot stopped it."
    )
    assert rig.deliverer.finds == [job.id]  # it looked before failing
    assert rig.deliverer.posted == {}
    assert len(rig.deliverer.calls) == 1


# -- time limits of a job whose steps keep crashing ---------------------------------------


async def test_a_queued_job_whose_submit_keeps_crashing_stops_after_five_crashes(
    rig: Rig, unexpected_errors: UnexpectedErrors
) -> None:
    unexpected_errors.expect()
    runner = await rig.start()
    assert rig.store is not None
    original = rig.store.transition_job

    async def broken(job_id: str, **kwargs: Any) -> Job | None:
        if kwargs.get("to") is S.SUBMITTING:
            raise RuntimeError("database is locked")
        return await original(job_id, **kwargs)

    rig.store.transition_job = broken  # type: ignore[method-assign]
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    failed = await rig.job(job.id)
    ids = [r.unexpected_error for r in unexpected_errors.records]  # type: ignore[attr-defined]
    assert len(ids) == rig.config.max_unexpected_errors
    assert failed.status_msg == (
        f"Something went wrong on our side while handling this job (error id `{ids[-1]}`); "
        "the bot stopped it."
    )
    assert rig.kling.creates == []


async def test_a_finished_job_whose_delivery_keeps_crashing_fails_after_the_time_limit(
    rig: Rig, unexpected_errors: UnexpectedErrors, monkeypatch: pytest.MonkeyPatch
) -> None:
    unexpected_errors.expect()
    # Kling took about 24 s; counting from the submission would stop it one crash earlier.
    rig.config = dataclasses.replace(rig.config, max_unexpected_errors=1000, poll_timeout=100.0)

    async def broken(self: Store, job_id: str) -> Job | None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(Store, "claim_delivery", broken)
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    failed = await rig.job(job.id)
    events = await rig.store.list_job_events(job.id) if rig.store else []
    succeeded_at = next(e.at for e in events if e.to_state is S.SUCCEEDED)
    # Counted from the success, not from the submission: crashes 0, 30, 90, 210 s after it,
    # and 210 s is the first past the limit.
    assert runner.stats.unexpected_errors == 4
    assert failed.finished_at is not None
    assert failed.finished_at - succeeded_at == pytest.approx(210.0)
    assert rig.deliverer.calls == []
