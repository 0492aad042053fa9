"""The client drives the selection endpoints; masks land where the clicked object is."""

from __future__ import annotations

import base64
import io
import json
import os
from typing import Any

import aiohttp
import numpy as np
import pytest
from PIL import Image

from bot.kling import CreateEditTask, KlingClient, NotFoundError, make_provider
from bot.kling.emulator import KlingEmulator, ManualClock
from bot.masks import decode_rle
from bot.media import probe_video

from .conftest import (
    BACKGROUND,
    FPS,
    FRAMES,
    GREEN_BOX,
    HEIGHT,
    RED,
    WIDTH,
    Clips,
    box_mask,
    centre,
    iou,
    red_box,
    run_to_end,
)


def png_pixels(png_mask: dict[str, Any]) -> np.ndarray:
    """The emulator's PNG mask read plainly: 1 where the grey level is not zero."""
    with Image.open(io.BytesIO(base64.b64decode(png_mask["base64"]))) as image:
        pixels = (np.asarray(image.convert("L")) != 0).astype(np.uint8)
    assert list(pixels.shape) == png_mask["size"]
    return pixels


async def test_init_reports_the_video_and_serves_it_normalised(
    client: KlingClient, file_server: str, http: aiohttp.ClientSession, tmp_path
) -> None:
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    assert session.status == 0
    assert (session.width, session.height) == (WIDTH, HEIGHT)
    assert session.fps == FPS
    assert session.total_frame == FRAMES
    assert session.original_duration == 2000
    assert session.normalized_video is not None
    async with http.get(session.normalized_video) as response:
        assert response.status == 200
        (tmp_path / "normalized.mp4").write_bytes(await response.read())
    info = probe_video(tmp_path / "normalized.mp4")
    assert (info.width, info.height, info.frame_count) == (WIDTH, HEIGHT, FRAMES)


async def test_click_inside_a_square_masks_that_square(
    client: KlingClient, file_server: str
) -> None:
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    result = await client.add_selection(session.session_id, 0, [centre(red_box(0))])
    assert result.frame_index == 0
    assert len(result.masks) == 1
    item = result.masks[0]
    assert item.rle_mask["size"] == [HEIGHT, WIDTH]
    mask = decode_rle(item.rle_mask)
    assert iou(mask, box_mask(red_box(0))) > 0.9
    assert item.png_mask is not None
    assert np.array_equal(png_pixels(item.png_mask), mask)


async def test_masks_follow_the_frame_clicked(client: KlingClient, file_server: str) -> None:
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    late = FRAMES - 1
    result = await client.add_selection(session.session_id, late, [centre(red_box(late))])
    mask = decode_rle(result.masks[0].rle_mask)
    assert iou(mask, box_mask(red_box(late))) > 0.9
    assert iou(mask, box_mask(red_box(0))) < 0.7


async def test_object_ids_are_stable_and_clicks_on_an_object_join_it(
    client: KlingClient, file_server: str
) -> None:
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    first = await client.add_selection(session.session_id, 0, [centre(red_box(0))])
    red_id = first.masks[0].object_id
    top, left, _, _ = red_box(0)
    inside_red = ((left + 20) / WIDTH, (top + 20) / HEIGHT)
    second = await client.add_selection(session.session_id, 0, [centre(GREEN_BOX), inside_red])
    ids = {item.object_id: decode_rle(item.rle_mask) for item in second.masks}
    assert len(ids) == 2
    assert red_id in ids
    green_id = next(i for i in ids if i != red_id)
    assert iou(ids[red_id], box_mask(red_box(0))) > 0.9
    assert iou(ids[green_id], box_mask(GREEN_BOX)) > 0.9
    # On another frame, a click on the drifting red square still belongs to the red object.
    later = await client.add_selection(session.session_id, 20, [centre(red_box(20))])
    later_ids = {item.object_id: decode_rle(item.rle_mask) for item in later.masks}
    assert set(later_ids) == {red_id, green_id}
    assert iou(later_ids[red_id], box_mask(red_box(20))) > 0.9


async def test_delete_removes_exactly_that_point_and_its_mask(
    client: KlingClient, file_server: str
) -> None:
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    red_point, green_point = centre(red_box(0)), centre(GREEN_BOX)
    added = await client.add_selection(session.session_id, 0, [red_point, green_point])
    assert len(added.masks) == 2
    after = await client.delete_selection(session.session_id, 0, [green_point])
    assert len(after.masks) == 1
    assert iou(decode_rle(after.masks[0].rle_mask), box_mask(red_box(0))) > 0.9


async def test_clear_removes_every_mask(client: KlingClient, file_server: str) -> None:
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    await client.add_selection(session.session_id, 0, [centre(red_box(0))])
    await client.add_selection(session.session_id, 10, [centre(GREEN_BOX)])
    cleared = await client.clear_selection(session.session_id)
    assert cleared.masks == ()
    # Nothing is left to track: a click on the background is a brand-new object.
    again = await client.add_selection(session.session_id, 10, [(0.05, 0.05)])
    assert len(again.masks) == 1
    background = decode_rle(again.masks[0].rle_mask).astype(bool)
    assert not (background & box_mask(GREEN_BOX)).any()
    assert background.sum() > 0.8 * WIDTH * HEIGHT


async def test_preview_serves_overlay_video_cover_and_tracking(
    client: KlingClient, file_server: str, http: aiohttp.ClientSession, tmp_path
) -> None:
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    await client.add_selection(session.session_id, 0, [centre(red_box(0))])
    preview = await client.preview_selection(session.session_id)
    assert preview.video and preview.video_cover and preview.tracking_output

    async with http.get(preview.video) as response:
        (tmp_path / "preview.mp4").write_bytes(await response.read())
    info = probe_video(tmp_path / "preview.mp4")
    assert info.frame_count == FRAMES

    async with http.get(preview.video_cover) as response:
        cover = Image.open(io.BytesIO(await response.read())).convert("RGB")
    # The clicked square is drawn over (its pixels clearly differ from the red it was) with a
    # light ring around its edge; the background far from it is left as it was.
    scale = cover.width / WIDTH
    top, left, bottom, right = red_box(0)
    cx = int((left + right) / 2 * scale)
    inside = np.asarray(
        cover.crop(
            (
                int((left + 20) * scale),
                int((top + 20) * scale),
                int((right - 20) * scale),
                int((bottom - 20) * scale),
            )
        )
    )
    assert np.abs(inside.astype(int) - RED).max(axis=-1).mean() > 60
    above_edge = [cover.getpixel((cx, int(top * scale) - d)) for d in range(1, 4)]
    assert any(min(pixel) > 200 for pixel in above_edge), above_edge
    far = cover.getpixel((5, cover.height - 5))
    assert np.abs(np.subtract(far, BACKGROUND)).max() < 20

    async with http.get(preview.tracking_output) as response:
        tracking = json.loads(await response.read())
    frames = tracking["frames"]
    assert [f["frame_index"] for f in frames] == list(range(FRAMES))
    last = frames[-1]["rle_mask_list"][0]["rle_mask"]
    assert iou(decode_rle(last), box_mask(red_box(FRAMES - 1))) > 0.85


NICER = 5


async def test_a_preview_rendered_in_a_render_process_is_the_same_preview(
    clock: ManualClock, file_server: str, http: aiohttp.ClientSession
) -> None:
    async def preview_files(render_processes: int) -> tuple[bytes, Any]:
        async with KlingEmulator(
            clock=clock,
            preview_max_side=320,
            render_processes=render_processes,
            render_niceness=NICER,
        ) as emulator:
            client = KlingClient(http, make_provider("emulator", base_url=emulator.base_url))
            session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
            await client.add_selection(session.session_id, 0, [centre(red_box(0))])
            preview = await client.preview_selection(session.session_id)
            assert preview.video_cover and preview.tracking_output
            rendered_by = await emulator.runtime.render(os.getpid)
            assert (rendered_by != os.getpid()) == (render_processes > 0)
            if render_processes:  # rendering yields the CPU to the process sharing the machine
                assert await emulator.runtime.render(os.nice, 0) == min(os.nice(0) + NICER, 19)
            async with http.get(preview.video_cover) as response:
                cover = await response.read()
            async with http.get(preview.tracking_output) as response:
                return cover, json.loads(await response.read())

    on_threads = await preview_files(0)
    in_processes = await preview_files(1)
    assert in_processes[1]["frames"] == on_threads[1]["frames"]
    assert np.array_equal(
        np.asarray(Image.open(io.BytesIO(in_processes[0]))),
        np.asarray(Image.open(io.BytesIO(on_threads[0]))),
    )


async def test_result_video_can_start_a_new_session_by_video_id(
    client: KlingClient, emulator: KlingEmulator, file_server: str
) -> None:
    session = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    await client.add_selection(session.session_id, 0, [centre(GREEN_BOX)])
    task = await client.create_edit_task(
        CreateEditTask(
            session_id=session.session_id,
            edit_mode="removal",
            prompt="Delete the green square from <<<video_1>>>",
        )
    )
    done = await run_to_end(emulator, client.get_edit_task, task.task_id)
    video = done.videos[0]  # type: ignore[attr-defined]
    second = await client.init_selection(video_id=video.id)
    assert second.session_id != session.session_id
    assert second.total_frame == FRAMES


async def test_unknown_session_is_not_found(client: KlingClient) -> None:
    with pytest.raises(NotFoundError):
        await client.add_selection("123", 0, [(0.5, 0.5)])


async def test_rotated_portrait_video_is_normalised_upright_and_masked_as_h_by_w(
    make_client, file_server: str, clips: Clips, http: aiohttp.ClientSession, tmp_path
) -> None:
    client = make_client()
    name = clips.make("rotated.mov", rotation=90)
    session = await client.init_selection(video_url=f"{file_server}/{name}")
    assert (session.width, session.height) == (HEIGHT, WIDTH)
    # The display is the stored picture turned a quarter counter-clockwise.
    truth = np.rot90(box_mask(red_box(0)), 1)
    rows, cols = np.nonzero(truth)
    point = ((cols.mean() + 0.5) / HEIGHT, (rows.mean() + 0.5) / WIDTH)
    result = await client.add_selection(session.session_id, 0, [point])
    assert result.masks[0].rle_mask["size"] == [WIDTH, HEIGHT]
    assert iou(decode_rle(result.masks[0].rle_mask), truth) > 0.9
    assert session.normalized_video is not None
    async with http.get(session.normalized_video) as response:
        (tmp_path / "upright.mp4").write_bytes(await response.read())
    info = probe_video(tmp_path / "upright.mp4")
    assert (info.container, info.rotation, info.width, info.height) == ("mp4", 0, HEIGHT, WIDTH)


async def test_the_normalised_video_url_can_open_a_new_session(
    client: KlingClient, file_server: str, emulator: KlingEmulator
) -> None:
    first = await client.init_selection(video_url=f"{file_server}/scene.mp4")
    assert first.normalized_video is not None
    second = await client.init_selection(video_url=first.normalized_video)
    assert second.session_id != first.session_id
    assert second.total_frame == first.total_frame
    # Served straight from the emulator's own files, not fetched over HTTP.
    assert emulator.faults.calls["files"] == 0
