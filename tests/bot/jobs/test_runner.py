from __future__ import annotations

import dataclasses
import itertools

import pytest

from bot.jobs import poll_interval
from bot.kling.errors import ConcurrencyFullError, ContentPolicyError, CreateOutcomeUnknownError
from bot.kling.models import TaskStatus
from bot.storage import JobState
from tests.bot.jobs.conftest import Rig
from tests.bot.jobs.fakes import GUILD, RESULT_BYTES, new_job

S = JobState


async def test_happy_path_posts_the_downloaded_video_once(rig: Rig) -> None:
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert rig.store is not None
    done = await rig.store.get_job(job.id)
    assert done is not None

    # Kling saw one create carrying our id as external_task_id.
    assert [c[0] for c in rig.kling.creates] == [job.id]
    assert rig.kling.by_external[job.id].task_id == done.kling_task_id
    # The video was posted once, from the downloaded copy, with the bytes Kling served.
    [(posted_id, path, data)] = rig.deliverer.calls
    assert posted_id == job.id and data == RESULT_BYTES
    assert path is not None and str(path) == done.result_path
    assert done.result_message_id == rig.deliverer.posted[job.id[:25]]
    assert done.units == 2.5 and done.result_url == rig.results.url()
    assert rig.deliverer.finds == []  # first attempt: nothing to look for

    expected = [S.SUBMITTING, S.SUBMITTED, S.PROCESSING, S.SUCCEEDED, S.DELIVERING, S.DELIVERED]
    assert rig.observer.states_of(job.id) == expected
    events = await rig.store.list_job_events(job.id)
    assert [e.to_state for e in events] == [S.QUEUED, *expected]
    assert [j.id for j in rig.observer.finished] == [job.id]
    assert runner.in_flight == 0


async def test_kling_failure_carries_its_reason_and_units(rig: Rig) -> None:
    rig.kling.outcome = TaskStatus.FAILED
    rig.kling.status_msg = "  Content risk control:\n the output\tmay violate policy "
    rig.kling.units = 0.0
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    assert rig.store is not None
    failed = await rig.store.get_job(job.id)
    assert failed is not None
    assert failed.status_msg == "Content risk control: the output may violate policy"
    assert failed.units == 0.0
    assert rig.deliverer.calls == []
    assert [j.state for j in rig.observer.finished] == [S.FAILED]


async def test_refused_create_fails_with_the_user_message(rig: Rig) -> None:
    rig.kling.script_create(ContentPolicyError("risk", code=1301))
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    assert rig.store is not None
    failed = await rig.store.get_job(job.id)
    assert failed is not None and failed.kling_task_id is None
    assert failed.status_msg == ContentPolicyError.default_user_message
    assert (await rig.store.member_usage(GUILD, failed.requester_id)).jobs_today == 0


async def test_concurrency_full_requeues_then_submits_in_order(rig: Rig) -> None:
    rig.kling.script_create(
        ConcurrencyFullError("parallel task over resource pack limit", code=1303),
        ConcurrencyFullError("parallel task over resource pack limit", code=1303),
    )
    runner = await rig.start()
    first = await runner.submit(new_job())
    second = await runner.submit(new_job())
    third = await runner.submit(new_job(guild=GUILD + 1))
    for job in (first, second, third):
        await rig.wait_state(job.id, S.DELIVERED)

    first_states = rig.observer.states_of(first.id)
    assert first_states[:5] == [S.SUBMITTING, S.QUEUED, S.SUBMITTING, S.QUEUED, S.SUBMITTING]
    # The head of the queue kept its place: creates went first, first, first, second, third.
    order = [job_id for job_id, _ in rig.kling.creates]
    assert order == [first.id, first.id, first.id, second.id, third.id]
    # Backoff between the refused tries: 5 s, then 10 s.
    times = [at for _, at in rig.kling.creates[:3]]
    assert times[1] - times[0] == pytest.approx(5.0)
    assert times[2] - times[1] == pytest.approx(10.0)
    assert len(rig.kling.tasks) == 3  # one task per job


async def test_queue_positions_per_server(rig: Rig) -> None:
    rig.kling.script_create(*[ConcurrencyFullError("full", code=1303)] * 3)
    rig.time.running.clear()  # hold the clock so the gate stays closed while we look
    runner = await rig.start()
    jobs = [await runner.submit(new_job()) for _ in range(3)]
    other = await runner.submit(new_job(guild=GUILD + 1))

    async def refused_and_back_in_queue() -> bool:
        return len(rig.kling.creates) == 1 and runner.queue_length() == 4

    await rig.wait_for(refused_and_back_in_queue)
    assert [runner.queue_position(j.id) for j in jobs] == [1, 2, 3]
    assert runner.queue_position(other.id) == 1
    assert runner.queue_length(GUILD) == 3
    rig.time.running.set()
    for job in (*jobs, other):
        await rig.wait_state(job.id, S.DELIVERED)
    assert runner.queue_position(jobs[2].id) is None


async def test_unknown_create_outcome_is_reconciled_not_resent(rig: Rig) -> None:
    rig.kling.script_create(
        ("store-then-raise", CreateOutcomeUnknownError("timeout", external_task_id="x"))
    )
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert len(rig.kling.creates) == 1  # never sent twice
    assert rig.kling.finds == [job.id]
    assert len(rig.deliverer.calls) == 1


async def test_unknown_outcome_and_absent_is_sent_again(rig: Rig) -> None:
    rig.kling.script_create(CreateOutcomeUnknownError("timeout", external_task_id="x"))
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert [c[0] for c in rig.kling.creates] == [job.id, job.id]  # same external id both times
    assert rig.kling.finds == [job.id]
    assert len(rig.kling.tasks) == 1


async def test_poll_backoff_from_5_to_30_seconds(rig: Rig) -> None:
    rig.kling.polls_needed = 12
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    [(_, created_at)] = rig.kling.creates
    times = [created_at] + [at for _, at in rig.kling.gets]
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert gaps[0] == 5.0
    assert gaps == sorted(gaps) and max(gaps) == 30.0
    assert gaps[-3:] == [30.0, 30.0, 30.0]
    assert gaps == [pytest.approx(poll_interval(rig.config, n), abs=1e-3) for n in range(len(gaps))]


async def test_overall_poll_timeout_fails_with_a_clear_reason(rig: Rig) -> None:
    rig.kling.polls_needed = 10**9
    rig.config = dataclasses.replace(rig.config, poll_timeout=20 * 60.0)
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    assert rig.store is not None
    failed = await rig.store.get_job(job.id)
    assert failed is not None and failed.status_msg is not None
    assert "20 minutes" in failed.status_msg and str(failed.kling_task_id) in failed.status_msg
    assert failed.finished_at is not None and failed.submitted_at is not None
    assert failed.finished_at - failed.submitted_at == pytest.approx(20 * 60, abs=31)
    assert 40 <= len(rig.kling.gets) <= 50  # mostly every 30 s: no spinning


async def test_progress_is_throttled_to_once_per_10_seconds(rig: Rig) -> None:
    rig.kling.polls_needed = 8
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    reports = [p for p in rig.observer.progress if p[0] == job.id]
    assert len(reports) >= 3
    moments = [at for *_, at in reports]
    assert all(b - a >= 10.0 for a, b in itertools.pairwise(moments))
    assert all(elapsed > 0 for _, elapsed, _, _ in reports)


async def test_estimate_comes_from_past_jobs_of_the_kind(rig: Rig) -> None:
    rig.kling.polls_needed = 4
    runner = await rig.start()
    first = await runner.submit(new_job())
    await rig.wait_state(first.id, S.DELIVERED)
    assert all(estimate is None for _, _, estimate, _ in rig.observer.progress)
    second = await runner.submit(new_job())
    await rig.wait_state(second.id, S.DELIVERED)
    estimates = [e for jid, _, e, _ in rig.observer.progress if jid == second.id]
    assert rig.store is not None
    done = await rig.store.get_job(first.id)
    assert done is not None and done.finished_at and done.submitted_at
    assert estimates and all(
        e == pytest.approx(done.finished_at - done.submitted_at) for e in estimates
    )


async def test_cancel_a_queued_job(rig: Rig) -> None:
    rig.kling.script_create(*[ConcurrencyFullError("full", code=1303)] * 2)
    runner = await rig.start()
    head = await runner.submit(new_job())
    waiting = await runner.submit(new_job())
    assert (await runner.cancel(waiting.id, "changed my mind")) is not None
    await rig.wait_state(head.id, S.DELIVERED)
    assert waiting.id not in [job_id for job_id, _ in rig.kling.creates]
    assert await runner.cancel(head.id) is None  # already done: too late
    assert [j.state for j in rig.observer.finished if j.id == waiting.id] == [S.CANCELLED]


async def test_queue_timeout_when_kling_stays_full(rig: Rig) -> None:
    rig.kling.script_create(*[ConcurrencyFullError("full", code=1303)] * 1000)
    rig.config = dataclasses.replace(rig.config, queue_timeout=15 * 60.0)
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    assert rig.store is not None
    failed = await rig.store.get_job(job.id)
    assert failed is not None and failed.status_msg is not None
    assert "nothing was charged" in failed.status_msg
    # Exponential backoff capped at 2 minutes: about a dozen tries in 15 minutes, not hundreds.
    assert 8 <= len(rig.kling.creates) <= 16
