"""Tasks advance on the emulator's clock and end in real, playable videos that reflect the edit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from bot.kling import (
    CreateEditTask,
    CreateMultiImageTask,
    KlingClient,
    TaskStatus,
)
from bot.kling.emulator import KlingEmulator
from bot.media import extract_frame, probe_video

from .conftest import (
    BACKGROUND,
    FPS,
    FRAMES,
    GREEN,
    GREEN_BOX,
    HEIGHT,
    RED,
    WIDTH,
    ClientFactory,
    api,
    b64,
    centre,
    png_bytes,
    red_box,
    run_to_end,
)

YELLOW = (250, 220, 0)
YELLOW_IMAGE = b64(png_bytes((400, 400), YELLOW))


def inner(box: tuple[int, int, int, int], margin: int = 12) -> tuple[slice, slice]:
    top, left, bottom, right = box
    return slice(top + margin, bottom - margin), slice(left + margin, right - margin)


def mean_colour(pixels: np.ndarray) -> np.ndarray:
    return pixels.reshape(-1, 3).astype(float).mean(axis=0)


def near(colour: np.ndarray, expected: tuple[int, int, int], tolerance: float = 30) -> bool:
    return float(np.linalg.norm(colour - np.asarray(expected, dtype=float))) < tolerance


async def download(http: aiohttp.ClientSession, url: str, path: Path) -> Path:
    async with http.get(url) as response:
        assert response.status == 200
        data = await response.read()
    await asyncio.to_thread(path.write_bytes, data)
    return path


async def marked_session(client: KlingClient, file_server: str) -> str:
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    await client.add_selection(session.session_id, 0, [centre(red_box(0))])
    return session.session_id


async def test_removal_runs_submitted_processing_succeed_and_erases_the_object(
    client: KlingClient,
    emulator: KlingEmulator,
    file_server: str,
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    session_id = await marked_session(client, file_server)
    created = await client.create_edit_task(
        CreateEditTask(
            session_id=session_id,
            edit_mode="removal",
            prompt="Delete the red square from <<<video_1>>>",
            external_task_id="removal-1",
        )
    )
    assert created.status is TaskStatus.SUBMITTED
    assert created.external_task_id == "removal-1"
    # The emulator's clock is manual: until it is advanced, the task cannot move.
    assert (await client.get_edit_task(task_id=created.task_id)).status is TaskStatus.SUBMITTED
    emulator.advance(5)
    async with asyncio.timeout(10):  # the task's coroutine moves it once it gets the loop
        while (  # noqa: ASYNC110 - asks the server over HTTP, which has no change event
            processing := await client.get_edit_task(task_id=created.task_id)
        ).status is TaskStatus.SUBMITTED:
            await asyncio.sleep(0.01)
    assert processing.status is TaskStatus.PROCESSING
    assert processing.videos == ()

    done = await run_to_end(emulator, client.get_edit_task, created.task_id)
    assert done.status is TaskStatus.SUCCEEDED  # type: ignore[attr-defined]
    assert done.final_unit_deduction == 3.0  # type: ignore[attr-defined]
    video = done.videos[0]  # type: ignore[attr-defined]
    assert video.session_id == session_id
    path = await download(http, video.url, tmp_path / "removed.mp4")
    info = probe_video(path)
    assert (info.container, info.codec) == ("mp4", "h264")
    assert (info.width, info.height, info.frame_count, info.fps) == (WIDTH, HEIGHT, FRAMES, FPS)

    for index in (0, FRAMES - 1):
        frame = np.asarray(extract_frame(path, index))
        assert near(mean_colour(frame[inner(red_box(index))]), BACKGROUND)
        assert near(mean_colour(frame[inner(GREEN_BOX)]), GREEN)
        reds = np.abs(frame.astype(int) - RED).sum(axis=2) < 60
        assert reds.sum() < 50


async def test_swap_paints_the_reference_into_the_region(
    make_client: ClientFactory,
    emulator: KlingEmulator,
    file_server: str,
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    client = make_client()
    session_id = await marked_session(client, file_server)
    created = await client.create_edit_task(
        CreateEditTask(
            session_id=session_id,
            edit_mode="swap",
            images=[YELLOW_IMAGE],
            mode="pro",
            prompt="swap the red square for the block from <<<image_1>>> in <<<video_1>>>",
        )
    )
    done = await run_to_end(emulator, client.get_edit_task, created.task_id)
    assert done.final_unit_deduction == 5.0  # type: ignore[attr-defined]
    path = await download(http, done.videos[0].url, tmp_path / "swap.mp4")  # type: ignore[attr-defined]
    frame = np.asarray(extract_frame(path, 10))
    assert near(mean_colour(frame[inner(red_box(10))]), YELLOW)
    assert near(mean_colour(frame[inner(GREEN_BOX)]), GREEN)


async def test_addition_places_the_reference_beside_the_region(
    make_client: ClientFactory,
    emulator: KlingEmulator,
    file_server: str,
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    client = make_client()
    session_id = await marked_session(client, file_server)
    created = await client.create_edit_task(
        CreateEditTask(
            session_id=session_id,
            edit_mode="addition",
            images=[YELLOW_IMAGE],
            prompt="Using the context of <<<video_1>>>, seamlessly add the block from <<<image_1>>>",  # noqa: E501
        )
    )
    done = await run_to_end(emulator, client.get_edit_task, created.task_id)
    path = await download(http, done.videos[0].url, tmp_path / "add.mp4")  # type: ignore[attr-defined]
    frame = np.asarray(extract_frame(path, 0))
    assert near(mean_colour(frame[inner(red_box(0))]), RED)
    yellow = np.abs(frame.astype(int) - YELLOW).sum(axis=2) < 60
    assert yellow.sum() > 0.5 * (HEIGHT // 3) ** 2
    right = red_box(0)[3]
    columns = np.flatnonzero(yellow.any(axis=0))
    assert columns.min() >= right  # to the right of the selected square, not over it


async def test_a_forbidden_prompt_fails_like_a_content_policy_rejection(
    make_client: ClientFactory, emulator: KlingEmulator, file_server: str
) -> None:
    client = make_client()
    session_id = await marked_session(client, file_server)
    created = await client.create_edit_task(
        CreateEditTask(
            session_id=session_id,
            edit_mode="removal",
            prompt="Delete the forbidden square from <<<video_1>>>",
        )
    )
    done = await run_to_end(emulator, client.get_edit_task, created.task_id)
    assert done.status is TaskStatus.FAILED  # type: ignore[attr-defined]
    assert "risk control" in (done.status_msg or "")  # type: ignore[attr-defined]
    assert done.videos == ()  # type: ignore[attr-defined]
    assert not done.final_unit_deduction  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("aspect_ratio", "ratio"), [("16:9", 16 / 9), ("9:16", 9 / 16), ("1:1", 1.0)]
)
async def test_multi_image2video_respects_aspect_ratio_and_duration(
    make_client: ClientFactory,
    emulator: KlingEmulator,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    aspect_ratio: str,
    ratio: float,
) -> None:
    client = make_client()
    created = await client.create_multi_image_task(
        CreateMultiImageTask(
            images=[YELLOW_IMAGE, b64(png_bytes((600, 400), GREEN, "JPEG"))],
            prompt="a yellow block turns green",
            aspect_ratio=aspect_ratio,
            duration="5",
        )
    )
    done = await run_to_end(emulator, client.get_multi_image_task, created.task_id)
    assert done.status is TaskStatus.SUCCEEDED  # type: ignore[attr-defined]
    assert done.final_unit_deduction == 1.0  # type: ignore[attr-defined]
    video = done.videos[0]  # type: ignore[attr-defined]
    assert video.duration == 5.0
    path = await download(http, video.url, tmp_path / "clip.mp4")
    info = probe_video(path)
    assert info.width / info.height == pytest.approx(ratio, rel=0.02)
    assert info.duration_s == pytest.approx(5.0, abs=0.05)
    first = np.asarray(extract_frame(path, 0))
    last = np.asarray(extract_frame(path, info.frame_count - 1))
    assert near(mean_colour(first), YELLOW)
    assert near(mean_colour(last), GREEN)


async def test_tasks_are_found_by_external_id_in_path_and_query_and_listed(
    client: KlingClient, emulator: KlingEmulator, http: aiohttp.ClientSession
) -> None:
    ids = []
    for n in range(3):
        task = await client.create_multi_image_task(
            CreateMultiImageTask(
                images=[YELLOW_IMAGE], prompt=f"clip {n}", external_task_id=f"ext-{n}"
            )
        )
        ids.append(task.task_id)
    by_external = await client.get_multi_image_task(external_task_id="ext-1")
    assert by_external.task_id == ids[1]
    base = f"{emulator.base_url}/v1/videos/multi-image2video"
    status, body = await api(http, "GET", f"{base}?external_task_id=ext-2")
    assert status == 200 and body["data"]["task_id"] == ids[2]
    status, body = await api(http, "GET", f"{base}/ext-0")
    assert status == 200 and body["data"]["task_id"] == ids[0]

    page = await client.list_multi_image_tasks(page_num=1, page_size=2)
    assert [t.task_id for t in page.tasks] == [ids[2], ids[1]]
    page = await client.list_multi_image_tasks(page_num=2, page_size=2)
    assert [t.task_id for t in page.tasks] == [ids[0]]
    assert (await client.list_edit_tasks()).tasks == ()
