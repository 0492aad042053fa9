"""The runner's one table of jobs in memory, shared by all its parts.

Every part of the runner (scheduler, submitter, poller, delivery) reads and writes jobs here and
nowhere else: the newest known snapshot of each in-flight job, what the runner has learnt about it
(:class:`JobNotes`), when its next step is due, its place in the local queue, and whether a step is
running for it. The database stays the truth; this table is what one process has taken up from it.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from bot.jobs.queue import LocalQueue
from bot.jobs.schedule import DueHeap
from bot.storage import Job


@dataclass
class JobNotes:
    """What the runner learnt about one job while it holds it; forgotten with the job."""

    polls: int = 0  # polls so far, for the backoff
    poll_errors: int = 0  # non-retryable poll failures in a row
    lookup_failures: int = 0  # lookups by external id so far, for their backoff
    absent_after_send: int = 0  # lookups that found nothing: the create certainly did not land
    id_taken: bool = False  # Kling refused the job's id as already used: the task exists
    last_progress: float | None = None  # when the observer last heard progress
    download_failures: int = 0
    delivery_failures: int = 0
    undecided_lookups: int = 0  # searches for an earlier post that could not decide
    unexpected: int = 0  # unexpected errors in a row (see unexpected.py)


class JobTable:
    def __init__(self) -> None:
        self.due = DueHeap()  # at most one entry per job: its next step
        self.queue = LocalQueue()  # jobs waiting for a free slot at Kling
        self._jobs: dict[str, Job] = {}
        self._notes: dict[str, JobNotes] = {}
        self._steps: dict[str, str] = {}  # job id -> the step running for it
        self._leases: dict[str, float] = {}  # job id -> when this process's claim ends

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __getitem__(self, job_id: str) -> Job:
        return self._jobs[job_id]

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def remember(self, job: Job) -> Job:
        """Keep ``job`` as the newest snapshot of it (e.g. what a compare-and-set returned)."""
        self._jobs[job.id] = job
        return job

    def ids(self) -> list[str]:
        return list(self._jobs)

    def notes(self, job_id: str) -> JobNotes:
        """The job's notes; a throwaway when the job was forgotten meanwhile (a step that
        outlived it must not bring its notes back)."""
        notes = self._notes.get(job_id)
        if notes is None:
            notes = JobNotes()
            if job_id in self._jobs:
                self._notes[job_id] = notes
        return notes

    def forget(self, job_id: str) -> None:
        """The job is finished (or another actor owns it): drop everything held about it."""
        self._jobs.pop(job_id, None)
        self._notes.pop(job_id, None)
        self._leases.pop(job_id, None)
        self.due.discard(job_id)
        self.queue.remove(job_id)

    def enqueue(self, job: Job, *, expires_at: float) -> None:
        """Wait in the local queue (at the place its key gives it) until sent or ``expires_at``."""
        self._jobs[job.id] = job
        self.queue.add(job)
        self.due.schedule(job.id, expires_at)

    def dequeue(self, job_id: str) -> None:
        """Leave the local queue to be sent (its queue-expiry entry goes too)."""
        self.queue.remove(job_id)
        self.due.discard(job_id)

    # -- steps -----------------------------------------------------------------------------

    def take(self, job_id: str, step: str) -> Job | None:
        """Take the job up for ``step``: the only way any step of any job starts.

        None when the job is no longer held or a step is already running for it (a job never
        has two steps at once); otherwise the job, busy until :meth:`release`.

        With several processes sharing one database (SPEC §11), the step wrapper
        (``Scheduler._guarded``) then confirms this process's claim on the job in the database
        before the step makes any Kling or Discord call (``ownership.Ownership.hold``); a job
        whose claim fails is forgotten like one another actor moved on.
        """
        if job_id in self._steps or job_id not in self._jobs:
            return None
        self._steps[job_id] = step
        return self._jobs[job_id]

    def release(self, job_id: str) -> None:
        """The step taken up by :meth:`take` is over (whatever its outcome)."""
        self._steps.pop(job_id, None)

    def busy(self, job_id: str) -> bool:
        return job_id in self._steps

    def step_of(self, job_id: str) -> str | None:
        """The name of the step running for the job, if any."""
        return self._steps.get(job_id)

    @property
    def busy_ids(self) -> Container[str]:
        """The jobs with a step running (``job_id in table.busy_ids``)."""
        return self._steps.keys()

    # -- claims (see ownership.py) ---------------------------------------------------------

    def hold(self, job_id: str, until: float) -> None:
        """This process's claim on a job it holds lasts until ``until`` (at least)."""
        if job_id in self._jobs:
            self._leases[job_id] = until

    def lease_left(self, job_id: str, now: float) -> float:
        """Seconds left on this process's claim on the job (0 when not known to hold it)."""
        return max(0.0, self.lease_end(job_id) - now)

    def lease_end(self, job_id: str) -> float:
        """When this process's claim on the job ends (0 when it never claimed it)."""
        return self._leases.get(job_id, 0.0)

    def held_ids(self) -> list[str]:
        return list(self._leases)
