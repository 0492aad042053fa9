"""What must hold after every SIGKILL, read straight from the database (the SQLite file or
PostgreSQL), the emulator and the stand-in (never through the bot)."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from bot.kling.emulator import KlingEmulator
from tests.crash.killer import KlingLedger
from tests.database import Database, select
from tests.discord_twin import DiscordTwin, TwinChannel

TERMINAL = {"delivered", "failed", "cancelled"}


def rows(db_path: Database, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    return select(db_path, sql, params)


def jobs(db_path: Database) -> list[dict[str, Any]]:
    return rows(db_path, "SELECT * FROM jobs ORDER BY created_at")


def result_posts(twin: DiscordTwin, channels: list[TwinChannel]) -> Counter[str]:
    """Result messages per job id, counted in the channels themselves (not the hook's tally)."""
    from tests.crash.killer import result_job_id

    counts: Counter[str] = Counter()
    for channel in channels:
        for message in channel.visible_messages():
            job_id = result_job_id(message)
            if job_id is not None and message.author.id == twin.bot_user.id:
                counts[job_id] += 1
    return counts


def at_most_once(
    db_path: Database,
    twin: DiscordTwin,
    channels: list[TwinChannel],
    emulator: KlingEmulator,
    ledger: KlingLedger,
) -> None:
    """Nothing was done twice, and the tables agree with each other (writes were atomic)."""
    posts = result_posts(twin, channels)
    twice = {job: n for job, n in posts.items() if n > 1}
    assert not twice, f"results posted more than once: {twice}"
    assert not ledger.duplicates, f"create resent for jobs Kling already had: {ledger.duplicates}"
    per_job = Counter(t.external_task_id for t in emulator.store.tasks.values())
    assert all(n == 1 for n in per_job.values()), f"Kling tasks per job: {per_job}"
    for job in jobs(db_path):
        if job["state"] == "delivered":
            assert posts[job["id"]] == 1, f"job {job['id']} delivered but posted {posts[job['id']]}"
        if job["kling_task_id"] is not None:
            task = emulator.store.tasks[job["kling_task_id"]]
            assert task.external_task_id == job["id"]
        assert_event_chain(db_path, job)


def assert_event_chain(db_path: Database, job: dict[str, Any]) -> None:
    """The job's event log is an unbroken chain ending in its current state: every state write
    committed together with its event row, even when the process died around it."""
    events = rows(db_path, "SELECT * FROM job_events WHERE job_id = ? ORDER BY id", (job["id"],))
    assert events and events[0]["from_state"] is None, f"job {job['id']}: no creation event"
    for before, after in itertools.pairwise(events):
        assert after["from_state"] == before["to_state"], f"job {job['id']}: broken {events}"
    assert events[-1]["to_state"] == job["state"], f"job {job['id']}: log ends elsewhere"


def final_outcomes(
    db_path: Database, twin: DiscordTwin, channels: list[TwinChannel], emulator: KlingEmulator
) -> Counter[str]:
    """Every job delivered exactly once (with the posted message recorded) or failed honestly."""
    posts = result_posts(twin, channels)
    outcome: Counter[str] = Counter()
    for job in jobs(db_path):
        state = job["state"]
        outcome[state] += 1
        assert state in ("delivered", "failed"), f"job {job['id']} ended {state}"
        if state == "delivered":
            [message] = [
                m
                for c in channels
                for m in c.visible_messages()
                if m.id == job["result_message_id"]
            ]
            assert str(message.content).startswith(f"<@{job['requester_id']}>")
            assert posts[job["id"]] == 1
        else:
            assert job["status_msg"], f"job {job['id']} failed without a reason"
            assert posts[job["id"]] == 0
        tasks = [t for t in emulator.store.tasks.values() if t.external_task_id == job["id"]]
        assert len(tasks) <= 1
        if state == "delivered":
            assert len(tasks) == 1 and tasks[0].task_id == job["kling_task_id"]
    return outcome


def assert_points_intact(db_path: Database, emulator: KlingEmulator) -> int:
    """Each active session's stored points are exactly the clicks its Kling session holds."""
    checked = 0
    for session in rows(db_path, "SELECT * FROM sessions WHERE status = 'active'"):
        stored = Counter(
            (p["frame_index"], p["x"], p["y"])
            for p in rows(db_path, "SELECT * FROM points WHERE session_id = ?", (session["id"],))
        )
        kling = emulator.store.sessions[session["kling_session_id"]]
        held = Counter(
            (frame, click.x, click.y) for frame, clicks in kling.clicks.items() for click in clicks
        )
        assert stored == held, (
            f"session {session['id']}: database {sorted(stored)} but Kling holds {sorted(held)}"
        )
        checked += sum(stored.values())
    return checked
