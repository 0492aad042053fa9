"""`kling-bot run` with the job runner's waits shortened, for the crash test's subprocess.

    python -m tests.crash.fast_bot run --config PATH

Everything else is the production entry point (`bot.cli.main`): the same config
loading, logging, Discord client, SQLite store and runner. Only the poll/backoff timings are
shortened (the defaults poll every 5-30 s, which would make twenty restarts take many minutes).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import cogs.core.runtime
from bot.cli import main
from bot.config import Config
from bot.jobs import RunnerConfig

CRASH_RUNNER = RunnerConfig(
    poll_first=0.2, poll_max=0.4, poll_growth=1.2, resume_spread=0.2,
    queue_retry_first=0.2, reconcile_first=0.2, reconcile_max=1.0,
    delivery_retry_first=0.2, progress_interval=0.5,
)  # fmt: skip


def _fast_runner_config(config: Config) -> RunnerConfig:
    return replace(CRASH_RUNNER, poll_timeout=config.kling.poll_timeout_minutes * 60.0)


if __name__ == "__main__":
    cogs.core.runtime.runner_config = _fast_runner_config
    sys.exit(main(sys.argv[1:]))
