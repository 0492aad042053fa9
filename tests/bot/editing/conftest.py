"""A real editing rig: SQLite file, in-process Kling emulator on a manual clock, a loopback file
server standing in for Discord's CDN, a job runner with a recording deliverer, and the service."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.editing import EditingService
from bot.jobs import JobRunner, KlingTaskBackend, RunnerConfig
from bot.kling import KlingClient, make_provider
from bot.kling.emulator import KlingEmulator, ManualClock
from bot.media import write_mp4
from bot.storage import Job, Session, Store

WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 24, 2
GUILD = 1_000_000_000_000_000_001
CHANNEL = 1_100_000_000_000_000_002
ALICE = 900_000_000_000_000_001
BOB = 900_000_000_000_000_002

# The scene: a red ball centred on board cell C4 and a yellow square further right, on a dark
# teal backdrop that the emulator's colour flood fill keeps apart from both.
BALL_CENTRE = (0.25, 3.5 / 6)
BALL_RADIUS_PX = 80
SQUARE_CENTRE = (0.72, 0.35)
SQUARE_HALF_PX = 70
BACKDROP = (20, 90, 110)
BALL = (220, 30, 30)
SQUARE = (235, 215, 40)


def scene_frames() -> Iterator[np.ndarray]:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    base[:] = BACKDROP
    bx, by = BALL_CENTRE[0] * WIDTH, BALL_CENTRE[1] * HEIGHT
    base[(xs - bx) ** 2 + (ys - by) ** 2 <= BALL_RADIUS_PX**2] = BALL
    sx, sy = SQUARE_CENTRE[0] * WIDTH, SQUARE_CENTRE[1] * HEIGHT
    base[(abs(xs - sx) <= SQUARE_HALF_PX) & (abs(ys - sy) <= SQUARE_HALF_PX)] = SQUARE
    for _ in range(FPS * SECONDS):
        yield base


@pytest.fixture(scope="session")
def scene_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scene") / "scene.mp4"
    write_mp4(scene_frames(), path, FPS)
    return path


@dataclass
class RecordingDeliverer:
    calls: list[tuple[Job, Path | None, int]] = field(default_factory=list)
    delivered: asyncio.Event = field(default_factory=asyncio.Event)

    async def deliver(self, job: Job, video: Path | None) -> int:
        size = (await asyncio.to_thread(video.stat)).st_size if video is not None else 0
        self.calls.append((job, video, size))
        self.delivered.set()
        return 5_000 + len(self.calls)

    async def find_delivery(self, job: Job) -> int | None:
        return None


@dataclass
class FileServer:
    root: Path
    base_url: str
    requests: list[str] = field(default_factory=list)

    def url_for(self, path: Path) -> str:
        return f"{self.base_url}/{path.relative_to(self.root).as_posix()}"


@pytest.fixture
async def file_server(tmp_path: Path) -> AsyncIterator[FileServer]:
    root = tmp_path / "cdn"
    root.mkdir()
    server = FileServer(root, "")

    async def serve(request: web.Request) -> web.StreamResponse:
        server.requests.append(request.path)
        target = (root / request.match_info["name"]).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(target)

    app = web.Application()
    app.router.add_get("/{name:.+}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


@dataclass
class CallLog:
    """Every API request the emulator served: (path, started, finished) on a monotonic clock."""

    spans: list[tuple[str, float, float]] = field(default_factory=list)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            self.spans.append((request.path, started, time.perf_counter()))

    def selection_spans(self) -> list[tuple[str, float, float]]:
        return sorted(s for s in self.spans if "selection" in s[0])


@dataclass
class Rig:
    service: EditingService
    store: Store
    emulator: KlingEmulator
    clock: ManualClock
    deliverer: RecordingDeliverer
    runner: JobRunner
    files: FileServer
    call_log: CallLog
    media_dir: Path
    video: Path
    video_url: str
    fresh_url_calls: list[int] = field(default_factory=list)

    @property
    def calls(self) -> dict[str, int]:
        return dict(self.emulator.faults.calls)

    async def open(self, **kwargs: object) -> int:
        board = await self.service.open_session(
            guild_id=GUILD,
            channel_id=CHANNEL,
            user_id=ALICE,
            video=self.video,
            video_url=self.video_url,
            **kwargs,  # type: ignore[arg-type]
        )
        return board.session_id


@pytest.fixture
async def rig(tmp_path: Path, scene_video: Path, file_server: FileServer) -> AsyncIterator[Rig]:
    clock = ManualClock()
    video = file_server.root / "scene.mp4"
    shutil.copyfile(scene_video, video)
    media_dir = tmp_path / "media"
    store = await Store.open(tmp_path / "bot.db", clock=clock.now)
    deliverer = RecordingDeliverer()
    call_log = CallLog()
    emulator = KlingEmulator(seconds_per_stage=0, clock=clock, work_dir=tmp_path / "emu")
    emulator.app.middlewares.append(call_log.middleware)
    async with emulator, aiohttp.ClientSession() as http:
        client = KlingClient(http, make_provider("emulator", base_url=emulator.base_url))
        # The runner schedules polls on real time; the store and Kling share the manual clock
        # (session expiry, daily quotas), which only moves when a test advances it.
        runner = JobRunner(
            store,
            KlingTaskBackend(client),
            deliverer,
            media_dir=media_dir,
            http=http,
            config=RunnerConfig(poll_first=0.05, poll_max=0.2),
        )
        fresh_calls: list[int] = []

        async def fresh_video_url(session: Session) -> str:
            fresh_calls.append(session.id)
            return file_server.url_for(video)

        service = EditingService(
            store,
            client,
            runner,
            http=http,
            media_dir=media_dir,
            fresh_video_url=fresh_video_url,
            clock=clock.now,
        )
        await runner.start()
        try:
            yield Rig(
                service,
                store,
                emulator,
                clock,
                deliverer,
                runner,
                file_server,
                call_log,
                media_dir,
                video,
                file_server.url_for(video),
                fresh_calls,
            )
        finally:
            await runner.stop()
            await store.close()
