"""1,000 jobs in flight: the runner wakes only when something is due and polls at backoff rate."""

from __future__ import annotations

import time

from bot.storage import JobState
from tests.bot.jobs.conftest import Rig
from tests.bot.jobs.fakes import new_job

JOBS = 1000


async def test_a_thousand_jobs_do_not_spin(rig: Rig) -> None:
    rig.kling.polls_needed = 20  # about 8.6 virtual minutes each with the 5 s → 30 s backoff
    runner = await rig.start()
    assert rig.store is not None
    cpu_before = time.process_time()
    wall_before = time.perf_counter()
    start = rig.time.now
    jobs = [await runner.submit(new_job(guild=i % 7)) for i in range(JOBS)]

    async def all_delivered() -> bool:
        return runner.in_flight == 0 and len(rig.deliverer.posted) == JOBS

    await rig.wait_for(all_delivered, limit=60)
    cpu = time.process_time() - cpu_before
    wall = time.perf_counter() - wall_before
    virtual_minutes = (rig.time.now - start) / 60

    sample = [await rig.store.get_job(j.id) for j in jobs[:: JOBS // 10]]
    assert {job.state for job in sample if job is not None} == {JobState.DELIVERED}
    assert None not in sample
    assert len(rig.kling.creates) == JOBS and len(rig.deliverer.calls) == JOBS
    polls = len(rig.kling.gets)
    assert polls == JOBS * 20  # never more polls than the job needed
    # Each job was in flight about 8.6 virtual minutes: ~20 polls is ~2.3 per job-minute.
    per_job_minute = polls / JOBS / ((rig.time.now - start) / 60)
    # The scheduler woke far less often than once per poll (it batches whatever is due).
    assert runner.stats.wakeups < polls
    print(
        f"\n{JOBS} jobs: {polls} polls over {virtual_minutes:.1f} virtual min "
        f"({per_job_minute:.2f} polls/job/min over the whole run), "
        f"{runner.stats.wakeups} scheduler wake-ups, CPU {cpu:.2f} s, wall {wall:.2f} s"
    )
