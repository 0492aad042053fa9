"""`kling-bot demo`: the whole editing flow offline, on the built-in Kling emulator.

It walks the same steps a channel does (check the video, open a Kling session, mark two points,
draw the board after each, preview, submit a removal, wait, fetch the result) with the real
client against a real emulator on loopback, and writes what a member would see into a folder.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
from aiohttp import web

from bot.grid import BoardGrid
from bot.jobs.download import download_to_file
from bot.kling import CreateEditTask, KlingClient, TaskStatus, make_provider
from bot.kling.emulator import KlingEmulator
from bot.media import MediaError, extract_frame, frame_time, probe_video, write_mp4
from bot.media.fix import fix_video
from bot.media.rules import check_video, edit_duration_for
from bot.points import PointsError, parse_points
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
    ys, xs = np.mgrid[0:height, 0:width]
    # A soft two-colour backdrop so "removal" has something to fill in from.
    backdrop = np.zeros((height, width, 3), dtype=np.uint8)
    backdrop[..., 1] = 90 + (ys * 60 // height).astype(np.uint8)
    backdrop[..., 2] = 150
    for index in range(DEMO_FPS * DEMO_SECONDS):
        cx, cy = ball_centre(index)
        inside = (xs - cx * width) ** 2 + (ys - cy * height) ** 2 <= BALL_RADIUS**2
        frame = backdrop.copy()
        frame[inside] = (220, 30, 30)
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


def prepare_video(video: Path | None, out: Path) -> tuple[Path, list[str]]:
    """The video to edit, fixed if it breaks a rule that can be fixed; notes for the summary."""
    if video is None:
        return make_demo_video(out / "input.mp4"), ["generated a 3 s 1280x720 24 fps clip"]
    info = probe_video(video)
    problems = check_video(info)
    if not problems:
        return video, [f"{video.name} passes Kling's rules"]
    if not all(p.fixable for p in problems):
        raise MediaError(" ".join(p.message for p in problems if not p.fixable))
    report = fix_video(video, out / "input-fixed.mp4", info)
    return report.path, [p.message for p in problems] + report.changes


async def run_demo(video: Path | None, out: Path, *, seconds_per_stage: float = 0.5) -> int:
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    timings = Timings()
    try:
        async with timings.step("check video"):
            source, notes = await asyncio.to_thread(prepare_video, video, out)
            info = await asyncio.to_thread(probe_video, source)
    except MediaError as exc:
        print(f"The video cannot be used: {exc}")
        return 1

    grid = BoardGrid.for_frame(info.width, info.height)
    async with (
        _scratch_dir() as scratch,
        KlingEmulator(seconds_per_stage=seconds_per_stage, work_dir=scratch) as emu,
        aiohttp.ClientSession() as http,
        serve_file(source) as video_url,
    ):
        client = KlingClient(http, make_provider("emulator", base_url=emu.base_url))
        async with timings.step("init-selection"):
            session = await client.init_selection(video_url=video_url)

        frame_index = 0
        cx, cy = ball_centre(frame_index) if video is None else (0.5, 0.5)
        cell = grid.cell_name(grid.cell_at(cx, cy))
        # One point by grid cell and one by coordinates: the two ways members usually mark.
        marks = [cell, f"{cx + 0.01:.3f},{cy + 0.02:.3f}"]
        frame = await asyncio.to_thread(extract_frame, source, frame_index)
        caption = f"frame {frame_index} · {frame_time(frame_index, info.fps):.2f} s"
        placed: list[tuple[int, float, float]] = []
        boards: list[Path] = []
        for number, text in enumerate(marks, start=1):
            try:
                (point,) = parse_points(text, grid, video_width=info.width,
                                        video_height=info.height, existing_count=len(placed))
            except PointsError as exc:
                print(f"Could not mark {text}: {exc}")
                return 1
            async with timings.step(f"add-selection {text}"):
                result = await client.add_selection(session.session_id, frame_index, [point])
            placed.append((number, *point))
            async with timings.step(f"render board {number}"):
                image = await asyncio.to_thread(
                    render_board, frame, [(m.object_id, m.rle_mask) for m in result.masks],
                    placed, grid, caption, image_format="png",
                )
            board = out / f"board-{number}.png"
            await asyncio.to_thread(board.write_bytes, image)
            boards.append(board)

        async with timings.step("preview-selection"):
            preview = await client.preview_selection(session.session_id)
            preview_files = []
            wanted = ((preview.video, "preview.mp4"), (preview.video_cover, "preview-cover"))
            for url, name in wanted:
                if url:
                    suffix = "" if name.endswith(".mp4") else Path(url.split("?")[0]).suffix
                    dest = out / f"{name}{suffix}"
                    await download_to_file(http, url, dest, max_bytes=DOWNLOAD_CAP,
                                           time_limit=60)
                    preview_files.append(dest)

        prompt = "Delete the red ball from <<<video_1>>>"
        async with timings.step("submit removal"):
            task = await client.create_edit_task(CreateEditTask(
                session_id=session.session_id, edit_mode="removal", prompt=prompt,
                duration=edit_duration_for(info),
            ))
        async with timings.step("wait for Kling"):
            while not task.status.is_terminal:
                await asyncio.sleep(0.25)
                task = await client.get_edit_task(task_id=task.task_id)
        if task.status is not TaskStatus.SUCCEEDED or not task.videos:
            print(f"The edit failed: {task.status_msg or 'no reason given'}")
            return 1
        result_path = out / "result.mp4"
        async with timings.step("download result"):
            await download_to_file(http, task.videos[0].url, result_path,
                                   max_bytes=DOWNLOAD_CAP, time_limit=120)
        result_info = await asyncio.to_thread(probe_video, result_path)

    print_summary(out, notes, session.session_id, boards, preview_files, result_path,
                  result_info, task.final_unit_deduction, timings)
    return 0


def print_summary(out: Path, notes: list[str], session_id: str, boards: list[Path],
                  previews: list[Path], result: Path, result_info: object,
                  units: float | None, timings: Timings) -> None:
    print(f"Kling demo (emulator) → {out}/")
    for note in notes:
        print(f"  video: {note}")
    print(f"  session {session_id}")
    for path in [*boards, *previews, result]:
        print(f"  wrote {path.name} ({path.stat().st_size / 1024:.0f} KiB)")
    duration = getattr(result_info, "duration_s", 0.0)
    print(f"  result: {duration:.1f} s, "
          f"{getattr(result_info, 'width', '?')}x{getattr(result_info, 'height', '?')}, "
          f"units charged by the emulator: {units if units is not None else 'none'}")
    total = sum(seconds for _, seconds in timings.steps)
    for name, seconds in timings.steps:
        print(f"  {seconds * 1000:8.0f} ms  {name}")
    print(f"  {total * 1000:8.0f} ms  total")
