"""`kling-bot demo`: the whole editing flow offline, on the built-in Kling emulator.

It walks the same steps a channel does (check the video, open a Kling session, mark points on
one frame, draw the board after each, preview, submit the edit, wait, fetch the result) with the
real client against a real emulator on loopback, and writes what a member would see into a
folder. On the generated clip everything has a default (two clicks on the red ball, a removal);
on a member's own video the points must be given (see bot.demo_options).
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
from aiohttp import web

from bot.demo_args import DemoRequest
from bot.demo_options import (
    DemoUsageError,
    check_edit,
    check_video_path,
    resolve_frame,
    resolve_points,
    resolve_prompt,
)
from bot.grid import BoardGrid
from bot.jobs.download import download_to_file
from bot.kling import CreateEditTask, KlingClient, TaskStatus, make_provider
from bot.kling.emulator import KlingEmulator
from bot.media import MediaError, extract_frame, frame_time, probe_video, write_mp4
from bot.media.fix import fix_video
from bot.media.rules import check_video, edit_duration_for
from bot.render.board import render_board

DEMO_SIZE = (1280, 720)
DEMO_FPS = 24
DEMO_SECONDS = 3
BALL_RADIUS = 70
DOWNLOAD_CAP = 512 * 1024 * 1024


@dataclass
class Timings:
    steps: list[tuple[str, float]] = field(default_factory=list)

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        yield
        self.steps.append((name, time.perf_counter() - start))


def ball_centre(index: int) -> tuple[float, float]:
    """Where the demo's red ball is on frame `index`, in normalised coordinates."""
    progress = index / (DEMO_FPS * DEMO_SECONDS - 1)
    return 0.25 + 0.5 * progress, 0.5


def demo_frames() -> Iterator[np.ndarray]:
    width, height = DEMO_SIZE
    ys = np.arange(height)[:, None]
    # A soft two-colour backdrop so "removal" has something to fill in from.
    backdrop = np.zeros((height, width, 3), dtype=np.uint8)
    backdrop[..., 1] = 90 + (ys * 60 // height).astype(np.uint8)
    backdrop[..., 2] = 150
    # The ball drawn once, then stamped where it is on each frame.
    offsets = np.arange(-BALL_RADIUS, BALL_RADIUS + 1)
    disc = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= BALL_RADIUS**2
    for index in range(DEMO_FPS * DEMO_SECONDS):
        cx, cy = ball_centre(index)
        left, top = round(cx * width) - BALL_RADIUS, round(cy * height) - BALL_RADIUS
        frame = backdrop.copy()
        frame[top : top + disc.shape[0], left : left + disc.shape[1]][disc] = (220, 30, 30)
        yield frame


def make_demo_video(path: Path) -> Path:
    write_mp4(demo_frames(), path, DEMO_FPS)
    return path


@asynccontextmanager
async def serve_file(path: Path) -> AsyncIterator[str]:
    """Serve one file on loopback, standing in for the Discord CDN link Kling would fetch."""

    async def send_file(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_get(f"/{path.name}", send_file)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/{path.name}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def _scratch_dir() -> AsyncIterator[Path]:
    # The emulator's own files (its copy of the video, masks) are not part of the demo's output.
    with tempfile.TemporaryDirectory(prefix="kling-demo-") as name:
        yield Path(name)


def prepare_video(video: Path | None, out: Path, files: OutputFiles) -> tuple[Path, list[str]]:
    """The video to edit, fixed if it breaks a rule that can be fixed; notes for the summary."""
    if video is None:
        path = make_demo_video(out / "input.mp4")
        files.add(path, "the generated clip: a red ball crossing the frame, 3 s, 1280x720, 24 fps")
        return path, ["generated a 3 s 1280x720 24 fps clip"]
    info = probe_video(video)
    problems = check_video(info)
    if not problems:
        return video, [f"{video.name} passes Kling's rules"]
    if not all(p.fixable for p in problems):
        raise MediaError(" ".join(p.message for p in problems if not p.fixable))
    report = fix_video(video, out / "input-fixed.mp4", info)
    files.add(report.path, f"{video.name} fixed to Kling's rules (the video that was edited)")
    notes: list[str] = [p.message for p in problems]
    return report.path, notes + report.changes


def default_marks(frame_index: int, grid: BoardGrid) -> str:
    """Two clicks on the generated clip's ball: by grid cell where the cell's centre is on the
    ball (the way members usually mark), and by coordinates."""
    cx, cy = ball_centre(frame_index)
    cell = grid.cell_at(cx, cy)
    centre_x, centre_y = grid.cell_centre(cell)
    width, height = DEMO_SIZE
    on_ball = math.hypot((centre_x - cx) * width, (centre_y - cy) * height) < BALL_RADIUS * 0.9
    first = grid.cell_name(cell) if on_ball else f"{cx:.3f},{cy:.3f}"
    return f"{first} {cx + 0.01:.3f},{cy + 0.02:.3f}"


def usage_error(error: DemoUsageError) -> int:
    print(f"kling-bot demo: {error}", file=sys.stderr)
    return 2


async def run_demo(request: DemoRequest, *, seconds_per_stage: float = 0.5) -> int:
    """Run the demo; 0 when the edit came back, 1 when it could not be done, 2 for bad options."""
    try:
        check_video_path(request.video)
        edit = await asyncio.to_thread(check_edit, request)
    except DemoUsageError as error:
        return usage_error(error)
    out = request.out
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    files = OutputFiles(out)
    timings = Timings()
    try:
        async with timings.step("check video"):
            source, notes = await asyncio.to_thread(prepare_video, request.video, out, files)
            info = await asyncio.to_thread(probe_video, source)
    except MediaError as exc:
        print(f"The video cannot be used: {exc}")
        return 1

    grid = BoardGrid.for_frame(info.width, info.height)
    try:
        frame_index = resolve_frame(request, info)
        frame = await asyncio.to_thread(extract_frame, source, frame_index)
        caption = f"frame {frame_index} · {frame_time(frame_index, info.fps):.2f} s"
        if request.points is None and request.video is not None:
            grid_board = out / "grid.png"
            image = await asyncio.to_thread(
                render_board, frame, [], [], grid, caption, image_format="png"
            )
            await asyncio.to_thread(grid_board.write_bytes, image)
            raise DemoUsageError(
                "with your own VIDEO, say where the object is with --points (e.g. --points C4 "
                f"or --points 0.42,0.61); {grid_board} shows frame {frame_index} with the grid"
            )
        marks = request.points if request.points is not None else default_marks(frame_index, grid)
        points = resolve_points(marks, info)
        prompt = resolve_prompt(request, edit)
    except DemoUsageError as error:
        return usage_error(error)

    async with (
        _scratch_dir() as scratch,
        KlingEmulator(seconds_per_stage=seconds_per_stage, work_dir=scratch) as emu,
        aiohttp.ClientSession() as http,
        serve_file(source) as video_url,
    ):
        client = KlingClient(http, make_provider("emulator", base_url=emu.base_url))
        async with timings.step("init-selection"):
            session = await client.init_selection(video_url=video_url)

        placed: list[tuple[int, float, float]] = []
        # One add-selection per point, with the board after each, as members mark one by one.
        for number, point in enumerate(points, start=1):
            text = f"{point[0]:.3f},{point[1]:.3f} in {grid.cell_name(grid.cell_at(*point))}"
            async with timings.step(f"add-selection {number}"):
                result = await client.add_selection(session.session_id, frame_index, [point])
            placed.append((number, *point))
            async with timings.step(f"render board {number}"):
                image = await asyncio.to_thread(
                    render_board,
                    frame,
                    [(m.object_id, m.rle_mask) for m in result.masks],
                    placed,
                    grid,
                    caption,
                    image_format="png",
                )
            board = out / f"board-{number}.png"
            await asyncio.to_thread(board.write_bytes, image)
            files.add(
                board,
                f"the board after point {number} ({text}) on frame "
                f"{frame_index}: {len(result.masks)} object mask(s)",
            )

        async with timings.step("preview-selection"):
            preview = await client.preview_selection(session.session_id)
            wanted = (
                (
                    preview.video,
                    "preview.mp4",
                    "the selection preview: the tracked mask on every frame",
                ),
                (
                    preview.video_cover,
                    "preview-cover",
                    f"the preview's cover: the mask on frame {frame_index}",
                ),
            )
            for url, name, what in wanted:
                if url:
                    suffix = "" if name.endswith(".mp4") else Path(url.split("?")[0]).suffix
                    dest = out / f"{name}{suffix}"
                    await download_to_file(http, url, dest, max_bytes=DOWNLOAD_CAP, time_limit=60)
                    files.add(dest, what)

        async with timings.step(f"submit {edit.edit_mode}"):
            task = await client.create_edit_task(
                CreateEditTask(
                    session_id=session.session_id,
                    edit_mode=edit.edit_mode,
                    prompt=prompt,
                    images=edit.images,
                    duration=edit_duration_for(info),
                )
            )
        async with timings.step("wait for Kling"):
            while not task.status.is_terminal:
                await asyncio.sleep(0.25)
                task = await client.get_edit_task(task_id=task.task_id)
        if task.status is not TaskStatus.SUCCEEDED or not task.videos:
            print(f"The edit failed: {task.status_msg or 'no reason given'}")
            return 1
        result_url = task.videos[0].url
        if not result_url:
            print("Kling reported success but sent no video URL")
            return 1
        result_path = out / "result.mp4"
        async with timings.step("download result"):
            await download_to_file(
                http, result_url, result_path, max_bytes=DOWNLOAD_CAP, time_limit=120
            )
        files.add(result_path, f"the edited video ({edit.edit_mode})")
        result_info = await asyncio.to_thread(probe_video, result_path)

    print(f"Kling demo (emulator) → {out}/")
    for note in notes:
        print(f"  video: {note}")
    for note in edit.notes:
        print(f"  image: {note}")
    print(
        f"  session {session.session_id}, frame {frame_index} ({caption.split(' · ')[1]}), "
        f"{len(placed)} point(s)"
    )
    print(f"  {edit.edit_mode}: {prompt}")
    print(
        f"  result: {result_info.duration_s:.1f} s, {result_info.width}x{result_info.height}, "
        f"units charged by the emulator: {task.final_unit_deduction or 'none'}"
    )
    print_timings(timings)
    files.print_listing()
    return 0


def print_timings(timings: Timings) -> None:
    for name, seconds in timings.steps:
        print(f"  {seconds * 1000:8.0f} ms  {name}")
    total = sum(seconds for _, seconds in timings.steps)
    print(f"  {total * 1000:8.0f} ms  total")


class OutputFiles:
    """What this run wrote into the output folder, to list at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: dict[str, str] = {}

    def add(self, path: Path, what: str) -> None:
        self.written[path.name] = what

    def print_listing(self) -> None:
        print(f"Files in {self.folder}/:")
        entries = sorted(p for p in self.folder.iterdir() if p.is_file())
        width = max((len(p.name) for p in entries), default=0)
        for path in entries:
            what = self.written.get(path.name, "not written by this run")
            print(f"  {path.name:<{width}}  {_size(path.stat().st_size):>9}  {what}")


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"
