"""Several real `kling-bot run` processes as one bot on one PostgreSQL database (SPEC §11).

Each process has its own config, log and shards; they share the database and the media folder,
one Discord stand-in and one Kling emulator. Which process did a job is known twice over: Kling
(the emulator) sees each process's calls on a port of its own, and the database names the holder
of the job's claim (its owner id, host:pid:random), taken before any Kling or Discord call and
kept on the row until the process stops.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cogs.harness import make_reference_image, make_video
from tests.crash.killer import KillPoint
from tests.discord_twin import DiscordTwin
from tests.scale.support import CREATE, GET, Fleet, fleet, free_port, sharded_guilds, shards

# The claim lease where a test waits for one to run out (a killed process's): short, yet three
# renewals long, so a process stalled a moment on this busy machine keeps its jobs.
LEASE = 3.0


@pytest.fixture
async def processes(
    discord_twin: DiscordTwin, postgres_url: str, tmp_path: Path
) -> AsyncIterator[Fleet]:
    async with fleet(discord_twin, postgres_url, tmp_path) as running:
        yield running


async def test_two_processes_on_shards_0_and_1_each_deliver_their_own_servers_job_once(
    processes: Fleet,
) -> None:
    zero, one = sharded_guilds(processes.twin)
    # Shard 0's job is waiting when its process starts; shard 1's is asked for with /kling
    # animate once both run.
    seeded = await processes.seed_job(
        zero.channel("general"), processes.twin.member(zero, "alice").id
    )
    p0, p1 = await processes.start(("shard0", shards("0")), ("shard1", shards("1")))
    bob = processes.twin.member(one, "bob")
    images = {
        f"image{n}": make_reference_image(processes.tmp / f"img{n}.png", colour, 400)
        for n, colour in ((1, (200, 40, 40)), (2, (40, 200, 40)))
    }
    card = await (await bob.slash("kling animate", prompt="red to green", **images)).response(
        timeout=30
    )
    await bob.click(card, "Submit")
    await processes.twin.wait_until(
        lambda: "Submitted job" in processes.twin.find_message(card.id).text, 30
    )
    [asked] = await processes.rows("SELECT * FROM jobs WHERE guild_id = $1", one.id)

    for guild, job_id, owner in ((zero, seeded.id, p0), (one, asked["id"], p1)):
        await processes.wait_for_job(job_id, {"delivered"})
        job = await processes.stored_job(job_id)
        row = await processes.assert_done_once(job, guild.channel("general"))
        assert owner.holds(row["claimed_by"]), (guild.name, row["claimed_by"], owner.proc.pid)
        # Created and polled by that process alone.
        assert set(processes.doors.callers(job_id)) == {owner.label}
    await processes.stop(p0, p1)


async def test_a_process_killed_mid_poll_resumes_its_job_while_the_other_keeps_answering(
    processes: Fleet,
) -> None:
    zero, one = sharded_guilds(processes.twin)
    p0, p1 = await processes.start(
        ("shard0", shards("0")), ("shard1", shards("1")), claim_lease=LEASE
    )
    # Shard 0's process dies the moment Kling has answered its first poll of the job.
    processes.kling.arm(KillPoint("polling", "emulator", GET, "after", 1), p0.proc)
    job = await processes.seed_job(zero.channel("general"), processes.twin.member(zero, "al").id)
    await asyncio.wait_for(processes.kling.fired.wait(), 30)
    processes.kling.disarm()
    assert await p0.proc.wait() == -signal.SIGKILL and processes.kling.delivered
    assert (await processes.job(job.id))["state"] in {"submitted", "processing"}
    before = processes.doors.callers(job.id)
    assert set(before) == {p0.label}, before

    # Shard 1's process answers in its server while shard 0's is down.
    handle = await processes.twin.member(one, "bob").slash("kling status")
    assert "no editing session in this channel" in (await handle.response(timeout=30)).content

    (again,) = await processes.start(("shard0", shards("0")), claim_lease=LEASE)
    await processes.wait_for_job(job.id, {"delivered"})
    row = await processes.assert_done_once(job, zero.channel("general"))
    assert again.holds(row["claimed_by"]), (row["claimed_by"], again.proc.pid)
    # Only polls came from the restarted process (the one create was the first's); the process
    # on shard 1 never touched the job, not even while its holder was dead.
    after = processes.doors.callers(job.id) - before
    assert set(after) == {again.label}, after
    await processes.stop(again, p1)


async def test_two_processes_misconfigured_with_the_same_shards_do_each_job_once(
    processes: Fleet,
) -> None:
    guild = processes.twin.add_guild("Both")
    channel = guild.channel("general")
    jobs = [await processes.seed_job(channel, processes.twin.member(guild, n).id) for n in "ab"]
    # Neither has shard settings: each takes Discord's recommended count (1), every server.
    first, second = await processes.start(("first", ""), ("second", ""))
    for job in jobs:
        await processes.wait_for_job(job.id, {"delivered"})
    rows = [await processes.assert_done_once(job, channel) for job in jobs]
    for job, row in zip(jobs, rows, strict=True):
        # One process created, polled and delivered it: the one whose claim is on the row.
        [holder] = [p for p in (first, second) if p.holds(row["claimed_by"])]
        assert set(processes.doors.callers(job.id)) == {holder.label}
    await processes.stop(first, second)
    assert sum(processes.kling.ledger.sent.values()) == len(jobs)  # even counted after the end


async def test_a_job_whose_process_died_mid_create_is_taken_over_by_one_on_the_same_shards(
    processes: Fleet,
) -> None:
    guild = processes.twin.add_guild("Both")
    channel = guild.channel("general")
    first, second = await processes.start(("first", ""), ("second", ""), claim_lease=LEASE)
    faults = processes.emulator.faults
    faults.stall(CREATE)  # Kling holds the first create it gets
    job = await processes.seed_job(channel, processes.twin.member(guild, "al").id)
    await asyncio.wait_for(faults.holding(1), 30)
    [(who, _, _, _)] = processes.doors.calls  # the create: which process claimed the job
    holder, survivor = (first, second) if who == first.label else (second, first)
    assert holder.holds((await processes.job(job.id))["claimed_by"])
    await holder.proc.stop(kill=True)
    faults.clear()  # Kling carries the create out; its answer reaches nobody

    # The other process takes the job up (its holder is gone from this machine; from another
    # one, once its lease ran out), finds the task by the job's id (the create's outcome was
    # unknown) instead of creating it again, and delivers it.
    await processes.wait_for_job(job.id, {"delivered"})
    row = await processes.assert_done_once(job, channel)
    assert survivor.holds(row["claimed_by"])
    assert processes.doors.callers(job.id)[holder.label] == 1  # its create, nothing after
    assert processes.kling.lookups >= 1  # a GET by the job's id: the survivor looked it up
    await processes.stop(survivor)


async def test_a_job_whose_process_died_right_after_posting_it_is_not_posted_again(
    processes: Fleet,
) -> None:
    guild = processes.twin.add_guild("Both")
    channel = guild.channel("general")
    first, second = await processes.start(("first", ""), ("second", ""), claim_lease=LEASE)
    faults = processes.emulator.faults
    faults.stall(CREATE)  # only to learn which process holds the job before it goes on
    job = await processes.seed_job(channel, processes.twin.member(guild, "al").id)
    await asyncio.wait_for(faults.holding(1), 30)
    [(who, _, _, _)] = processes.doors.calls
    holder, survivor = (first, second) if who == first.label else (second, first)
    # The holder dies the moment Discord has stored its result post, before it can record it.
    processes.kling.arm(KillPoint("delivering", "post"), holder.proc)
    faults.clear()
    await asyncio.wait_for(processes.kling.fired.wait(), 30)
    processes.kling.disarm()
    assert await holder.proc.wait() == -signal.SIGKILL
    assert (await processes.job(job.id))["state"] == "delivering"

    # The other process takes the delivery over, finds the post by its key and records it.
    await processes.wait_for_job(job.id, {"delivered"})
    row = await processes.assert_done_once(job, channel)
    assert survivor.holds(row["claimed_by"]) and row["delivery_attempts"] == 2
    assert set(processes.doors.callers(job.id)) == {holder.label}  # Kling was done with it
    await processes.stop(survivor)


async def test_a_frozen_process_loses_its_job_when_its_lease_runs_out(processes: Fleet) -> None:
    # Stopped, not dead (a hung machine, a paused VM): its pid still runs, so only the end of
    # its lease lets another process on its shards take the job over.
    guild = processes.twin.add_guild("Both")
    channel = guild.channel("general")
    first, second = await processes.start(("first", ""), ("second", ""), claim_lease=LEASE)
    faults = processes.emulator.faults
    faults.stall(CREATE)
    job = await processes.seed_job(channel, processes.twin.member(guild, "al").id)
    await asyncio.wait_for(faults.holding(1), 30)
    [(who, _, _, _)] = processes.doors.calls
    holder, survivor = (first, second) if who == first.label else (second, first)
    assert holder.proc.send_signal(signal.SIGSTOP)
    faults.clear()  # Kling creates the task; its answer waits in the frozen process's socket

    await processes.wait_for_job(job.id, {"delivered"})
    row = await processes.assert_done_once(job, channel)
    assert survivor.holds(row["claimed_by"])
    assert processes.doors.callers(job.id)[holder.label] == 1  # its create alone
    # Woken, the first process gets Kling's answer to its create (its log says so), then stops
    # cleanly, its running steps allowed to end: the job it had lost is neither recorded over
    # nor acted on again.
    assert holder.proc.send_signal(signal.SIGCONT)
    await processes.twin.wait_until(lambda: "multi-image2video -> http=200" in holder.proc.output())
    await processes.stop(holder, survivor)
    await processes.assert_done_once(job, channel)
    assert processes.doors.callers(job.id)[holder.label] == 1
    assert processes.kling.lookups >= 1  # the survivor found the task instead of creating it


async def test_kling_calling_back_another_process_wakes_the_jobs_owner_within_2_s(
    processes: Fleet,
) -> None:
    zero, _ = sharded_guilds(processes.twin)
    # A second per stage: Kling's news of the finished task comes well after the process has
    # recorded Kling's answer to the create (news of a job still being sent wakes nothing).
    processes.emulator.runtime.config.seconds_per_stage = 1.0
    job = await processes.seed_job(zero.channel("general"), processes.twin.member(zero, "al").id)
    # Kling is given shard 1's address for its callbacks (as a load balancer could pick any
    # process), and the processes poll only once a minute: the job moves on only when called.
    public = f"http://127.0.0.1:{free_port()}"

    def web(port: str) -> str:
        return f'[web]\nhost = "127.0.0.1"\nport = {port}\npublic_url = "{public}"\n'

    p0, p1 = await processes.start(
        ("shard0", shards("0"), web(str(free_port()))),
        ("shard1", shards("1"), web(public.rsplit(":", 1)[1])),
        poll_every=60.0,
    )
    row = await processes.wait_for_job(job.id, {"delivered"}, timeout=30)
    await processes.assert_done_once(job, zero.channel("general"))
    assert p0.holds(row["claimed_by"])
    called = [d for d in processes.emulator.deliveries if d.task_id == row["kling_task_id"]]
    assert {(d.url.startswith(public), d.http_status) for d in called} == {(True, 200)}
    # Shard 0's process alone polled the job, within 2 s of Kling calling shard 1 with the news
    # that it had finished (its next poll of its own was a minute away).
    assert set(processes.doors.callers(job.id)) == {p0.label}
    finished = processes.emulator.store.tasks[row["kling_task_id"]].updated_at_ms / 1000
    polled = min(at for at in processes.doors.times(job.id, GET) if at >= finished)
    assert polled - finished < 2.0, f"polled {polled - finished:.2f} s after the job finished"
    await processes.stop(p0, p1)


async def test_an_editing_session_survives_a_restart_on_postgresql(processes: Fleet) -> None:
    twin = processes.twin
    guild = twin.add_guild("Editors")
    alice = twin.member(guild, "alice")
    (bot,) = await processes.start(("bot", ""))
    handle = await alice.slash("kling edit", video=make_video(processes.tmp / "clip.mp4"))
    assert "editing session is open" in (await handle.response(timeout=30)).content
    for points, frame in (("E3", 0), ("0.5,0.5", 12)):
        reply = await (await alice.slash("kling mark", points=points, frame=frame)).response()
        assert f"Marked frame {frame}" in reply.content, reply.content
    [session] = await processes.rows("SELECT * FROM sessions WHERE status = 'active'")
    board_id = session["board_message_id"]
    await twin.wait_until(lambda: "Marked frames (2/10)" in twin.find_message(board_id).text, 15)

    await processes.stop(bot)
    (bot,) = await processes.start(("bot", ""))
    reply = await (await alice.slash("kling mark", points="F4", frame=5)).response(timeout=30)
    assert "Marked frame 5" in reply.content, reply.content
    # The same board message, edited in place, now lists the three marked frames.
    await twin.wait_until(lambda: "Marked frames (3/10)" in twin.find_message(board_id).text, 15)
    [after] = await processes.rows("SELECT * FROM sessions WHERE status = 'active'")
    assert (after["id"], after["board_message_id"]) == (session["id"], board_id)
    stored = await processes.rows(
        "SELECT frame_index, x, y FROM points WHERE session_id = $1 ORDER BY id", session["id"]
    )
    assert [p["frame_index"] for p in stored] == [0, 12, 5]
    # Kling's selection holds exactly the stored points, the ones from before the restart too.
    clicks = processes.emulator.store.sessions[session["kling_session_id"]].clicks
    held = sorted((f, round(c.x, 4), round(c.y, 4)) for f, cs in clicks.items() for c in cs)
    assert held == sorted((p["frame_index"], round(p["x"], 4), round(p["y"], 4)) for p in stored)
    await processes.stop(bot)
