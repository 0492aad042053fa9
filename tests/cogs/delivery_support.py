"""Shared pieces of the delivery, restart and job-card tests: a real KlingBot (in-process or as
`kling-bot run`) against the Discord stand-in and a Kling emulator, with jobs seeded in its database
(the SQLite file, or a PostgreSQL URL: see tests/database.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cogs.core.runtime
from bot.config import Config, DiscordConfig, KlingConfig, Secret, StorageConfig
from bot.jobs import RunnerConfig, animate_request
from bot.kling.emulator import KlingEmulator
from bot.storage import Job, JobKind, NewJob, Store
from cogs.core.app import KlingBot
from cogs.jobs.delivery import result_custom_id
from tests.database import Database, is_postgres, select
from tests.discord_twin import DiscordTwin, TwinChannel, TwinMessage, bot_running
from tests.discord_twin.model import walk_components
from tests.processes import ChildProcess, child_env, python_module

REPO = Path(__file__).resolve().parents[2]
FAST_RUNNER = RunnerConfig(
    poll_first=0.2, poll_max=0.5, poll_growth=1.0, resume_spread=0.0,
    delivery_retry_first=0.2, queue_retry_first=0.2,
)  # fmt: skip


def write_images(folder: Path, *, noisy: bool) -> list[Path]:
    """Two reference PNGs; noise makes the emulator's clip large (megabytes), gradients tiny."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = []
    for index in range(2):
        if noisy:
            pixels = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
        else:
            ramp = np.linspace(0, 255, 640, dtype=np.uint8)
            pixels = np.stack([np.tile(ramp, (360, 1))] * 3, axis=-1)
            pixels[..., index] = 200
        path = folder / f"ref{index}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


async def seed_animate_job(
    db_path: Database,
    channel: TwinChannel,
    requester_id: int,
    images: list[Path],
    prompt: str = "a slow pan over the two pictures",
) -> Job:
    """A queued animate job, stored the way the submit flow stores one."""
    if not is_postgres(db_path):
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    store = await Store.open(db_path)
    try:
        return await store.create_job(
            NewJob(
                kind=JobKind.ANIMATE,
                guild_id=channel.guild_id,
                channel_id=channel.id,
                requester_id=requester_id,
                request=animate_request(prompt=prompt, image_paths=images, duration="5"),
            )
        )
    finally:
        await store.close()


def bot_config(
    tmp_path: Path, twin: DiscordTwin, emulator: KlingEmulator, database: Database | None = None
) -> Config:
    """The bot's config; `database` a PostgreSQL URL puts it there, else the SQLite file."""
    url = Secret(str(database)) if database is not None and is_postgres(database) else None
    return Config(
        discord=DiscordConfig(token=Secret(twin.token), api_base=twin.api_base),
        kling=KlingConfig(provider="emulator", base_url=emulator.base_url),
        storage=StorageConfig(
            path=tmp_path / "data" / "bot.sqlite3", url=url, media_dir=tmp_path / "data" / "media"
        ),
    )


@pytest.fixture
def fast_runner(monkeypatch: pytest.MonkeyPatch) -> RunnerConfig:
    """Poll every fraction of a second instead of every 5-30 s (the in-process bot only)."""
    monkeypatch.setattr(
        cogs.core.runtime, "runner_config", lambda config: replace(FAST_RUNNER, poll_timeout=600.0)
    )
    return FAST_RUNNER


@asynccontextmanager
async def kling_bot(config: Config, twin: DiscordTwin) -> AsyncIterator[KlingBot]:
    bot = KlingBot(config)
    async with bot_running(bot, twin):
        await asyncio.wait_for(bot.runner_started.wait(), 10)
        yield bot


def result_messages(channel: TwinChannel, job_id: str) -> list[TwinMessage]:
    """Messages in `channel` carrying the Edit-this-result button of `job_id`."""
    wanted = result_custom_id(job_id)
    return [
        m
        for m in channel.visible_messages()
        if any(c.get("custom_id") == wanted for c in walk_components(m.components))
    ]


def job_row(db_path: Database, job_id: str) -> dict[str, object]:
    """Read the job straight from the database (as an operator would), not through the bot."""
    found = select(db_path, "SELECT * FROM jobs WHERE id = ?", (job_id,))
    return found[0] if found else {}


async def wait_for_state(
    db_path: Database,
    job_id: str,
    states: set[str],
    timeout: float = 20.0,  # noqa: ASYNC109
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        row = await asyncio.to_thread(job_row, db_path, job_id)
        if row.get("state") in states:
            return row
        if loop.time() > deadline:
            raise TimeoutError(f"job {job_id} stayed {row.get('state')}, wanted {states}")
        await asyncio.sleep(0.05)


def write_run_config(
    folder: Path,
    twin: DiscordTwin,
    kling_url: str,
    *,
    discord: str = "",
    data_dir: Path | None = None,
    media_dir: Path | None = None,
    log_level: str | None = None,
    database: Database | None = None,
    more: str = "",
) -> Path:
    """`folder/config.toml` for `kling-bot run` against the stand-in and a Kling emulator at
    `kling_url`. `discord`: more [discord] lines (shards); the SQLite file (or, with PostgreSQL,
    only the heartbeat file) goes in `data_dir` (default `folder/data`), media in `media_dir`
    (default `data_dir/media`); `database` a PostgreSQL URL becomes `[storage] url`; `more`:
    whole tables after the others."""
    data = folder / "data" if data_dir is None else data_dir
    media = data / "media" if media_dir is None else media_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    url = f'url = "{database}"\n' if database is not None and is_postgres(database) else ""
    path.write_text(
        f'[discord]\napi_base = "{twin.api_base}"\n'
        + (discord + "\n" if discord else "")
        + f'[kling]\nprovider = "emulator"\nbase_url = "{kling_url}"\n'
        f'[storage]\npath = "{data / "bot.sqlite3"}"\n{url}media_dir = "{media}"\n'
        + (f'[logging]\nlevel = "{log_level}"\n' if log_level else "")
        + more
    )
    return path


async def start_bot_process(
    config: Path, twin: DiscordTwin, *, python_options: Sequence[str] = (), module: str = "bot.cli"
) -> ChildProcess:
    """`kling-bot run` as an operator starts it; returns once it has identified on the gateway.

    `python_options` go before ``-m bot.cli`` (the load bench runs the bot under cProfile);
    `module` swaps the entry point (the crash test's shortened waits). The bot's log goes next to
    its config: the first place to look when a test fails."""
    identified = len(twin.gateway.identify_payloads)
    proc = ChildProcess.start(
        python_module(module, "run", "--config", str(config), python_options=python_options),
        cwd=REPO,
        env=child_env({"DISCORD_TOKEN": twin.token}),
        log=config.parent / "bot.log",
    )
    try:
        await twin.wait_until(
            lambda: (
                (len(twin.gateway.identify_payloads) > identified and twin.gateway.connected)
                or proc.returncode is not None
            ),
            30,
        )
    except BaseException:
        await proc.stop(kill=True)
        raise
    if proc.returncode is not None:
        raise AssertionError(f"kling-bot run exited {proc.returncode}:\n{proc.output()[-3000:]}")
    return proc


async def stop_bot_process(proc: ChildProcess, *, kill: bool = False) -> None:
    await proc.stop(kill=kill)
