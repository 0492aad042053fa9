"""Processes the tests start (`kling-bot run` and friends), with an exit status that cannot be lost.

Why not ``asyncio.create_subprocess_exec``: asyncio hands the child's exit status to whichever
``waitpid`` gets there first. Its child watcher thread waits in ``waitpid(pid, 0)``, but
``Process.send_signal`` (through ``Popen.send_signal``) polls with ``waitpid(pid, WNOHANG)``
first. When the crash test's killer has just SIGKILLed the bot and the test then stops it, that
poll can reap the dead child before the watcher thread wakes; the watcher then finds no child,
logs "Unknown child process pid N" and reports exit 255, and the test cannot tell that the kill
worked. With several thousand threads and processes per run and ``pid_max`` at 32768, a
recycled pid gives stale pollers the same chance.

Here the test owns its child through a pidfd (Linux 5.3+): signals go through
``pidfd_send_signal``, which can never reach a recycled pid; the exit is awaited by watching the
pidfd on the event loop; and the status is collected exactly once, by us, with
``waitid(P_PIDFD)``, whose ``si_code`` says whether the child exited or was killed by a signal.
Output goes to a file (a pipe nobody reads would block the bot once it fills).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


class ChildProcess:
    """One child process, started with :meth:`start`; ``returncode`` as in :mod:`subprocess`."""

    def __init__(self, popen: subprocess.Popen[bytes], log: Path | None) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.log = log
        self._pidfd: int | None = os.pidfd_open(popen.pid)
        self.returncode: int | None = None
        self.killed_by: signal.Signals | None = None  # the signal that ended it, if one did
        self._exited: asyncio.Future[int] | None = None
        with contextlib.suppress(RuntimeError):  # no loop yet: `wait()` starts watching
            self._watch(asyncio.get_running_loop())  # so `returncode` follows on its own

    @classmethod
    def start(
        cls, args: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path | None = None
    ) -> ChildProcess:
        """Start ``args``; stdout and stderr are appended to ``log`` (or discarded)."""
        if log is None:
            popen = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        else:
            with log.open("ab") as out:
                popen = subprocess.Popen(
                    list(args),
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
        return cls(popen, log)

    def output(self) -> str:
        """Everything the process wrote so far (its log file)."""
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def send_signal(self, sig: int) -> bool:
        """Signal the process; False once it has exited (never reaches another process)."""
        if self._pidfd is None:
            return False
        try:
            signal.pidfd_send_signal(self._pidfd, sig)
        except ProcessLookupError:
            return False
        return True

    def terminate(self) -> bool:
        return self.send_signal(signal.SIGTERM)

    def kill(self) -> bool:
        return self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        """Wait for the exit and collect its status (once; later calls return it again)."""
        if self.returncode is not None:
            return self.returncode
        exited = self._exited or self._watch(asyncio.get_running_loop())
        return await asyncio.shield(exited)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[int]:
        pidfd = self._pidfd
        assert pidfd is not None
        self._exited = loop.create_future()
        loop.add_reader(pidfd, self._collect, loop)
        return self._exited

    def _collect(self, loop: asyncio.AbstractEventLoop) -> None:
        pidfd = self._pidfd
        assert pidfd is not None and self._exited is not None
        loop.remove_reader(pidfd)
        status = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        assert status is not None  # the pidfd is readable, so the child has exited
        if status.si_code == os.CLD_EXITED:
            self.returncode = status.si_status
        else:  # CLD_KILLED or CLD_DUMPED: si_status is the signal
            self.killed_by = signal.Signals(status.si_status)
            self.returncode = -status.si_status
        # Tell Popen the child is reaped, so it never polls a pid that may be recycled.
        self._popen.returncode = self.returncode
        os.close(pidfd)
        self._pidfd = None
        if not self._exited.done():
            self._exited.set_result(self.returncode)

    async def stop(self, *, kill: bool = False, timeout: float = 15) -> int:  # noqa: ASYNC109
        """SIGTERM (or SIGKILL) and wait; SIGKILL if it is still there after ``timeout``."""
        self.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.wait(), timeout)
        except TimeoutError:
            self.kill()
            return await self.wait()


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without Discord or Kling settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KLING_"))}
    env.update(overrides)
    return env


def python_module(module: str, *args: str, python_options: Sequence[str] = ()) -> list[str]:
    """The command line running ``python -m module args`` with this interpreter."""
    return [sys.executable, *python_options, "-m", module, *args]
