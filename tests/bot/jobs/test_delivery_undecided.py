"""When the deliverer cannot tell whether a result was posted, the runner neither posts again nor
fails the job: it asks again later, with growing waits, until the answer is clear."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from bot.jobs import PostLookupUndecided
from bot.storage import Job, JobState
from tests.bot.jobs.conftest import Rig
from tests.bot.jobs.fakes import RecordingDeliverer, new_job

S = JobState


class LostAnswers(RecordingDeliverer):
    """Every post reaches the channel but its answer is lost; the search is undecided at first."""

    undecided: int = 0
    lookups_at: list[float]

    async def deliver(self, job: Job, video: Path | None) -> int:
        await super().deliver(job, video)
        raise RuntimeError("connection reset after Discord stored the message")

    async def find_delivery(self, job: Job) -> int | None:
        self.lookups_at.append(self.clock())
        if self.undecided > 0:
            self.undecided -= 1
            self.finds.append(job.id)
            raise PostLookupUndecided("read 2000 messages without reaching the newest")
        return await super().find_delivery(job)


async def test_an_undecided_last_chance_lookup_does_not_fail_a_job_that_was_posted(
    rig: Rig,
) -> None:
    rig.config = dataclasses.replace(rig.config, max_delivery_attempts=1)
    deliverer = LostAnswers()
    deliverer.undecided = 3
    deliverer.lookups_at = []
    deliverer.clock = rig.time  # type: ignore[attr-defined]
    rig.deliverer = deliverer
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED, S.FAILED)
    assert rig.store is not None
    done = await rig.store.get_job(job.id)
    assert done is not None and done.state is S.DELIVERED, done.status_msg
    [(posted_id, _, _)] = deliverer.calls  # posted once, never again while undecided
    assert posted_id == job.id
    assert done.result_message_id == deliverer.posted[done.delivery_key or ""]
    assert [j.state for j in rig.observer.finished] == [S.DELIVERED]
    waits = [b - a for a, b in itertools.pairwise(deliverer.lookups_at)]
    assert len(waits) == 3 and waits == sorted(waits) and waits[0] < waits[-1]
