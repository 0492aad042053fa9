"""Several real `kling-bot run` processes sharing one PostgreSQL database, against the Discord
stand-in and the Kling emulator (SPEC §11).

A :class:`Fleet` starts the processes (each with its own config file, log and heartbeat file, one
database and one media folder shared by all, as the README's "Scaling out" sets them up), seeds
jobs the way the submit flow stores them, and reads the database straight through asyncpg, as an
operator would, never through a bot. The crash test's :class:`Killer` hooks the emulator and the
stand-in: it counts the create requests per job (the ``external_task_id`` Kling is sent) and the
result posts per job, and can SIGKILL a process at an exact Kling call. Each process lifetime
talks to the emulator through a port of its own (:class:`KlingDoors`), so every create and poll of
a job is known to come from one process or another.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from bot.kling.emulator import KlingEmulator
from bot.storage import Job, Store
from tests.cogs.delivery_support import (
    result_messages,
    seed_animate_job,
    write_images,
    write_run_config,
)
from tests.crash.killer import Killer
from tests.discord_twin import DiscordTwin, TwinChannel, TwinGuild
from tests.processes import ChildProcess, child_env, python_module

REPO = Path(__file__).resolve().parents[2]
ENTRY = "tests.scale.fast_bot"  # `kling-bot run` with short poll waits and claim leases
READY_LINE = "job runner started"  # logged once the gateway is ready and the jobs resumed
START_TIMEOUT_S = 60.0  # a start on this shared 2-core machine can take a while under load
# The emulator's names for the create and for a poll (or look-up) of an animate job.
CREATE, GET = "multi-image2video:create", "multi-image2video:get"


class KlingDoors:
    """One emulator port per process lifetime, and which lifetime made each call about a job
    (its creates, polls and look-ups)."""

    def __init__(self, emulator: KlingEmulator) -> None:
        self.emulator = emulator
        self.by_port: dict[int, str] = {}
        # (process lifetime, endpoint, job id, unix time of arrival)
        self.calls: list[tuple[str, str, str, float]] = []
        faults = emulator.faults
        original = faults.apply

        async def apply(
            request: web.Request, endpoint: str, handler: Callable[..., Awaitable[Any]]
        ) -> web.StreamResponse:
            arrived = time.time()
            sockname = request.transport.get_extra_info("sockname") if request.transport else None
            who = self.by_port.get(sockname[1] if sockname else 0, "another door")
            job_id = await self._job_of(request, endpoint)
            if job_id is not None:
                self.calls.append((who, endpoint, job_id, arrived))
            return await original(request, endpoint, handler)

        faults.apply = apply  # type: ignore[method-assign]

    async def open(self, label: str) -> str:
        """A new port for the process lifetime ``label``; the base URL it is to use."""
        url = await self.emulator.add_port()
        self.by_port[int(url.rsplit(":", 1)[1])] = label
        return url

    async def _job_of(self, request: web.Request, endpoint: str) -> str | None:
        if endpoint.endswith(":create"):
            body = await request.json()  # aiohttp keeps the body: the handler reads it again
            return str(body.get("external_task_id") or "") or None
        if endpoint.endswith(":get"):
            task_id = request.match_info.get("task_id", "")
            if not task_id.isdigit():
                return task_id  # a look-up by external_task_id: the job id itself
            task = self.emulator.store.tasks.get(task_id)
            return task.external_task_id if task else None
        return None

    def times(self, job_id: str, endpoint: str) -> list[float]:
        """When calls to ``endpoint`` about the job arrived (unix time), from any process."""
        return [at for _, called, job, at in self.calls if (job, called) == (job_id, endpoint)]

    def callers(self, job_id: str) -> Counter[str]:
        """Kling calls about the job, per process lifetime."""
        return Counter(who for who, _, job, _ in self.calls if job == job_id)


@dataclass
class BotProcess:
    """One `kling-bot run` lifetime of a named process (a restart is a new lifetime)."""

    name: str
    label: str  # name#lifetime: how the Kling emulator knows it
    proc: ChildProcess

    def holds(self, claimed_by: object) -> bool:
        """Whether a job's ``claimed_by`` names this process (owner ids are host:pid:random)."""
        return isinstance(claimed_by, str) and claimed_by.split(":")[-2:-1] == [str(self.proc.pid)]


class Fleet:
    def __init__(self, twin: DiscordTwin, emulator: KlingEmulator, url: str, tmp: Path) -> None:
        self.twin = twin
        self.emulator = emulator
        self.url = url
        self.tmp = tmp
        self.media = tmp / "shared-media"  # one folder every process reads and writes
        self.images = write_images(tmp / "refs", noisy=False)
        self.kling = Killer(emulator, twin, tmp / "no-sqlite-here.sqlite3")
        self.doors = KlingDoors(emulator)
        self.lifetimes: list[BotProcess] = []

    # -- processes -------------------------------------------------------------------------

    def write_config(self, name: str, settings: str, kling_url: str, more: str = "") -> Path:
        """``settings``: [discord] lines (shards); ``more``: whole tables after the others."""
        folder = self.tmp / name
        # [storage] path only places this process's heartbeat file: the data is in PostgreSQL
        # (DATABASE_URL, set in the environment as the compose file does).
        return write_run_config(
            folder,
            self.twin,
            kling_url,
            discord=settings,
            data_dir=folder,
            media_dir=self.media,
            more=more,
        )

    async def start(
        self,
        *processes: tuple[str, str] | tuple[str, str, str],
        claim_lease: float | None = None,
        poll_every: float | None = None,
    ) -> list[BotProcess]:
        """Start `kling-bot run` for each (name, [discord] shard lines, and optionally more
        tables) at once; return when every one has resumed its jobs (its log says so). A process
        that exits meanwhile fails the test. ``claim_lease``, ``poll_every``: seconds (default:
        tests/scale/fast_bot.py's)."""
        env = {"DISCORD_TOKEN": self.twin.token, "DATABASE_URL": self.url}
        if claim_lease is not None:
            env["SCALE_TEST_CLAIM_LEASE"] = str(claim_lease)
        if poll_every is not None:
            env["SCALE_TEST_POLL_SECONDS"] = str(poll_every)
        started: list[BotProcess] = []
        for name, settings, *more in processes:
            lifetime = sum(1 for p in self.lifetimes + started if p.name == name) + 1
            label = f"{name}#{lifetime}"
            kling_url = await self.doors.open(label)
            config = self.write_config(name, settings, kling_url, "".join(more))
            proc = ChildProcess.start(
                python_module(ENTRY, "run", "--config", str(config)),
                cwd=REPO,
                env=child_env(env),
                log=config.parent / f"bot-{lifetime}.log",
            )
            started.append(BotProcess(name, label, proc))
        self.lifetimes += started
        try:
            await self.twin.wait_until(
                lambda: all(
                    READY_LINE in p.proc.output() or p.proc.returncode is not None for p in started
                ),
                START_TIMEOUT_S,
            )
        except TimeoutError:
            raise AssertionError(f"not ready in time:\n{self._tails(started)}") from None
        if any(p.proc.returncode is not None for p in started):
            raise AssertionError(f"kling-bot run exited:\n{self._tails(started)}")
        return started

    async def stop(self, *processes: BotProcess) -> None:
        """A clean stop (SIGTERM), as an operator's restart does; it must exit 0."""
        await asyncio.gather(*(p.proc.stop() for p in processes))
        for p in processes:
            assert p.proc.returncode == 0, (
                f"{p.name} exited {p.proc.returncode}:\n{self._tails([p])}"
            )

    async def stop_everything(self) -> None:
        """Teardown: whatever still runs is killed (a test failing half-way leaves no child)."""
        await asyncio.gather(*(p.proc.stop(kill=True) for p in self.lifetimes))

    def _tails(self, processes: list[BotProcess]) -> str:
        return "\n".join(
            f"--- {p.name} (pid {p.proc.pid}, exit {p.proc.returncode}):\n{p.proc.output()[-2500:]}"
            for p in processes
        )

    # -- jobs and the database -------------------------------------------------------------

    async def seed_job(self, channel: TwinChannel, requester_id: int) -> Job:
        """A queued animate job, stored the way the submit flow stores one."""
        return await seed_animate_job(self.url, channel, requester_id, self.images)

    async def stored_job(self, job_id: str) -> Job:
        """The job as the bot's store reads it."""
        store = await Store.open(self.url)
        try:
            job = await store.get_job(job_id)
        finally:
            await store.close()
        assert job is not None, job_id
        return job

    async def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        connection = await asyncpg.connect(self.url)
        try:
            return [dict(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    async def job(self, job_id: str) -> dict[str, Any]:
        [row] = await self.rows("SELECT * FROM jobs WHERE id = $1", job_id)
        return row

    async def wait_for_job(
        self,
        job_id: str,
        states: set[str],
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            row = await self.job(job_id)
            if row["state"] in states:
                return row
            if loop.time() > deadline:
                raise AssertionError(
                    f"job {job_id} stayed {row['state']}, wanted {states}:\n"
                    f"{self._tails(self.lifetimes)}"
                )
            await asyncio.sleep(0.1)

    async def assert_done_once(self, job: Job, channel: TwinChannel) -> dict[str, Any]:
        """The job was delivered: created at Kling by exactly one request, one Kling task, one
        result posted (counted as the stand-in stored it, and visible in the channel), the one
        the database names. Its row, for the caller's checks of who did it."""
        row = await self.job(job.id)
        assert row["state"] == "delivered", row
        assert self.kling.ledger.sent[job.id] == 1, f"creates for {job.id}: {self.kling.ledger}"
        tasks = [t for t in self.emulator.store.tasks.values() if t.external_task_id == job.id]
        assert [t.task_id for t in tasks] == [row["kling_task_id"]]
        assert self.kling.posts[job.id] == 1, f"result posts for {job.id}: {self.kling.posts}"
        [posted] = result_messages(channel, job.id)
        assert posted.id == row["result_message_id"]
        assert posted.content.startswith(f"<@{job.requester_id}>") and len(posted.files) == 1
        events = await self.rows(
            "SELECT from_state, to_state FROM job_events WHERE job_id = $1 ORDER BY id", job.id
        )
        # One unbroken chain through each state once (a delivery once per attempt, each attempt
        # recorded before its post): nothing was done twice in the database.
        chain = [e["to_state"] for e in events]
        assert [e["from_state"] for e in events] == [None, *chain[:-1]], events
        once = [state for state in chain if state != "delivering"]
        assert chain[-1] == "delivered" and len(once) == len(set(once)), chain
        assert chain.count("delivering") == row["delivery_attempts"], (chain, row)
        return row


@contextlib.asynccontextmanager
async def fleet(
    twin: DiscordTwin, url: str, tmp: Path, *, seconds_per_stage: float = 0.3
) -> AsyncIterator[Fleet]:
    async with KlingEmulator(
        seconds_per_stage=seconds_per_stage, image2video_long_side=320, work_dir=tmp / "emulator"
    ) as emulator:
        processes = Fleet(twin, emulator, url, tmp)
        try:
            yield processes
        finally:
            await processes.stop_everything()


def free_port() -> int:
    """A loopback port nobody listens on now (for a process's web server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sharded_guilds(twin: DiscordTwin) -> tuple[TwinGuild, TwinGuild]:
    """A server on shard 0 and one on shard 1 of 2."""
    return twin.add_guild("Zero", shard=(0, 2)), twin.add_guild("One", shard=(1, 2))


def shards(ids: str) -> str:
    """The [discord] lines of a process on shards ``ids`` (e.g. "0") of 2."""
    return f"shard_count = 2\nshard_ids = [{ids}]"
