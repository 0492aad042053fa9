"""Background job runner: submit to Kling, poll, and deliver results exactly once (no Discord)."""

from bot.jobs.kling_backend import KlingTaskBackend, animate_request, edit_request
from bot.jobs.protocols import (
    Deliverer,
    JobObserver,
    NullObserver,
    PostLookupUndecided,
    TaskBackend,
)
from bot.jobs.runner import JobRunner, RunnerStats
from bot.jobs.schedule import RunnerConfig, poll_interval

__all__ = [
    "Deliverer",
    "JobObserver",
    "JobRunner",
    "KlingTaskBackend",
    "NullObserver",
    "PostLookupUndecided",
    "RunnerConfig",
    "RunnerStats",
    "TaskBackend",
    "animate_request",
    "edit_request",
    "poll_interval",
]
