"""The tests' own child processes: the exit status is never lost, signals never go astray."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.processes import ChildProcess, child_env

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def start(args: list[str], tmp_path: Path) -> ChildProcess:
    return ChildProcess.start(args, cwd=tmp_path, env=child_env({}), log=tmp_path / "out.log")


async def test_a_kill_followed_at_once_by_a_stop_is_reported_as_that_kill(tmp_path: Path) -> None:
    # The crash test's pattern: the killer signals, the test stops the process straight after.
    # With asyncio's subprocesses the stop's poll could reap the child first (exit 255).
    for _ in range(30):
        proc = start(SLEEPER, tmp_path)
        assert proc.kill()
        await proc.stop(kill=True)
        assert proc.killed_by == signal.SIGKILL
        assert proc.returncode == -signal.SIGKILL


async def test_an_exit_status_and_the_output_are_kept(tmp_path: Path) -> None:
    proc = start([sys.executable, "-c", "print('hello'); raise SystemExit(3)"], tmp_path)
    assert await proc.wait() == 3
    assert proc.killed_by is None
    assert await proc.wait() == 3  # collected once, remembered
    assert "hello" in proc.output()


async def test_returncode_follows_the_exit_without_anyone_waiting(tmp_path: Path) -> None:
    proc = start([sys.executable, "-c", "pass"], tmp_path)
    for _ in range(500):
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.01)
    assert proc.returncode == 0


async def test_a_signal_after_the_exit_reaches_nobody(tmp_path: Path) -> None:
    proc = start([sys.executable, "-c", "pass"], tmp_path)
    await proc.wait()
    assert not proc.kill()  # no error, and no other process could have got it
    assert await proc.stop() == 0


async def test_sigterm_then_sigkill_after_the_timeout(tmp_path: Path) -> None:
    ignores_term = [
        sys.executable,
        "-c",
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)",
    ]
    proc = start(ignores_term, tmp_path)
    for _ in range(500):
        if "ready" in proc.output():
            break
        await asyncio.sleep(0.01)
    assert await proc.stop(timeout=0.5) == -signal.SIGKILL
