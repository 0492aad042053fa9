"""Restarts at every risky moment, and delivery failures: each job ends delivered exactly once."""

from __future__ import annotations

import asyncio
import dataclasses

from bot.storage import JobState
from tests.bot.jobs.conftest import Rig
from tests.bot.jobs.fakes import RESULT_BYTES, new_job

S = JobState


async def _job_state(rig: Rig, job_id: str) -> JobState:
    assert rig.store is not None
    job = await rig.store.get_job(job_id)
    assert job is not None
    return job.state


async def test_restart_while_processing_resumes_and_delivers_once(rig: Rig) -> None:
    rig.kling.polls_needed = 6
    runner = await rig.start()
    job = await runner.submit(new_job())

    async def polled_twice() -> bool:
        return len(rig.kling.gets) >= 2

    await rig.wait_for(polled_twice)
    await rig.restart()  # store closed and reopened, a brand-new runner
    await rig.wait_state(job.id, S.DELIVERED)
    assert len(rig.kling.creates) == 1
    assert len(rig.deliverer.posted) == 1 and len(rig.deliverer.calls) == 1


async def test_crash_after_create_sent_is_reconciled_before_any_resend(rig: Rig) -> None:
    rig.kling.script_create("store-then-hang")  # Kling stored it; we never heard back
    runner = await rig.start()
    job = await runner.submit(new_job())

    async def created() -> bool:
        return len(rig.kling.tasks) == 1

    await rig.wait_for(created)
    await rig.stop()
    await rig.start()  # the job is still 'submitting' in the database
    await rig.wait_state(job.id, S.DELIVERED)
    assert [c[0] for c in rig.kling.creates] == [job.id]  # looked up, never resent
    assert rig.kling.finds == [job.id]
    assert len(rig.deliverer.calls) == 1


async def test_crash_before_kling_stored_it_resends_once(rig: Rig) -> None:
    rig.kling.script_create("hang-before-store")
    runner = await rig.start()
    job = await runner.submit(new_job())

    async def sent() -> bool:
        return len(rig.kling.creates) == 1

    await rig.wait_for(sent)
    await rig.restart()
    await rig.wait_state(job.id, S.DELIVERED)
    assert rig.kling.finds == [job.id]  # absent at Kling, so it was safe to send again
    assert [c[0] for c in rig.kling.creates] == [job.id, job.id]
    assert len(rig.kling.tasks) == 1


async def test_crash_after_posting_before_recording_does_not_post_twice(rig: Rig) -> None:
    rig.deliverer.hang_after_post = True
    runner = await rig.start()
    job = await runner.submit(new_job())

    async def posted() -> bool:
        return len(rig.deliverer.posted) == 1

    await rig.wait_for(posted)
    await rig.stop()  # the post exists, the database still says 'delivering'
    rig.deliverer.hang_after_post = False
    await rig.start()
    assert await _job_state(rig, job.id) in (S.DELIVERING, S.DELIVERED)
    await rig.wait_state(job.id, S.DELIVERED)
    assert len(rig.deliverer.calls) == 1  # deliver() was never called again
    assert rig.deliverer.finds == [job.id]
    assert rig.store is not None
    done = await rig.store.get_job(job.id)
    assert done is not None
    assert done.result_message_id == rig.deliverer.posted[job.id[:25]]
    assert done.delivery_attempts == 2


async def test_crash_after_claim_before_posting_posts_once(rig: Rig) -> None:
    rig.deliverer.hang_before_post = True
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERING)

    async def deliver_called() -> bool:
        return len(rig.deliverer.calls) == 1

    await rig.wait_for(deliver_called)
    await rig.stop()
    rig.deliverer.hang_before_post = False
    await rig.start()
    await rig.wait_state(job.id, S.DELIVERED)
    assert rig.deliverer.finds == [job.id]  # checked first, found nothing, then posted
    assert len(rig.deliverer.posted) == 1


async def test_restarts_at_every_step_of_many_jobs(rig: Rig) -> None:
    """Ten jobs; the process 'dies' repeatedly while they move; each ends delivered once."""
    rig.kling.polls_needed = 4
    runner = await rig.start()
    jobs = [await runner.submit(new_job()) for _ in range(10)]
    for _ in range(8):
        await asyncio.sleep(0.02)
        await rig.restart()
    for job in jobs:
        await rig.wait_state(job.id, S.DELIVERED)
    assert len(rig.kling.tasks) == 10  # one Kling task per job
    posted_for = [job_id for job_id, _, _ in rig.deliverer.calls]
    assert sorted(set(posted_for)) == sorted(j.id for j in jobs)
    assert len(rig.deliverer.posted) == 10


async def test_delivery_errors_are_retried_then_posted(rig: Rig) -> None:
    rig.deliverer.fail_times = 2
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert len(rig.deliverer.calls) == 3
    assert rig.deliverer.finds == [job.id, job.id]  # each retry looked for an earlier post
    assert len(rig.deliverer.posted) == 1


async def test_delivery_gives_up_honestly(rig: Rig) -> None:
    rig.deliverer.fail_times = 100
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    assert rig.store is not None
    failed = await rig.store.get_job(job.id)
    assert failed is not None and failed.status_msg is not None
    assert "could not post" in failed.status_msg
    assert failed.result_path is not None  # the video is kept for a later look
    assert len(rig.deliverer.calls) == rig.config.max_delivery_attempts


async def test_oversized_result_is_linked_not_downloaded(rig: Rig) -> None:
    rig.config = dataclasses.replace(rig.config, download_max_bytes=len(RESULT_BYTES) - 1)
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    [(_, video, _)] = rig.deliverer.calls
    assert video is None  # the deliverer posts job.result_url instead
    assert not list((rig.media_dir / "results").glob("*"))  # no partial file left behind
    assert rig.results.hits == rig.config.max_download_attempts


async def test_unreachable_result_falls_back_to_a_link(rig: Rig) -> None:
    rig.kling.video_url = rig.results.url("missing")
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert rig.deliverer.calls[0][1] is None
