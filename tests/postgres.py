"""A throwaway PostgreSQL cluster for the tests: ``initdb`` in a temp folder, ``pg_ctl`` on a free
loopback port, stopped (and its folder removed) at the end of the session.

It runs without durability (fsync, synchronous_commit and full_page_writes off): the tests never
outlive the cluster. ``initdb`` refuses to run as root, so as root (CI) the server runs as the
``postgres`` user of Debian's package (or ``nobody``), which owns the temp folder. Each test gets a
database of its own (``createdb``, dropped after the test) and connects over TCP as the cluster's
superuser, trusted on loopback only.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

log = logging.getLogger(__name__)

SUPERUSER = "kling"
START_TIMEOUT_S = 60
_SERIAL = itertools.count()


def find_bin_dir() -> Path | None:
    """The folder with initdb and pg_ctl: Debian keeps them off PATH, newest version first."""
    candidates = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda folder: _version_key(folder.parent.name),
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "pg_ctl").exists() and (folder / "createdb").exists():
            return folder
    return None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_user() -> str | None:
    """Who runs initdb and the server: None for the current user, unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root, and there is no postgres or nobody user to run initdb")


class PostgresCluster:
    def __init__(self, bin_dir: Path, root: Path, port: int, user: str | None) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.port = port
        self._user = user
        self.data = root / "data"
        self.log = root / "server.log"

    @classmethod
    def start(cls, bin_dir: Path) -> PostgresCluster:
        user = _server_user()
        root = Path(tempfile.mkdtemp(prefix="kling-pg-"))
        if user is not None:
            record = pwd.getpwnam(user)
            os.chown(root, record.pw_uid, record.pw_gid)
        cluster = cls(bin_dir, root, _free_port(), user)
        try:
            cluster._as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D", str(cluster.data),
                    "-U", SUPERUSER,
                    "--auth=trust",
                    "--no-sync",
                    "--encoding=UTF8",
                    "--locale=C",
                ]
            )  # fmt: skip
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={cluster.port}"
                f" -c unix_socket_directories={root}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                " -c max_connections=200"
            )
            cluster._as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D", str(cluster.data),
                    "-l", str(cluster.log),
                    "-o", options,
                    "-w", "-t", str(START_TIMEOUT_S),
                    "start",
                ]
            )  # fmt: skip
        except BaseException:
            cluster._remove()
            raise
        return cluster

    def stop(self) -> None:
        pg_ctl = str(self.bin_dir / "pg_ctl")
        with contextlib.suppress(RuntimeError):  # already gone
            self._as_server_user([pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        self._remove()

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database (copied from template0); its name."""
        name = f"test_{os.getpid()}_{next(_SERIAL)}"
        self._client("createdb", "--template=template0", name)
        return name

    def drop_database(self, name: str) -> None:
        self._client("dropdb", "--force", name)

    def _client(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin_dir / program), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", SUPERUSER, *args],
            check=True,
            capture_output=True,
        )  # fmt: skip

    def _as_server_user(self, args: Sequence[str]) -> None:
        command = list(args)
        if self._user is not None:
            # A root shell's PATH may leave out the sbin folders, where util-linux puts runuser.
            search = os.pathsep.join((os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin"))
            runuser = shutil.which("runuser", path=search) or "runuser"
            command = [runuser, "-u", self._user, "--", *command]
        done = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}"
            )

    def _remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> tuple[PostgresCluster, float]:
    """A running cluster and how long starting it took (seconds); FileNotFoundError without
    the binaries."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError(
            "PostgreSQL's initdb and pg_ctl were not found (install the postgresql package)"
        )
    started = time.monotonic()
    return PostgresCluster.start(bin_dir), time.monotonic() - started


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One cluster for the test session. Without PostgreSQL installed the tests that need it are
    skipped, except in CI (the variable CI is set), where they fail: CI must run them."""
    try:
        cluster, took = start_cluster()
    except FileNotFoundError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(str(missing))
    log.info("PostgreSQL test cluster on port %d started in %.2f s", cluster.port, took)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of a fresh, empty database of its own for this test (dropped afterwards)."""
    name = postgres_cluster.create_database()
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.drop_database(name)
