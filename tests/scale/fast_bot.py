"""`kling-bot run` with the job runner's waits shortened, for the tests with several processes.

    python -m tests.scale.fast_bot run --config PATH

The production entry point (`bot.cli.main`) with the crash test's short poll waits and a claim
lease of a few seconds instead of thirty (``SCALE_TEST_CLAIM_LEASE``, default 10): a killed
process's jobs are taken up again soon after its lease ends. Long enough that a process stalled
for a moment on a busy machine keeps its jobs (a lease is renewed every third of it).
``SCALE_TEST_POLL_SECONDS`` polls every so many seconds instead: a test that must see a job acted
on only because Kling called back.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import cogs.core.runtime
from bot.cli import main
from bot.config import Config
from bot.jobs import RunnerConfig
from tests.crash.fast_bot import CRASH_RUNNER

CLAIM_LEASE = float(os.environ.get("SCALE_TEST_CLAIM_LEASE", "10"))
POLL_SECONDS = os.environ.get("SCALE_TEST_POLL_SECONDS")


def _fast_runner_config(config: Config) -> RunnerConfig:
    runner = replace(
        CRASH_RUNNER,
        claim_lease=CLAIM_LEASE,
        poll_timeout=config.kling.poll_timeout_minutes * 60.0,
    )
    if POLL_SECONDS is not None:
        every = float(POLL_SECONDS)
        runner = replace(runner, poll_first=every, poll_max=every, poll_growth=1.0)
    return runner


if __name__ == "__main__":
    cogs.core.runtime.runner_config = _fast_runner_config
    sys.exit(main(sys.argv[1:]))
