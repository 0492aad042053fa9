"""Shared fixtures: real MP4 clips and images, a loopback file server, the emulator, the client."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from PIL import Image

from bot.kling import KlingClient, RetryPolicy, make_provider
from bot.kling.emulator import KlingEmulator, ManualClock
from bot.media import write_mp4

WIDTH, HEIGHT, FPS, FRAMES = 1280, 720, 24, 48
BACKGROUND = (30, 90, 200)
RED = (230, 40, 40)
GREEN = (40, 210, 60)
# The red square drifts right by RED_STEP px per frame; the green one stays put.
RED_TOP, RED_LEFT, RED_SIZE, RED_STEP = 200, 300, 200, 2
GREEN_BOX = (260, 860, 420, 1020)  # top, left, bottom, right


def red_box(frame: int) -> tuple[int, int, int, int]:
    left = RED_LEFT + RED_STEP * frame
    return RED_TOP, left, RED_TOP + RED_SIZE, left + RED_SIZE


def box_mask(
    box: tuple[int, int, int, int], shape: tuple[int, int] = (HEIGHT, WIDTH)
) -> np.ndarray:
    top, left, bottom, right = box
    mask = np.zeros(shape, dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return float((a & b).sum() / max(1, (a | b).sum()))


def centre(box: tuple[int, int, int, int]) -> tuple[float, float]:
    top, left, bottom, right = box
    return (left + right) / 2 / WIDTH, (top + bottom) / 2 / HEIGHT


def _scene_frames(count: int, width: int, height: int, fps: float) -> list[np.ndarray]:
    frames = []
    for index in range(count):
        frame = np.full((height, width, 3), BACKGROUND, np.uint8)
        if (width, height) == (WIDTH, HEIGHT):
            top, left, bottom, right = red_box(index)
            frame[top:bottom, left:right] = RED
            top, left, bottom, right = GREEN_BOX
            frame[top:bottom, left:right] = GREEN
        frames.append(frame)
    return frames


@dataclass
class Clips:
    folder: Path

    def make(
        self,
        name: str,
        *,
        seconds: float = 2.0,
        fps: float = FPS,
        width: int = WIDTH,
        height: int = HEIGHT,
        rotation: int = 0,
    ) -> str:
        path = self.folder / name
        if not path.exists():
            count = round(seconds * fps)
            write_mp4(
                _scene_frames(count, width, height, fps),
                path,
                fps,
                preset="ultrafast",
                rotation=rotation,
            )
        return name


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    """Clips are made once per test session; `scene.mp4` is the two-square 1280x720 2 s clip."""
    folder = tmp_path_factory.mktemp("emulator-clips")
    made = Clips(folder)
    made.make("scene.mp4")
    return made


def png_bytes(size: tuple[int, int], colour: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture
async def file_server(clips: Clips) -> AsyncIterator[str]:
    """Serves the clips folder over loopback HTTP; yields its base URL."""
    app = web.Application()
    app.router.add_static("/", clips.folder)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def emulator(clock: ManualClock) -> AsyncIterator[KlingEmulator]:
    async with KlingEmulator(
        clock=clock, seconds_per_stage=5, preview_max_side=640, image2video_long_side=320
    ) as emu:
        yield emu


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _no_sleep(_: float) -> None:
    return None


ClientFactory = Callable[..., KlingClient]


@pytest.fixture
def make_client(http: aiohttp.ClientSession, emulator: KlingEmulator) -> ClientFactory:
    """make_client(style="official"|"cometapi", **KlingClient options)."""

    def make(style: str = "official", **options: object) -> KlingClient:
        if style == "official":
            provider = make_provider("emulator", base_url=emulator.base_url)
        else:
            provider = make_provider("cometapi", api_key="any-key", base_url=emulator.base_url)
        options.setdefault("sleep", _no_sleep)
        options.setdefault("reconcile_delay", 0.0)
        options.setdefault("retry", RetryPolicy(max_attempts=3, base_delay=0.0, jitter=False))
        return KlingClient(http, provider, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture(params=["official", "cometapi"])
def client(request: pytest.FixtureRequest, make_client: ClientFactory) -> KlingClient:
    return make_client(request.param)


async def api(
    http: aiohttp.ClientSession, method: str, url: str, body: object = None
) -> tuple[int, dict]:
    """A raw call, for requests the client would refuse to send."""
    async with http.request(method, url, json=body) as response:
        return response.status, await response.json(content_type=None)


async def run_to_end(
    emulator: KlingEmulator, get: Callable[..., object], task_id: str, timeout_s: float = 30.0
) -> object:
    """Poll a task, moving the manual clock on, until it succeeds or fails."""
    deadline = time.monotonic() + timeout_s
    while True:
        task = await get(task_id=task_id)  # type: ignore[misc]
        if task.status.is_terminal:
            return task
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} still {task.status} after {timeout_s} s")
        emulator.advance(5)
        await asyncio.sleep(0.02)
