"""What the job runner needs from the outside world, as small Protocols (no Discord here).

- :class:`TaskBackend` talks to Kling (``bot.jobs.kling_backend.KlingTaskBackend`` in production,
  an in-memory fake in tests). It raises ``bot.kling.errors.KlingError`` subclasses.
- :class:`Deliverer` posts a finished video (the Discord side implements it).
- :class:`JobObserver` hears about state changes and progress (the Discord side edits job cards).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.kling.models import Task
from bot.storage import Job


class TaskBackend(Protocol):
    async def create(self, job: Job) -> Task:
        """Send the create call with ``external_task_id = job.id``.

        May itself reconcile an ambiguous failure (timeout, 5xx) by looking the id up. Raises
        ``ConcurrencyFullError`` / ``RateLimitError`` when Kling certainly did not create it, and
        any other retryable ``KlingError`` when the outcome is unknown.
        """
        ...

    async def get(self, job: Job) -> Task:
        """Query the task by ``job.kling_task_id``."""
        ...

    async def find(self, job: Job) -> Task | None:
        """Look the task up by ``external_task_id``; None only when Kling says it does not exist."""
        ...


class PostLookupUndecided(Exception):
    """:meth:`Deliverer.find_delivery` could not tell whether the result was posted.

    For instance the search reached its limit before the end of the channel's history. The runner
    then neither posts (it may be there) nor fails the job (it may have been delivered): it looks
    again later.
    """


class Deliverer(Protocol):
    async def deliver(self, job: Job, video: Path | None) -> int:
        """Post the result and return the new message's id.

        ``video`` is the downloaded file, or None when it could not be downloaded (post
        ``job.result_url`` as a link instead). ``job.delivery_key`` is the same on every attempt
        for this job: use it as the message nonce (with ``enforce_nonce``) or embed it in the
        message (e.g. a button's custom id) so :meth:`find_delivery` can recognise the post.
        """
        ...

    async def find_delivery(self, job: Job) -> int | None:
        """The id of a message already posted for ``job.delivery_key``, or None.

        None must mean "certainly not posted"; raise :class:`PostLookupUndecided` (any exception
        is read the same way) when the search could not decide. Called before any repeated
        attempt (after a crash, a cancellation or an error during a previous ``deliver``), never
        before the first one.
        """
        ...


class JobObserver(Protocol):
    async def on_state_change(self, job: Job) -> None:
        """Every state change (``job.state`` is the new state)."""
        ...

    async def on_progress(self, job: Job, elapsed: float, estimate: float | None) -> None:
        """While waiting: seconds since Kling accepted the job (since it was created while queued)
        and the average duration of past jobs of this kind (None without history). At most once
        per ``progress_interval`` per job."""
        ...

    async def on_finished(self, job: Job) -> None:
        """Once, when the job reaches delivered, failed or cancelled."""
        ...


class NullObserver:
    """An observer that ignores everything (the default)."""

    async def on_state_change(self, job: Job) -> None:
        return None

    async def on_progress(self, job: Job, elapsed: float, estimate: float | None) -> None:
        return None

    async def on_finished(self, job: Job) -> None:
        return None
