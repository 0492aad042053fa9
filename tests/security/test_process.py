"""`kling-bot run` as a process: secrets never in its output, a health check that follows the
gateway connection, and SIGTERM mid-job that exits 0 and leaves a resumable database."""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

import cogs.core.runtime
from bot.config import Config, DiscordConfig, KlingConfig, Secret, StorageConfig
from bot.kling.emulator import KlingEmulator, ManualClock
from tests.cogs.delivery_support import (
    FAST_RUNNER,
    kling_bot,
    result_messages,
    seed_animate_job,
    wait_for_state,
    write_images,
)
from tests.discord_twin import DiscordTwin
from tests.processes import ChildProcess, child_env, python_module

REPO = Path(__file__).resolve().parents[2]
# Real-looking values: the shapes of a Discord bot token and Kling keys.
DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
ACCESS_KEY = "AKa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
SECRET_KEY = "SKf0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"a-webhook-secret-of-32-bytes-long").decode()
SECRETS = (
    DISCORD_TOKEN,
    ACCESS_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
    WEBHOOK_SECRET.removeprefix("whsec_"),
)

HEALTH_RUNS = itertools.count()


def write_config(tmp: Path, twin: DiscordTwin, emulator: KlingEmulator) -> Path:
    path = tmp / "config.toml"
    path.write_text(
        f'[discord]\napi_base = "{twin.api_base}"\n'
        f'[kling]\nprovider = "kling"\nbase_url = "{emulator.base_url}"\n'
        f'callback_base_url = "https://bot.example.test"\ncallback_port = {free_port()}\n'
        '[storage]\npath = "data/bot.sqlite3"\nmedia_dir = "data/media"\n'
        '[logging]\nlevel = "DEBUG"\njson = true\n'
    )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def env_with_secrets() -> dict[str, str]:
    return child_env(
        {
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "KLING_ACCESS_KEY": ACCESS_KEY,
            "KLING_SECRET_KEY": SECRET_KEY,
            "KLING_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )


async def health(config: Path) -> tuple[int, str]:
    log = config.parent / f"health-{next(HEALTH_RUNS)}.log"
    proc = ChildProcess.start(
        python_module("bot.cli", "health", "--config", str(config)),
        cwd=REPO,
        env=env_with_secrets(),
        log=log,
    )
    return await proc.wait(), proc.output()


async def tick(clock: ManualClock) -> None:
    while True:
        clock.advance(1.0)
        await asyncio.sleep(0.05)


def db_state(db: Path, job_id: str) -> tuple[str, str | None, str]:
    with sqlite3.connect(db, timeout=5) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        state, task = conn.execute(
            "SELECT state, kling_task_id FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
    return state, task, integrity


async def test_sigterm_mid_job_exits_0_leaves_a_resumable_job_and_logs_no_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twin = await DiscordTwin.start(token=DISCORD_TOKEN)
    guild = twin.add_guild("Secret Server")
    channel = guild.channel("general")
    clock = ManualClock()
    images = write_images(tmp_path / "refs", noisy=False)
    try:
        async with KlingEmulator(
            seconds_per_stage=1.0,
            clock=clock,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            webhook_secret=WEBHOOK_SECRET,
            image2video_long_side=160,
        ) as emulator:
            config = write_config(tmp_path, twin, emulator)
            db = tmp_path / "data" / "bot.sqlite3"
            job = await seed_animate_job(db, channel, 4242, images)
            proc = ChildProcess.start(
                python_module("bot.cli", "run", "--config", str(config)),
                cwd=REPO,
                env=env_with_secrets(),
                log=tmp_path / "run.log",
            )
            try:
                await twin.wait_until(
                    lambda: twin.gateway.connected or proc.returncode is not None, 30
                )
                assert proc.returncode is None, proc.output()[-2000:]
                # Kling took the job; its emulator clock is frozen, so the job stays in flight.
                row = await wait_for_state(db, job.id, {"submitted", "processing"})
                await twin.wait_until(lambda: len(emulator.store.tasks) == 1, 10)
                code, said = await health(config)
                assert code == 0 and "connected to Discord" in said, said
                alice = twin.member(guild, "alice")
                assert (
                    "no editing session"
                    in (await (await alice.slash("kling status")).response()).content
                )
                proc.terminate()
                await asyncio.wait_for(proc.wait(), 10)
            finally:
                await proc.stop(kill=True)
            stderr = proc.output()
            assert proc.returncode == 0, stderr[-2000:]
            state, task_id, integrity = db_state(db, job.id)
            assert integrity == "ok"
            assert state in ("submitted", "processing") and task_id == row["kling_task_id"]
            code, said = await health(config)
            assert code == 1 and "not connected" in said, said

            # The job resumes in a new bot and is delivered once (Kling's clock moves again).
            ticking = asyncio.create_task(tick(clock))
            monkeypatch.setattr(
                cogs.core.runtime,
                "runner_config",
                lambda _c: replace(FAST_RUNNER, poll_timeout=600.0),
            )
            resumed = Config(
                discord=DiscordConfig(token=Secret(DISCORD_TOKEN), api_base=twin.api_base),
                kling=KlingConfig(
                    provider="kling",
                    base_url=emulator.base_url,
                    access_key=Secret(ACCESS_KEY),
                    secret_key=Secret(SECRET_KEY),
                ),
                storage=StorageConfig(path=db, media_dir=tmp_path / "data" / "media"),
            )
            try:
                async with kling_bot(resumed, twin):
                    await wait_for_state(db, job.id, {"delivered"})
            finally:
                ticking.cancel()
            assert len(emulator.store.tasks) == 1
            assert len(result_messages(channel, job.id)) == 1
    finally:
        await twin.stop()
    text = stderr
    assert '"level": "DEBUG"' in text and "SIGTERM received" in text  # it did log, verbosely
    for secret in SECRETS:
        assert secret not in text
