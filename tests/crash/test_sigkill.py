"""Crash safety (SPEC §5, issue 7): SIGKILL `kling-bot run` at 24 chosen moments of a scripted
run of many jobs, restart it each time, and check that nothing was lost or done twice.

Each bot lifetime gets new queued jobs (stored the way the submit flow stores them) and, for the
marking kills, `/kling mark` commands from members; then the process is killed at one moment of
the seeded plan (see killer.py) and started again on the same database (the whole run is made
on a SQLite file and again on PostgreSQL). After every kill: no result posted twice, no create
resent for a job Kling already has, the job tables and their event log agree. At the end, one
more lifetime runs everything to completion: every job is delivered exactly once or failed with
a reason, and every session's points are exactly the clicks its Kling session holds (after the
next action on it).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.kling.emulator import KlingEmulator
from tests.cogs.delivery_support import (
    seed_animate_job,
    start_bot_process,
    stop_bot_process,
    write_images,
    write_run_config,
)
from tests.cogs.harness import make_video
from tests.crash.checks import (
    TERMINAL,
    assert_points_intact,
    at_most_once,
    final_outcomes,
    jobs,
    rows,
)
from tests.crash.killer import Killer, KillPoint
from tests.database import BACKENDS, Database, forget
from tests.discord_twin import DiscordTwin
from tests.processes import ChildProcess

SEED = 20240607
JOBS_PER_LIFETIME = 2
CHANNELS = ("general", "clips", "memes")
MARK_FRAMES = (0, 12, 24)
CELLS = [f"{col}{row}" for col in "ABCDEFGHIJ" for row in range(1, 7)]
KILL_TIMEOUT = 30.0


def kill_plan(rng: random.Random) -> list[KillPoint]:
    """24 kill points, six per phase, in a seeded random order."""
    create, get = "multi-image2video:create", "multi-image2video:get"
    plan = [
        *(KillPoint("marking", "emulator", "add-selection", when, rng.randint(1, 2))
          for when in ("after", "after", "after", "before", "before", "before")),
        *(KillPoint("submitting", "emulator", create, when, rng.randint(1, 2))
          for when in ("before", "before", "after", "after")),
        *(KillPoint("submitting", "db", state="submitting", delay=rng.uniform(0, 0.02))
          for _ in range(2)),
        *(KillPoint("polling", "emulator", get, when, rng.randint(1, 4))
          for when in ("after", "after", "before")),
        *(KillPoint("polling", "db", state=state, delay=rng.uniform(0, 0.15))
          for state in ("submitted", "processing", "processing")),
        *(KillPoint("delivering", "post") for _ in range(3)),
        KillPoint("delivering", "emulator", "files", "after", 1),
        *(KillPoint("delivering", "db", state=state, delay=rng.uniform(0, 0.05))
          for state in ("succeeded", "delivering")),
    ]  # fmt: skip
    rng.shuffle(plan)
    return plan


async def start_bot(config: Path, twin: DiscordTwin) -> ChildProcess:
    """`kling-bot run` (through tests/crash/fast_bot.py: same entry point, shorter poll waits)."""
    return await start_bot_process(config, twin, module="tests.crash.fast_bot")


def mark_text(rng: random.Random) -> tuple[str, int]:
    return " ".join(rng.sample(CELLS, rng.randint(1, 2))), rng.choice(MARK_FRAMES)


async def wait_all_terminal(db_path: Database, timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {job["state"] for job in await asyncio.to_thread(jobs, db_path)}
        if states <= TERMINAL:
            return
        await asyncio.sleep(0.1)
    left = [(j["id"][:8], j["state"]) for j in jobs(db_path) if j["state"] not in TERMINAL]
    raise TimeoutError(f"jobs still in flight: {left}")


@dataclass
class CrashRun:
    """What the scripted run left behind, captured before the emulator and stand-in closed."""

    kills: list[str]
    outcome: Counter[str]
    failures: list[str]
    points_problem: str | None
    points_checked: int
    seconds: float
    redelivery_checks: int  # deliveries that had to look for an earlier post first
    lookups: int  # creates of unknown outcome looked up by external_task_id


async def run_with_kills(tmp_path: Path, db: Database) -> CrashRun:
    began = time.monotonic()
    rng = random.Random(SEED)
    twin = await DiscordTwin.start()
    try:
        guild = twin.add_guild("Crash Server", channels=CHANNELS)
        channels = [guild.channel(name) for name in CHANNELS]
        members = [twin.member(guild, name) for name in ("alice", "bob", "carol")]
        images = write_images(tmp_path / "refs", noisy=False)
        video = make_video(tmp_path / "clip.mp4")
        async with KlingEmulator(
            seconds_per_stage=0.15, image2video_long_side=320, work_dir=tmp_path / "emulator"
        ) as emulator:
            config = write_run_config(tmp_path, twin, emulator.base_url, database=db)
            killer = Killer(emulator, twin, db)

            # Lifetime 0: one editing session per channel, opened through /kling edit.
            proc = await start_bot(config, twin)
            try:
                for channel, member in zip(channels, members, strict=True):
                    handle = await member.slash("kling edit", video=video, channel=channel)
                    reply = await handle.response(timeout=30)
                    assert "editing session is open" in reply.content, reply.content
            finally:
                await stop_bot_process(proc)

            kills: list[str] = []
            for number, point in enumerate(kill_plan(rng), 1):
                for _ in range(JOBS_PER_LIFETIME):
                    await seed_animate_job(db, rng.choice(channels), rng.choice(members).id, images)
                proc = await start_bot(config, twin)
                killer.arm(point, proc)
                if point.phase == "marking":
                    for channel in rng.sample(channels, 2):
                        points, frame = mark_text(rng)
                        await rng.choice(members).slash(
                            "kling mark", points=points, frame=frame, channel=channel, wait=False
                        )
                try:
                    await asyncio.wait_for(killer.fired.wait(), KILL_TIMEOUT)
                except TimeoutError:
                    pytest.fail(f"kill point {number} never came: {point.describe()}")
                finally:
                    killer.disarm()
                    await stop_bot_process(proc, kill=True)
                assert_killed(proc, killer, number)
                kills.append(point.describe())
                at_most_once(db, twin, channels, emulator, killer.ledger)

            # The last lifetime: the next action on every session, then every job to its end.
            proc = await start_bot(config, twin)
            try:
                for channel, member in zip(channels, members, strict=True):
                    points, frame = mark_text(rng)
                    handle = await member.slash(
                        "kling mark", points=points, frame=frame, channel=channel
                    )
                    await handle.response(timeout=30)
                await wait_all_terminal(db, timeout=60)
            finally:
                await stop_bot_process(proc)
            assert proc.returncode == 0, f"graceful stop exited {proc.returncode}"

            at_most_once(db, twin, channels, emulator, killer.ledger)
            outcome = final_outcomes(db, twin, channels, emulator)
            try:
                checked, problem = assert_points_intact(db, emulator), None
            except AssertionError as error:
                checked, problem = 0, str(error)
        failures = [j["status_msg"] for j in rows(db, "SELECT * FROM jobs WHERE state = 'failed'")]
        rechecked = rows(db, "SELECT id FROM jobs WHERE delivery_attempts > 1")
        lookups = killer.lookups
    finally:
        await twin.stop()
    twin.assert_clean()
    return CrashRun(
        kills,
        outcome,
        failures,
        problem,
        checked,
        time.monotonic() - began,
        len(rechecked),
        lookups,
    )


def assert_killed(proc: ChildProcess, killer: Killer, number: int) -> None:
    """The process died of our SIGKILL (not a clean exit or a crash of its own).

    Two facts that cannot be lost: the killer's signal was delivered through the process's
    pidfd while it was alive, and the kernel's exit status (read by us alone) is "killed by
    SIGKILL"."""
    assert killer.delivered, f"kill point {number}: the process was gone before the kill"
    assert proc.killed_by == signal.SIGKILL, (
        f"kill point {number}: exit {proc.returncode}\n{proc.output()[-3000:]}"
    )


@pytest.fixture(scope="module", params=BACKENDS)
def crash_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CrashRun]:
    """One scripted run per backend, shared by the tests below (each takes about a minute)."""
    tmp_path = tmp_path_factory.mktemp(f"crash-{request.param}")
    if request.param == "sqlite":
        yield asyncio.run(run_with_kills(tmp_path, tmp_path / "data" / "bot.sqlite3"))
        return
    cluster = request.getfixturevalue("postgres_cluster")
    name = cluster.create_database()
    url = cluster.url(name)
    try:
        yield asyncio.run(run_with_kills(tmp_path, url))
    finally:
        forget(url)
        cluster.drop_database(name)
    assert not (tmp_path / "data" / "bot.sqlite3").exists(), "the bot kept its data in SQLite"


def test_every_job_is_delivered_once_or_failed_after_24_kills(crash_run: CrashRun) -> None:
    phases = Counter(kill.split(":")[0] for kill in crash_run.kills)
    assert phases == {"marking": 6, "submitting": 6, "polling": 6, "delivering": 6}
    assert sum(crash_run.outcome.values()) == JOBS_PER_LIFETIME * 24
    assert crash_run.outcome["failed"] == 0, f"jobs failed: {crash_run.failures}"
    # The kills landed where they were meant to: posts made but not recorded were found again,
    # and creates whose answer was lost were looked up by external_task_id, not resent.
    assert crash_run.redelivery_checks >= 3
    assert crash_run.lookups >= 2
    print(
        f"\n{len(crash_run.kills)} kill points, jobs {dict(crash_run.outcome)}, "
        f"{crash_run.redelivery_checks} re-checked deliveries, {crash_run.lookups} lookups, "
        f"{crash_run.seconds:.0f} s"
    )


def test_session_points_equal_the_clicks_kling_holds(crash_run: CrashRun) -> None:
    assert crash_run.points_problem is None, crash_run.points_problem
    assert crash_run.points_checked > 0
