"""The local queue: jobs waiting for a free slot at Kling (SPEC §5), first in, first out.

A job card shows the job's place among its server's waiting jobs, and with thousands waiting every
card is redrawn whenever the queue moves, so the place must not cost a walk of the queue: the queue
is kept as sorted lists (one for all jobs, one per server) of ``(queued_at, seq, id)`` keys, where
a job's place is a bisection, O(log n). ``queued_at`` is kept when Kling's 1303 sends a job back,
so a requeued job gets its old place again; ``seq`` (the row id) breaks ties.

It also remembers when each waiting job was last told its place, in that order, so that when the
queue moves only the jobs due for news are visited (not the whole queue on every submission).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Iterator

from sortedcontainers import SortedList

from bot.storage import Job

QueueKey = tuple[float, int, str]
_NEVER = float("-inf")


def queue_key(job: Job) -> QueueKey:
    return (job.queued_at or job.created_at, job.seq, job.id)


class LocalQueue:
    def __init__(self) -> None:
        self._all: SortedList[QueueKey] = SortedList()
        self._by_guild: dict[int, SortedList[QueueKey]] = {}
        self._entries: dict[str, tuple[int, QueueKey]] = {}  # job id -> (guild id, key)
        # Per server: waiting job id -> when it was last told its place, oldest first.
        self._told: dict[int, OrderedDict[str, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._entries

    def __iter__(self) -> Iterator[str]:
        """Job ids in the order they will be sent."""
        return (key[2] for key in self._all)

    def add(self, job: Job) -> None:
        """Queue ``job`` at the place its key gives it; nothing happens if it is queued already."""
        if job.id in self._entries:
            return
        key = queue_key(job)
        self._entries[job.id] = (job.guild_id, key)
        self._all.add(key)
        self._by_guild.setdefault(job.guild_id, SortedList()).add(key)
        told = self._told.setdefault(job.guild_id, OrderedDict())
        told[job.id] = _NEVER
        told.move_to_end(job.id, last=False)  # never told: due first

    def remove(self, job_id: str) -> bool:
        """Take the job out of the queue; False when it was not in it."""
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return False
        guild_id, key = entry
        self._all.remove(key)
        guild = self._by_guild[guild_id]
        guild.remove(key)
        if not guild:
            del self._by_guild[guild_id]
        told = self._told[guild_id]
        del told[job_id]
        if not told:
            del self._told[guild_id]
        return True

    def first(self, skip: Container[str] = ()) -> str | None:
        """The job to send next: the oldest one not in ``skip`` (jobs with a step running)."""
        return next((job_id for job_id in self if job_id not in skip), None)

    def position(self, job_id: str) -> int | None:
        """1-based place among the same server's waiting jobs; None when not queued."""
        entry = self._entries.get(job_id)
        if entry is None:
            return None
        guild_id, key = entry
        return self._by_guild[guild_id].index(key) + 1

    def length(self, guild_id: int | None = None) -> int:
        if guild_id is None:
            return len(self._entries)
        guild = self._by_guild.get(guild_id)
        return len(guild) if guild is not None else 0

    def due_for_news(self, guild_id: int, now: float, every: float) -> list[str]:
        """The server's waiting jobs not told their place for ``every`` seconds; from now on
        they count as told at ``now``. Costs O(jobs returned), not O(queue)."""
        told = self._told.get(guild_id)
        if not told:
            return []
        due: list[str] = []
        for job_id, at in told.items():
            if now - at < every:
                break  # the rest were told later still
            due.append(job_id)
        for job_id in due:
            told[job_id] = now
            told.move_to_end(job_id)
        return due
