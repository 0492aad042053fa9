"""Where a benchmark keeps the bot's data: a SQLite file, or a database of its own in a throwaway
PostgreSQL cluster (tests/postgres.py: ``initdb`` in a temp folder, ``pg_ctl`` on a free loopback
port, no durability; as root the server runs as the ``postgres`` user).

The PostgreSQL server does part of the bot's storage work in processes of its own, so
:meth:`Databases.server_cpu` reads their CPU time (the postmaster, its live backends and the ones
that have exited) to put next to the bot's: with SQLite that work is inside the bot's process.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.postgres import PostgresCluster, find_bin_dir

BACKENDS = ("sqlite", "postgresql")


class Databases:
    def __init__(self, work: Path, cluster: PostgresCluster | None) -> None:
        self.work = work
        self.cluster = cluster
        self._count = 0

    @classmethod
    def start(cls, requested: str, work: Path) -> tuple[Databases, list[str], str]:
        """The backends to measure for ``--database sqlite|postgresql|both|auto`` and a note
        for the report (why PostgreSQL is left out, if it is). ``auto``: both when PostgreSQL's
        binaries are installed, else SQLite alone."""
        wanted = list(BACKENDS) if requested in ("both", "auto") else [requested]
        note = ""
        cluster = None
        if "postgresql" in wanted:
            bin_dir = find_bin_dir()
            if bin_dir is None:
                if requested != "auto":
                    raise SystemExit(
                        "PostgreSQL's initdb and pg_ctl were not found (install the postgresql "
                        "package, or run with --database sqlite)"
                    )
                wanted.remove("postgresql")
                note = "PostgreSQL left out: its initdb and pg_ctl were not found"
            else:
                cluster = PostgresCluster.start(bin_dir)
        return cls(work, cluster), wanted, note

    def new(self, backend: str) -> str:
        """A new, empty database: a PostgreSQL URL or the path of a SQLite file."""
        self._count += 1
        if backend == "postgresql":
            if self.cluster is None:
                raise RuntimeError("no PostgreSQL cluster was started")
            return self.cluster.url(self.cluster.create_database())
        folder = self.work / f"sqlite-{self._count}"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / "bot.sqlite3")

    def server_cpu(self) -> float:
        """CPU seconds the PostgreSQL server has used so far (0 without one)."""
        if self.cluster is None:
            return 0.0
        postmaster = int((self.cluster.data / "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")
        fields = _stat(postmaster)
        total = sum(int(f) for f in fields[11:15]) if fields else 0  # utime stime cutime cstime
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                child = _stat(int(entry.name))
                if child and int(child[1]) == postmaster:  # a live backend or worker
                    total += int(child[11]) + int(child[12])
        return total / tick

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
