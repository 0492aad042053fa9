"""Timing of the job runner: its settings, the poll backoff, a due-time heap, and the gate that
holds the local queue back while Kling is full.

The heap holds at most one live entry per job. Rescheduling pushes a new entry and leaves the old
one behind as garbage that is skipped when popped (checked against ``_due``), so every operation is
O(log n) and nothing ever walks the whole set of jobs.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RunnerConfig:
    # Polling (SPEC §5): 5 s at first, growing by ``poll_growth`` per poll up to 30 s.
    poll_first: float = 5.0
    poll_max: float = 30.0
    poll_growth: float = 1.5
    poll_timeout: float = 60 * 60.0  # since Kling accepted the job
    # The local queue (1303 and friends): retry the head with exponential backoff.
    queue_retry_first: float = 5.0
    queue_retry_max: float = 120.0
    queue_timeout: float = 60 * 60.0  # since the job was created, while Kling never took it
    # A create whose outcome is unknown is looked up by external_task_id, then resent if absent.
    reconcile_first: float = 5.0
    reconcile_max: float = 300.0
    max_submit_attempts: int = 6
    # Failures of a poll that retrying will not fix (auth, not found) before giving up.
    max_poll_errors: int = 5
    # A step that raises something unexpected (a bug, a database error) is tried again later;
    # after this many in a row (or past the job's time limit) the job fails, naming the error id.
    max_unexpected_errors: int = 5
    # Progress callbacks per job at most this often.
    progress_interval: float = 10.0
    # Delivery: download the result, then post it.
    download_max_bytes: int = 512 * 1024 * 1024
    download_time_limit: float = 300.0
    max_download_attempts: int = 3
    delivery_retry_first: float = 10.0
    max_delivery_attempts: int = 5
    # Concurrency of the short-lived step tasks the scheduler starts.
    max_concurrent_calls: int = 8
    max_concurrent_deliveries: int = 2
    # After a restart, first polls are spread over this window instead of all at once.
    resume_spread: float = 5.0
    # An observer call taking longer than this is abandoned (the runner must not hang on it).
    observer_time_limit: float = 30.0
    # A process's claim on a job lasts this long unless renewed (every third of it); after a
    # crash, another process (or this one restarted) takes the job up once it ran out.
    claim_lease: float = 30.0


def poll_interval(config: RunnerConfig, polls_done: int) -> float:
    """Wait before the next poll, after ``polls_done`` polls of this job."""
    return min(config.poll_max, config.poll_first * config.poll_growth ** max(0, polls_done))


def backoff(first: float, ceiling: float, failures: int) -> float:
    """``first`` after the first failure, doubling per failure, capped at ``ceiling``."""
    return min(ceiling, first * 2.0 ** max(0, failures - 1))


class DueHeap:
    """Jobs keyed by the time their next step is due."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._due

    def schedule(self, job_id: str, at: float) -> None:
        """(Re)schedule ``job_id``; an earlier entry for it is superseded."""
        self._due[job_id] = at
        heapq.heappush(self._heap, (at, next(self._order), job_id))
        if len(self._heap) > 4 * len(self._due) + 64:
            self._compact()

    def discard(self, job_id: str) -> None:
        self._due.pop(job_id, None)

    def next_due(self) -> float | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[str]:
        """Remove and return every job due at or before ``now``, earliest first."""
        ready: list[str] = []
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return ready
            _, _, job_id = heapq.heappop(self._heap)
            del self._due[job_id]
            ready.append(job_id)

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap and self._due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)

    def _compact(self) -> None:
        self._heap = [(at, next(self._order), job_id) for job_id, at in self._due.items()]
        heapq.heapify(self._heap)


class SubmissionGate:
    """Whether the next queued job may be sent now.

    Kling's 1303/1302 answers (its slots are full) close the gate with exponential backoff; it
    reopens when the backoff ends or as soon as a job at Kling finishes (a slot is free), which
    also wakes the scheduler through ``wake``.

    Each process has its own gate: with several processes (SPEC §11) each learns that Kling is
    full from its own 1303 answers, which costs at most one refused create per process, and a
    refused create is certainly not created, so it is only sent again.
    """

    def __init__(
        self, config: RunnerConfig, clock: Callable[[], float], wake: Callable[[], None]
    ) -> None:
        self._config = config
        self._clock = clock
        self._wake = wake
        self._failures = 0
        self.closed_until = 0.0  # the gate is open from this time on

    def is_open(self, now: float) -> bool:
        return now >= self.closed_until

    def close(self) -> None:
        self._failures += 1
        config = self._config
        wait = backoff(config.queue_retry_first, config.queue_retry_max, self._failures)
        self.closed_until = self._clock() + wait

    def open(self) -> None:
        self._failures = 0
        self.closed_until = 0.0
        self._wake()
