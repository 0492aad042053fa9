"""Owner ids of job claims (SPEC §11): which machine a claim names, and when a claim's place and
pid prove its process gone (its jobs released early) or prove nothing (its jobs wait for the
lease)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.jobs import ownership as ownership_module
from bot.jobs.ownership import gone_from_here, new_owner_id


def finished_pid() -> int:
    """The pid of a process that has run and exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- owner ids ---------------------------------------------------------------------------------


def test_an_owner_id_names_the_host_with_its_separators_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator reads the host name in every claim; a ':' or '/' in it must not break the
    id apart (the pid would be misread and a dead process's jobs would wait out the lease)."""
    name = "rack:7/" + "b" * 100
    monkeypatch.setattr(ownership_module.socket, "gethostname", lambda: name)
    me = new_owner_id()
    place, pid, _ = me.split(":")
    assert place.split("/")[0] == ("rack_7_" + "b" * 100)[:60]
    assert int(pid) == os.getpid()
    assert gone_from_here(f"{place}:{finished_pid()}:0a0a0a0a", me)


class FakeProc:
    """/proc as another machine, or another process space, would show it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, boot: str, space: int) -> None:
        real_stat = os.stat

        class ProcPath(type(Path())):  # type: ignore[misc]
            def read_text(self, *args: Any, **kwargs: Any) -> str:
                assert str(self) == "/proc/sys/kernel/random/boot_id"
                return boot + "\n"

        def stat(path: Any, *args: Any, **kwargs: Any) -> Any:
            if str(path) == "/proc/self/ns/pid":
                return os.stat_result((0, space, 0, 0, 0, 0, 0, 0, 0, 0))
            return real_stat(path, *args, **kwargs)

        monkeypatch.setattr(ownership_module, "Path", ProcPath)
        monkeypatch.setattr(ownership_module.os, "stat", stat)


def test_another_machine_or_process_space_of_the_same_host_name_is_another_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two machines named alike (or two containers on the host's network) see different pids:
    a pid that is free here says nothing about a process there, whose jobs must wait."""
    monkeypatch.setattr(ownership_module.socket, "gethostname", lambda: "bot")
    places = {}
    for boot, space in [("boot-a", 4026531836), ("boot-b", 4026531836), ("boot-a", 4026532999)]:
        FakeProc(monkeypatch, boot, space)
        places[boot, space] = new_owner_id().split(":")[0]
    FakeProc(monkeypatch, "boot-a", 4026531836)
    me = new_owner_id()
    assert me.split(":")[0] == places["boot-a", 4026531836]  # the same place every time
    assert len(set(places.values())) == 3
    for place in places.values():
        assert place.startswith("bot/")
        there = f"{place}:{finished_pid()}:0b0b0b0b"
        assert gone_from_here(there, me) is (place == me.split(":")[0])


def test_a_place_that_cannot_be_told_apart_never_makes_a_process_gone() -> None:
    """Without /proc (not Linux) the place is only the host name: containers sharing it cannot
    see each other's pids, so a pid free here proves nothing."""
    me = f"bot/?:{os.getpid()}:0c0c0c0c"
    assert not gone_from_here(f"bot/?:{finished_pid()}:0d0d0d0d", me)
    assert not gone_from_here(f"bot/?:{os.getpid()}:0e0e0e0e", me)


def test_a_process_this_one_may_not_signal_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another user's process answers "not permitted": it exists, so its jobs wait."""
    me = new_owner_id()
    theirs = finished_pid()  # a pid free here, then taken by another user's process
    real_kill = os.kill

    def kill(pid: int, signal: int) -> None:
        if pid == theirs:
            raise PermissionError(1, "Operation not permitted")
        real_kill(pid, signal)

    monkeypatch.setattr(ownership_module.os, "kill", kill)
    assert not gone_from_here(f"{me.split(':')[0]}:{theirs}:0f0f0f0f", me)
