"""Fault matrix, selection side: init/add/delete/clear/preview-selection and the edit create call,
driven through the real EditingService (what the Discord buttons and commands call).

Each case asserts the message the user would be shown (the error's `user_message`), which calls
were repeated (emulator counts), and that the bot's stored session and points are exactly as
before whenever the action failed. After add/delete/clear-selection, whose lost answers leave
Kling's clicks unknown, the next mark is checked too: Kling then holds exactly the stored points (a
session marked unsure is renewed and the points replayed first).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.editing import EditingService, SubmitPlan
from bot.editing.renewal import masks_of
from bot.jobs import JobRunner, KlingTaskBackend
from bot.kling import KlingClient, make_provider
from bot.kling.emulator import KlingEmulator
from bot.kling.errors import error_for
from bot.storage import JobKind, JobState, Store
from tests.bot.editing.conftest import ALICE, CHANNEL, GUILD, FileServer, file_server, scene_video
from tests.faults.matrix import record
from tests.faults.world import FAST_RETRY, FAST_RUNNER, RecordingDeliverer, settled_job

__all__ = ["file_server", "scene_video"]  # fixtures, imported for pytest

# A case that is not about time gets a time limit no busy machine reaches.
GENEROUS_S = 30.0
# In a timeout case the hung call is held by the emulator until the test releases it, so the
# client's limit alone decides when it gives up; only the normal calls around it (set-up, the
# retry) must finish within the limit. A preview renders a clip, which a loaded machine slows most.
HUNG_LIMIT_S = 3.0
HUNG_PREVIEW_LIMIT_S = 10.0
NETWORK = "The bot could not reach Kling; please try again later."
UNREADABLE = "Kling sent an unreadable answer; please try again later."
REJECTED_SELECTION = "Kling could not use that selection; try marking the object differently."
REJECTED_INIT = (
    "Kling could not use this video; it needs 2-5 s or 7-10 s, 720-2160 px sides, 24/30/60 fps."
)


@dataclass
class EditRig:
    service: EditingService
    store: Store
    emulator: KlingEmulator
    runner: JobRunner
    video: Path
    video_url: str

    async def open(self) -> int:
        board = await self.service.open_session(
            guild_id=GUILD,
            channel_id=CHANNEL,
            user_id=ALICE,
            video=self.video,
            video_url=self.video_url,
        )
        return board.session_id

    async def snapshot(self) -> tuple[Any, ...]:
        """What the bot stores about this channel's session: compared before and after."""
        session = await self.store.get_active_session(GUILD, CHANNEL)
        if session is None:
            return (None,)
        points = await self.store.list_points(session.id)
        masks = [await self.store.get_frame_masks(session.id, f) for f in (0, 5)]
        return (
            session.id,
            session.kling_session_id,
            session.current_frame,
            [(p.id, p.frame_index, p.x, p.y) for p in points],
            masks,
        )


@contextlib.asynccontextmanager
async def edit_rig(
    tmp: Path, scene: Path, files: FileServer, time_limit_s: float = GENEROUS_S
) -> AsyncIterator[EditRig]:
    video = files.root / "scene.mp4"
    shutil.copyfile(scene, video)
    emulator = KlingEmulator(seconds_per_stage=0.0, work_dir=tmp / "emu")
    async with emulator, aiohttp.ClientSession() as http:
        client = KlingClient(
            http,
            make_provider("emulator", base_url=emulator.base_url),
            total_timeout=time_limit_s,
            retry=FAST_RETRY,
            reconcile_delay=0.0,
        )
        store = await Store.open(tmp / "bot.sqlite3")
        runner = JobRunner(
            store,
            KlingTaskBackend(client),
            RecordingDeliverer(),
            media_dir=tmp / "media",
            http=http,
            config=FAST_RUNNER,
        )
        service = EditingService(store, client, runner, http=http, media_dir=tmp / "media")
        await runner.start()
        try:
            yield EditRig(service, store, emulator, runner, video, files.url_for(video))
        finally:
            await runner.stop()
            await store.close()


FAULTS = (
    "code 1201",
    "code 1301",
    "code 1303",
    "code 5000",
    "code 1203",
    "reject",
    "timeout",
    "drop",
    "html 502",
    "truncated json 200",
)
IDEMPOTENT = {"init-selection", "clear-selection", "preview-selection"}
RETRYABLE_EVERYWHERE = {"code 1303"}  # certainly not acted on: safe even for add/delete
RETRYABLE_IF_IDEMPOTENT = {"code 5000", "timeout", "drop", "html 502"}
# Answers lost after the request may have reached Kling: add/delete may have changed its clicks.
OUTCOME_UNKNOWN = {"code 5000", "timeout", "drop", "html 502", "truncated json 200"}
CHANGING = {"add-selection", "delete-selection"}


def time_limit(endpoint: str, fault: str) -> float:
    if fault != "timeout":
        return GENEROUS_S
    return HUNG_PREVIEW_LIMIT_S if endpoint == "preview-selection" else HUNG_LIMIT_S


def inject(emulator: KlingEmulator, endpoint: str, fault: str) -> None:
    faults = emulator.faults
    if fault.startswith("code "):
        faults.fail(endpoint, int(fault.removeprefix("code ")))
    elif fault == "reject":
        faults.reject(endpoint)
    elif fault == "timeout":
        faults.stall(endpoint)  # the first call hangs until the test lets it go on
    elif fault == "drop":
        faults.drop(endpoint)
    elif fault == "html 502":
        faults.malformed(endpoint, "html")
    else:
        faults.malformed(endpoint, "truncated_json")


def expected_failure(endpoint: str, fault: str) -> str | None:
    """The message the user sees, or None when the bot recovers by itself."""
    if fault in RETRYABLE_EVERYWHERE:
        return None
    if fault in RETRYABLE_IF_IDEMPOTENT and endpoint in IDEMPOTENT:
        return None
    if fault == "code 1203" and endpoint != "init-selection":
        return None  # an expired Kling session is renewed and the points replayed
    if fault.startswith("code "):
        return error_for(None, int(fault.removeprefix("code ")), None, None).user_message
    if fault == "reject":
        return REJECTED_INIT if endpoint == "init-selection" else REJECTED_SELECTION
    if fault in ("timeout", "drop"):
        return NETWORK
    return UNREADABLE


async def act(rig: EditRig, endpoint: str, session_id: int | None) -> None:
    service = rig.service
    if endpoint == "init-selection":
        await rig.open()
    elif endpoint == "add-selection":
        assert session_id is not None
        await service.mark(session_id, points="0.72,0.35", user_id=ALICE, frame=5)
    elif endpoint == "delete-selection":
        assert session_id is not None
        await service.undo(session_id, user_id=ALICE)
    elif endpoint == "clear-selection":
        assert session_id is not None
        await service.clear(session_id, user_id=ALICE)
    else:
        assert session_id is not None
        await service.preview(session_id)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(
    "endpoint",
    ("init-selection", "add-selection", "delete-selection", "clear-selection", "preview-selection"),
)
async def test_selection_fault(
    tmp_path: Path, scene_video: Path, file_server: FileServer, endpoint: str, fault: str
) -> None:
    async with edit_rig(tmp_path, scene_video, file_server, time_limit(endpoint, fault)) as rig:
        session_id = None
        if endpoint != "init-selection":
            session_id = await rig.open()
            await rig.service.mark(session_id, points="C4", user_id=ALICE, frame=5)
        before = await rig.snapshot()
        calls_before = rig.emulator.faults.calls[endpoint]
        inject(rig.emulator, endpoint, fault)
        wanted = expected_failure(endpoint, fault)
        shown: str | None = None
        try:
            await act(rig, endpoint, session_id)
        except Exception as error:
            shown = getattr(error, "user_message", None)
            assert shown is not None, f"unexpected {error!r}"
        after = await rig.snapshot()
        calls = rig.emulator.faults.calls[endpoint] - calls_before
        inits = rig.emulator.faults.calls["init-selection"]
        if fault == "timeout":
            await finish_late_request(rig.emulator, endpoint)
        unsure_left = await selection_unsure(rig)
        if endpoint in CHANGING or endpoint == "clear-selection":
            # Unsure exactly when the answer was lost (a failed clear, which the client may have
            # repeated, always); the next mark repairs it by replaying the stored points.
            lost = fault in OUTCOME_UNKNOWN or endpoint == "clear-selection"
            assert unsure_left == (wanted is not None and lost)
            renewed = await assert_next_mark_in_step(rig, session_id)
            assert renewed == unsure_left
    assert shown == wanted
    if wanted is not None:
        assert after == before, "a failed action changed the stored session"
        repeated = fault in RETRYABLE_IF_IDEMPOTENT and endpoint in IDEMPOTENT
        assert calls == (4 if repeated else 1)  # only calls safe to repeat were repeated
        result = f"told: {wanted}"
        if unsure_left:
            result = f"told; next action replays: {wanted}"
    elif fault == "code 1203":
        assert inits == 2  # a new Kling session; the stored points were replayed into it
        assert calls >= 2
        result = "recovered (session renewed, points replayed)"
    else:
        assert calls == 2
        result = "recovered"
    record(fault, endpoint, result, f"{endpoint}×{calls}, init×{inits}", 0)


async def finish_late_request(emulator: KlingEmulator, endpoint: str) -> None:
    """The client gave up while Kling still held the call (a timeout, not an answer); now let
    that late request reach Kling and wait until Kling has done all it does with it."""
    assert emulator.faults.held == 1
    emulator.faults.release()
    async with asyncio.timeout(60):
        await emulator.faults.settled(endpoint)


async def selection_unsure(rig: EditRig) -> bool:
    session = await rig.store.get_active_session(GUILD, CHANNEL)
    return session is not None and session.selection_unsure


async def assert_next_mark_in_step(rig: EditRig, session_id: int | None) -> bool:
    """Mark once more; Kling's session then holds exactly the stored points and the board's
    masks are what Kling gives for exactly those clicks. True when the mark renewed first."""
    assert session_id is not None
    inits = rig.emulator.faults.calls["init-selection"]
    board = await rig.service.mark(session_id, points="0.72,0.35", user_id=ALICE, frame=5)
    renewed = rig.emulator.faults.calls["init-selection"] == inits + 1
    session = await rig.store.get_session(session_id)
    assert session is not None and not session.selection_unsure
    points = await rig.store.list_points(session_id)
    stored = Counter((p.frame_index, p.x, p.y) for p in points)
    held = rig.emulator.store.sessions[session.kling_session_id or ""].clicks
    assert Counter((f, c.x, c.y) for f, clicks in held.items() for c in clicks) == stored
    on_frame = [(p.x, p.y) for p in points if p.frame_index == 5]
    assert [(p.x, p.y) for p in board.points_on_frame] == on_frame
    # A Kling session given exactly the stored clicks draws exactly the stored masks (object
    # ids aside: Kling never reuses the id of an object that was undone).
    client = rig.service.client
    reference = await client.init_selection(video_url=rig.video_url)
    answer = await client.add_selection(reference.session_id, 5, on_frame)
    stored_masks = await rig.store.get_frame_masks(session_id, 5)
    assert [m["rle_mask"] for m in stored_masks] == [m["rle_mask"] for m in masks_of(answer)]
    return renewed


@pytest.mark.parametrize("fault", ("timeout", "drop", "5000 after create", "code 1301"))
async def test_edit_submit_fault(
    tmp_path: Path, scene_video: Path, file_server: FileServer, fault: str
) -> None:
    endpoint = "multi-elements:create"
    async with edit_rig(tmp_path, scene_video, file_server, time_limit(endpoint, fault)) as rig:
        session_id = await rig.open()
        await rig.service.mark(session_id, points="C4", user_id=ALICE, frame=5)
        if fault == "5000 after create":
            rig.emulator.faults.fail(endpoint, 5000, after_handler=True)
        else:
            inject(rig.emulator, endpoint, fault)
        plan = SubmitPlan(
            session_id=session_id,
            guild_id=GUILD,
            channel_id=CHANNEL,
            requester_id=ALICE,
            kind=JobKind.EDIT_REMOVAL.value,
            prompt="Remove the marked object from <<<video_1>>>.",
            negative_prompt=None,
            mode="std",
            duration="5",
            image_paths=(),
        )
        job = await rig.service.submit(plan)
        done = await settled_job(rig.store, job.id)
        tasks = [t for t in rig.emulator.store.tasks.values() if t.external_task_id == job.id]
        creates = rig.emulator.faults.calls[endpoint]
        if fault == "timeout":
            await finish_late_request(rig.emulator, endpoint)
            # The late first request, carried out after the resend, found the id taken.
            assert len(rig.emulator.store.tasks) == 1
    if fault == "code 1301":
        assert done.state is JobState.FAILED and creates == 1 and tasks == []
        assert done.status_msg == error_for(None, 1301, None, None).user_message
        result = f"failed: {done.status_msg}"
    else:
        assert done.state is JobState.DELIVERED and len(tasks) == 1
        assert creates == (1 if fault == "5000 after create" else 2)
        result = "delivered once"
    record(fault, "create (edit)", result, f"create×{creates}", len(tasks))
