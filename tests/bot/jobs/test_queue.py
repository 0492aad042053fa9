"""The local queue: places per server (as job cards show them) and who is due for news, checked
against a plain list walked from the front, and in the runner as a member sees it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jobs.queue import LocalQueue, queue_key
from bot.jobs.schedule import RunnerConfig
from bot.kling.errors import ConcurrencyFullError
from bot.storage import Job, JobKind, JobState
from tests.bot.jobs.conftest import Rig
from tests.bot.jobs.fakes import GUILD, new_job


def make_job(seq: int, guild: int, queued_at: float | None, created_at: float) -> Job:
    return Job(
        id=f"job{seq:05d}", kind=JobKind.ANIMATE, guild_id=guild, channel_id=1,
        requester_id=1, session_id=None, request={}, state=JobState.QUEUED,
        kling_task_id=None, status_msg=None, card_message_id=None, queued_at=queued_at,
        submit_attempts=0, units=None, result_url=None, result_path=None,
        result_message_id=None, delivery_key=None, delivery_attempts=0,
        created_at=created_at, submitted_at=None, finished_at=None, delivered_at=None,
        updated_at=created_at, seq=seq,
    )  # fmt: skip


@dataclass
class WalkedQueue:
    """The reference: a list kept in send order and walked from the front for every answer."""

    jobs: list[Job] = field(default_factory=list)
    told: dict[str, float] = field(default_factory=dict)

    def add(self, job: Job) -> None:
        if any(j.id == job.id for j in self.jobs):
            return
        self.jobs.append(job)
        self.jobs.sort(key=queue_key)
        self.told[job.id] = float("-inf")

    def remove(self, job_id: str) -> None:
        self.jobs = [j for j in self.jobs if j.id != job_id]
        self.told.pop(job_id, None)

    def position(self, job_id: str) -> int | None:
        target = next((j for j in self.jobs if j.id == job_id), None)
        if target is None:
            return None
        same = [j.id for j in self.jobs if j.guild_id == target.guild_id]
        return same.index(job_id) + 1

    def due(self, guild: int, now: float, every: float) -> set[str]:
        due = {j.id for j in self.jobs if j.guild_id == guild and now - self.told[j.id] >= every}
        for job_id in due:
            self.told[job_id] = now
        return due


# An operation: ("add", seq) adds (or adds back, with its old key) job `seq`; ("remove", seq);
# ("news", guild, seconds later).
GUILDS = st.sampled_from([1, 2, 3])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 30)),
        st.tuples(st.just("remove"), st.integers(0, 30)),
        st.tuples(st.just("news"), GUILDS, st.sampled_from([0.0, 4.0, 10.0])),
    ),
    max_size=80,
)


def jobs_for(data: st.DataObject) -> dict[int, Job]:
    """31 jobs over three servers; few distinct queue times so ties (broken by seq) are common,
    and some without ``queued_at`` (then ``created_at`` counts)."""
    jobs = {}
    for seq in range(31):
        guild = data.draw(GUILDS)
        at = data.draw(st.sampled_from([100.0, 100.0, 101.0, 102.5]))
        queued_at = data.draw(st.sampled_from([at, None]))
        jobs[seq] = make_job(seq + 1, guild, queued_at, at)
    return jobs


def check_same(queue: LocalQueue, walked: WalkedQueue, jobs: dict[int, Job]) -> None:
    assert list(queue) == [j.id for j in walked.jobs]
    assert len(queue) == len(walked.jobs)
    for job in jobs.values():
        assert queue.position(job.id) == walked.position(job.id)
        assert (job.id in queue) == (walked.position(job.id) is not None)
    for guild in (1, 2, 3):
        assert queue.length(guild) == sum(1 for j in walked.jobs if j.guild_id == guild)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), operations=OPERATIONS)
def test_places_and_news_match_a_walk_of_the_queue(
    data: st.DataObject, operations: list[tuple]
) -> None:
    jobs = jobs_for(data)
    queue, walked = LocalQueue(), WalkedQueue()
    now = 1000.0
    for operation in operations:
        if operation[0] == "add":
            queue.add(jobs[operation[1]])
            walked.add(jobs[operation[1]])
        elif operation[0] == "remove":
            job_id = jobs[operation[1]].id
            assert queue.remove(job_id) == (walked.position(job_id) is not None)
            walked.remove(job_id)
        else:
            _, guild, later = operation
            now += later
            due = queue.due_for_news(guild, now, 10.0)
            assert len(due) == len(set(due))
            assert set(due) == walked.due(guild, now, 10.0)
        check_same(queue, walked, jobs)


@given(data=st.data(), busy=st.sets(st.integers(0, 30)))
def test_the_next_job_sent_is_the_oldest_without_a_step_running(
    data: st.DataObject, busy: set[int]
) -> None:
    jobs = jobs_for(data)
    queue = LocalQueue()
    for job in jobs.values():
        queue.add(job)
    skip = {jobs[n].id for n in busy}
    expected = next((j.id for j in sorted(jobs.values(), key=queue_key) if j.id not in skip), None)
    assert queue.first(skip=skip) == expected


def test_a_job_sent_back_gets_its_old_place() -> None:
    queue = LocalQueue()
    jobs = [make_job(n, GUILD, 50.0 + n, 50.0 + n) for n in range(1, 5)]
    for job in jobs:
        queue.add(job)
    assert queue.remove(jobs[0].id)
    assert [queue.position(j.id) for j in jobs] == [None, 1, 2, 3]
    # Kling said 1303: the job comes back with its queued_at, ahead of the others again.
    queue.add(dataclasses.replace(jobs[0], submit_attempts=1))
    assert [queue.position(j.id) for j in jobs] == [1, 2, 3, 4]
    queue.add(jobs[0])  # already queued: nothing changes
    assert len(queue) == 4


async def test_cards_hear_their_new_place_when_the_queue_moves(rig: Rig) -> None:
    """What a member sees on a waiting card: its place, told again as jobs ahead of it leave."""
    places: list[tuple[str, int | None]] = []

    async def on_progress(job: Job, elapsed: float, estimate: float | None) -> None:
        places.append((job.id, runner.queue_position(job.id)))

    rig.observer.on_progress = on_progress  # type: ignore[method-assign]
    rig.config = RunnerConfig(progress_interval=1.0)
    rig.kling.polls_needed = 50  # the first job keeps Kling's only slot for a while
    rig.kling.script_create("ok", ConcurrencyFullError("full", code=1303))
    runner = await rig.start()
    assert rig.store is not None
    first, second, third, fourth = [await rig.store.create_job(new_job()) for _ in range(4)]
    elsewhere = await rig.store.create_job(new_job(guild=GUILD + 1))
    for job in (first, second, third, fourth, elsewhere):  # all queued before any is sent
        runner.enqueue(job)
    await rig.wait_state(fourth.id, JobState.SUBMITTED, JobState.PROCESSING)

    def seen(job: Job) -> list[int | None]:  # places told while waiting (not while running)
        return [place for job_id, place in places if job_id == job.id and place is not None]

    # Each waiting card was told its place when a job ahead of it went to Kling, at most once
    # per progress interval: second and third left within the same second (after the 1303 gate
    # reopened), so fourth heard "2nd" and then nothing until it was sent itself. The other
    # server's job counted only its own server's queue, which nobody left ahead of it.
    assert seen(second) == [1]
    assert seen(third) == [2, 1]
    assert seen(fourth) == [3, 2]
    assert seen(elsewhere) == []  # no job of its server left the queue before it
    assert runner.queue_position(first.id) is None and runner.queue_length() == 0


def test_a_job_that_joins_the_queue_hears_its_place_at_the_next_move() -> None:
    """Even when the jobs ahead of it were told their place a moment ago (they are not due for
    news yet, the newcomer has never been told)."""
    queue = LocalQueue()
    ahead = [make_job(n, GUILD, 50.0 + n, 50.0 + n) for n in range(1, 3)]
    for job in ahead:
        queue.add(job)
    assert set(queue.due_for_news(GUILD, 1000.0, 10.0)) == {j.id for j in ahead}
    newcomer = make_job(3, GUILD, 60.0, 60.0)
    queue.add(newcomer)
    assert queue.due_for_news(GUILD, 1004.0, 10.0) == [newcomer.id]
    assert set(queue.due_for_news(GUILD, 1010.0, 10.0)) == {j.id for j in ahead}
    assert queue.due_for_news(GUILD, 1014.0, 10.0) == [newcomer.id]


def test_the_next_job_is_none_when_every_waiting_job_is_busy() -> None:
    queue = LocalQueue()
    jobs = [make_job(n, GUILD, 50.0 + n, 50.0 + n) for n in range(1, 3)]
    for job in jobs:
        queue.add(job)
    assert queue.first(skip={j.id for j in jobs}) is None
    assert queue.first() == jobs[0].id
    assert LocalQueue().first() is None
