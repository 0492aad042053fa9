"""Preview, planning paid edits (templates, images, modes) and submitting them to the runner."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from bot.editing.planning import MAX_PROMPT_CHARS
from bot.errors import UserFacingError
from bot.media import probe_video
from bot.storage import JobState, QuotaExceededError
from tests.bot.editing.conftest import ALICE, BOB, GUILD, Rig


def png(width: int = 640, height: int = 480, colour: tuple[int, int, int] = (30, 60, 220)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def webp(width: int = 500, height: int = 500) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 10)).save(buffer, format="WEBP")
    return buffer.getvalue()


async def marked_session(rig: Rig) -> int:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=0)
    return sid


async def test_preview_downloads_video_and_cover(rig: Rig) -> None:
    sid = await rig.open()
    with pytest.raises(UserFacingError, match="Mark an object first"):
        await rig.service.preview(sid)
    await rig.service.mark(sid, points="C4", user_id=ALICE)
    files = await rig.service.preview(sid)
    assert files.video is not None and files.cover is not None
    assert files.video_url and files.cover_url
    info = await asyncio.to_thread(probe_video, files.video)
    assert info.frame_count > 0 and info.width > 0
    with Image.open(files.cover) as cover:
        assert cover.size[0] > 0 and cover.format in ("PNG", "JPEG")
    assert files.video.is_relative_to(rig.media_dir)


async def test_plan_removal_swap_addition(rig: Rig) -> None:
    sid = await marked_session(rig)
    plan = await rig.service.plan_edit(
        sid, kind="removal", prompt="  Remove the red ball.\n", user_id=BOB
    )
    assert plan.prompt == "Delete the red ball from <<<video_1>>>"
    assert (plan.kind, plan.mode, plan.duration) == ("edit_removal", "std", "5")
    assert plan.image_paths == () and plan.marked_frames == ((0, 1),)
    assert (plan.requester_id, plan.guild_id, plan.session_id) == (BOB, GUILD, sid)

    plan = await rig.service.plan_edit(
        sid,
        kind="swap",
        prompt="the red ball",
        user_id=ALICE,
        images=[("cube.png", png())],
        negative_prompt="blur\x00, \tnoise\u200b",
    )
    assert plan.prompt == "swap the subject from <<<image_1>>> for the red ball from <<<video_1>>>"
    assert plan.negative_prompt == "blur, noise"
    (path,) = plan.image_paths
    assert path.is_relative_to(rig.media_dir / "jobs")
    with Image.open(path) as image:
        assert image.size == (640, 480)

    plan = await rig.service.plan_edit(
        sid,
        kind="swap",
        prompt="replace the red ball with a blue cube",
        user_id=ALICE,
        images=[("cube.png", png())],
    )
    assert plan.prompt == "swap a blue cube from <<<image_1>>> for the red ball from <<<video_1>>>"

    plan = await rig.service.plan_edit(
        sid,
        kind="addition",
        prompt="a green hat",
        user_id=ALICE,
        images=[("hat.webp", webp()), ("hat.png", png(400, 400))],
    )
    assert plan.prompt == (
        "Using the context of <<<video_1>>>, seamlessly add a green hat from "
        "<<<image_1>>> and <<<image_2>>>"
    )
    assert [p.suffix for p in plan.image_paths] in ([".png", ".png"], [".jpg", ".png"])
    assert any("hat.webp" in note for note in plan.notes)

    written = "Delete the red ball from <<<video_1>>>, keep the shadow"
    plan = await rig.service.plan_edit(sid, kind="removal", prompt=written, user_id=ALICE)
    assert plan.prompt == written


@pytest.mark.parametrize(
    ("kind", "images", "message"),
    [
        ("removal", 1, "takes no reference image"),
        ("swap", 0, "exactly one reference image"),
        ("swap", 2, "exactly one reference image"),
        ("addition", 0, "one or two reference images"),
        ("addition", 3, "one or two reference images"),
    ],
)
async def test_plan_refuses_wrong_image_counts(
    rig: Rig, kind: str, images: int, message: str
) -> None:
    sid = await marked_session(rig)
    with pytest.raises(UserFacingError, match=message):
        await rig.service.plan_edit(
            sid,
            kind=kind,
            prompt="the ball",
            user_id=ALICE,
            images=[(f"{i}.png", png()) for i in range(images)],
        )
    assert not (rig.media_dir / "jobs").exists()


async def test_plan_refuses_bad_prompts_modes_and_images(rig: Rig) -> None:
    sid = await rig.open()
    with pytest.raises(UserFacingError, match="Mark the object first"):
        await rig.service.plan_edit(sid, kind="removal", prompt="the ball", user_id=ALICE)
    await rig.service.mark(sid, points="C4", user_id=ALICE)
    plan = rig.service.plan_edit
    with pytest.raises(UserFacingError, match="prompt is empty"):
        await plan(sid, kind="removal", prompt=" \n\t\x07 ", user_id=ALICE)
    with pytest.raises(UserFacingError, match=f"at most {MAX_PROMPT_CHARS}"):
        await plan(sid, kind="removal", prompt="x" * 2480, user_id=ALICE)
    with pytest.raises(UserFacingError, match="negative prompt"):
        await plan(sid, kind="removal", prompt="ball", user_id=ALICE, negative_prompt="n" * 2501)
    with pytest.raises(UserFacingError, match=r"<<<image_2>>>"):
        await plan(
            sid,
            kind="swap",
            prompt="swap <<<image_2>>> into <<<video_1>>>",
            user_id=ALICE,
            images=[("a.png", png())],
        )
    with pytest.raises(UserFacingError, match="not a mode"):
        await plan(sid, kind="removal", prompt="ball", user_id=ALICE, mode="ultra")
    with pytest.raises(UserFacingError, match="not an edit"):
        await plan(sid, kind="recolour", prompt="ball", user_id=ALICE)
    with pytest.raises(UserFacingError, match=r"at least|too small|300"):
        await plan(sid, kind="swap", prompt="ball", user_id=ALICE, images=[("t.png", png(100))])
    with pytest.raises(UserFacingError, match=r"damaged|cannot be read|not an image"):
        await plan(sid, kind="swap", prompt="ball", user_id=ALICE, images=[("x.png", b"nope")])

    await rig.store.update_settings(GUILD, default_mode="pro")
    assert (await plan(sid, kind="removal", prompt="ball", user_id=ALICE)).mode == "pro"
    await rig.store.update_settings(GUILD, default_mode="std", pro_allowed=False)
    with pytest.raises(UserFacingError, match="Pro mode is turned off"):
        await plan(sid, kind="removal", prompt="ball", user_id=ALICE, mode="pro")
    assert rig.calls.get("multi-elements:create", 0) == 0


async def wait_for_state(rig: Rig, job_id: str, state: JobState, limit: float = 30.0) -> None:
    async with asyncio.timeout(limit):
        while True:
            job = await rig.store.get_job(job_id)
            assert job is not None
            if job.state is state:
                return
            assert job.state is not JobState.FAILED, job.status_msg
            await asyncio.sleep(0.05)


async def runner_done(rig: Rig) -> None:
    """Wait until the runner holds no job and runs no step: nothing of it can deliver again."""
    async with asyncio.timeout(30):
        while True:
            if rig.runner.in_flight == 0 and rig.runner.steps_running == 0:
                return
            await asyncio.sleep(0.01)


async def test_submit_removal_is_delivered_once(rig: Rig) -> None:
    sid = await marked_session(rig)
    plan = await rig.service.plan_edit(sid, kind="removal", prompt="the red ball", user_id=BOB)
    job = await rig.service.submit(plan)
    session = await rig.store.get_session(sid)
    assert session is not None
    assert job.request["session_id"] == session.kling_session_id
    assert job.request["prompt"] == "Delete the red ball from <<<video_1>>>"
    assert (job.requester_id, job.session_id) == (BOB, sid)
    await wait_for_state(rig, job.id, JobState.DELIVERED)
    await runner_done(rig)  # a second delivery, if there were one, has happened by now
    assert len(rig.deliverer.calls) == 1
    delivered, video, size = rig.deliverer.calls[0]
    assert delivered.id == job.id and video is not None and size > 0
    info = await asyncio.to_thread(probe_video, video)
    assert (info.width, info.height) == (1280, 720)
    assert rig.calls["multi-elements:create"] == 1


async def test_submit_after_expiry_uses_a_renewed_session(rig: Rig) -> None:
    sid = await marked_session(rig)
    plan = await rig.service.plan_edit(sid, kind="removal", prompt="ball", user_id=ALICE)
    old = await rig.store.get_session(sid)
    await rig.runner.stop()  # only the stored request matters here
    rig.clock.advance(24 * 3600 + 5)
    job = await rig.service.submit(plan)
    new = await rig.store.get_session(sid)
    assert old is not None and new is not None
    assert new.kling_session_id != old.kling_session_id
    assert job.request["session_id"] == new.kling_session_id


async def test_quota_exceeded_is_explained_and_stores_nothing(rig: Rig) -> None:
    sid = await marked_session(rig)
    await rig.runner.stop()  # keep the first job in flight
    await rig.store.update_settings(GUILD, daily_jobs_per_member=1)
    plan = await rig.service.plan_edit(sid, kind="removal", prompt="ball", user_id=ALICE)
    await rig.service.submit(plan)
    with pytest.raises(QuotaExceededError) as error:
        await rig.service.submit(plan)
    assert "You have used all 1 of your jobs for today" in error.value.user_message
    assert "<t:" in error.value.user_message
    await rig.store.update_settings(GUILD, daily_jobs_per_member=None, concurrent_jobs_per_guild=1)
    with pytest.raises(QuotaExceededError) as error:
        await rig.service.submit(plan)
    assert "already running 1 of its 1 jobs" in error.value.user_message
    assert len(await rig.store.recent_jobs(GUILD)) == 1


async def test_jobs_folder_is_per_plan(rig: Rig) -> None:
    sid = await marked_session(rig)
    first = await rig.service.plan_edit(
        sid, kind="swap", prompt="ball", user_id=ALICE, images=[("a.png", png())]
    )
    second = await rig.service.plan_edit(
        sid, kind="swap", prompt="ball", user_id=ALICE, images=[("a.png", png(700, 500))]
    )
    assert first.image_paths[0].parent != second.image_paths[0].parent
    assert first.image_paths[0].read_bytes() != second.image_paths[0].read_bytes()


async def test_plan_and_submit_animate(rig: Rig) -> None:
    images = [("a.png", png()), ("b.webp", webp())]
    with pytest.raises(UserFacingError, match="2 to 4 images"):
        await rig.service.plan_animate(
            guild_id=GUILD, channel_id=1, user_id=ALICE, prompt="x", images=images[:1]
        )
    with pytest.raises(UserFacingError, match="not an aspect ratio"):
        await rig.service.plan_animate(
            guild_id=GUILD,
            channel_id=1,
            user_id=ALICE,
            prompt="x",
            images=images,
            aspect_ratio="4:3",
        )
    plan = await rig.service.plan_animate(
        guild_id=GUILD,
        channel_id=1,
        user_id=ALICE,
        prompt=" a cat\nwalks ",
        images=images,
        duration="10",
        aspect_ratio="1:1",
    )
    assert (plan.session_id, plan.kind, plan.prompt) == (None, "animate", "a cat walks")
    assert len(plan.image_paths) == 2 and plan.aspect_ratio == "1:1"
    await rig.runner.stop()
    job = await rig.service.submit(plan)
    assert job.request["aspect_ratio"] == "1:1" and job.request["duration"] == "10"
    assert job.request["image_paths"] == [str(p) for p in plan.image_paths]
