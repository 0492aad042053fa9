"""From a stored job to the exact create call: every field of the job's request reaches Kling,
the defaults fill what an older request lacks, and each job gets its own callback URL."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.jobs import KlingTaskBackend, animate_request, edit_request
from bot.kling.client import EDIT_PATH, MULTI_IMAGE_PATH
from bot.kling.errors import InvalidInputError
from bot.kling.models import Task, TaskStatus
from bot.kling.task_requests import CreateEditTask, CreateMultiImageTask
from bot.storage import Job, JobKind, NewJob, Store


class RecordingClient:
    """Stands in for KlingClient: records each call and answers with a submitted task."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def _task(self) -> Task:
        return Task("t-1", TaskStatus.SUBMITTED, None, None, (), None, None, None)

    async def create_edit_task(self, request: CreateEditTask) -> Task:
        self.calls.append(("edit", request))
        return self._task()

    async def create_multi_image_task(self, request: CreateMultiImageTask) -> Task:
        self.calls.append(("animate", request))
        return self._task()

    async def find_task_by_external_id(self, base_path: str, external_task_id: str) -> None:
        self.calls.append(("find", (base_path, external_task_id)))

    async def get_edit_task(self, *, task_id: str) -> Task:
        self.calls.append(("get_edit", task_id))
        return self._task()

    async def get_multi_image_task(self, *, task_id: str) -> Task:
        self.calls.append(("get_animate", task_id))
        return self._task()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


async def _job(store: Store, kind: JobKind, request: dict[str, Any]) -> Job:
    return await store.create_job(NewJob(kind, 1, 2, 3, request))


def _png(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())
    return path


async def test_every_animate_field_reaches_kling(store: Store, tmp_path: Path) -> None:
    images = [_png(tmp_path, "a.png"), _png(tmp_path, "b.png")]
    request = animate_request(
        prompt="two dogs play",
        image_paths=images,
        negative_prompt="blurry",
        mode="pro",
        duration="10",
        aspect_ratio="9:16",
    )
    job = await _job(store, JobKind.ANIMATE, request)
    client = RecordingClient()
    backend = KlingTaskBackend(
        client,  # type: ignore[arg-type]
        callback_url=lambda j: f"https://bot.example/kling/{j.id}",
    )
    await backend.create(job)
    [(call, sent)] = client.calls
    assert call == "animate"
    assert (sent.prompt, sent.negative_prompt, sent.mode, sent.duration, sent.aspect_ratio) == (
        "two dogs play",
        "blurry",
        "pro",
        "10",
        "9:16",
    )
    assert sent.external_task_id == job.id
    assert sent.callback_url == f"https://bot.example/kling/{job.id}"
    assert [base64.b64decode(i) for i in sent.images] == [p.read_bytes() for p in images]


async def test_every_edit_field_reaches_kling(store: Store, tmp_path: Path) -> None:
    ref = _png(tmp_path, "ref.png")
    request = edit_request(
        kling_session_id="s-1",
        kind=JobKind.EDIT_SWAP,
        prompt="swap it",
        negative_prompt="no text",
        mode="pro",
        duration=10,
        image_paths=[ref],
    )
    job = await _job(store, JobKind.EDIT_SWAP, request)
    client = RecordingClient()
    backend = KlingTaskBackend(client, callback_url="https://bot.example/kling")  # type: ignore[arg-type]
    await backend.create(job)
    [(call, sent)] = client.calls
    assert call == "edit"
    assert (sent.session_id, sent.edit_mode, sent.prompt, sent.negative_prompt) == (
        "s-1",
        "swap",
        "swap it",
        "no text",
    )
    assert (sent.mode, sent.duration, sent.external_task_id) == ("pro", "10", job.id)
    assert sent.callback_url == "https://bot.example/kling"
    assert [base64.b64decode(i) for i in sent.images] == [ref.read_bytes()]


async def test_an_older_request_gets_the_defaults(store: Store, tmp_path: Path) -> None:
    image = str(_png(tmp_path, "a.png"))
    animate = await _job(store, JobKind.ANIMATE, {"prompt": "p", "image_paths": [image]})
    edit = await _job(store, JobKind.EDIT_REMOVAL, {"session_id": "s", "prompt": "remove it"})
    client = RecordingClient()
    backend = KlingTaskBackend(client)  # type: ignore[arg-type]
    await backend.create(animate)
    await backend.create(edit)
    [(_, sent_animate), (_, sent_edit)] = client.calls
    assert (sent_animate.negative_prompt, sent_animate.mode, sent_animate.duration) == (
        None,
        "std",
        "5",
    )
    assert (sent_animate.aspect_ratio, sent_animate.callback_url) == ("16:9", None)
    assert (sent_edit.edit_mode, sent_edit.negative_prompt, sent_edit.mode, sent_edit.duration) == (
        "removal",
        None,
        "std",
        "5",
    )


async def test_lookups_and_polls_use_the_job_s_endpoint(store: Store) -> None:
    animate = await _job(store, JobKind.ANIMATE, {"prompt": "p", "image_paths": []})
    edit = await _job(store, JobKind.EDIT_REMOVAL, {"session_id": "s", "prompt": "remove"})
    client = RecordingClient()
    backend = KlingTaskBackend(client)  # type: ignore[arg-type]
    assert await backend.find(animate) is None
    assert await backend.find(edit) is None
    assert client.calls == [
        ("find", (MULTI_IMAGE_PATH, animate.id)),
        ("find", (EDIT_PATH, edit.id)),
    ]
    with pytest.raises(ValueError, match="has no Kling task id yet"):
        await backend.get(edit)


async def test_a_missing_reference_image_is_named(store: Store, tmp_path: Path) -> None:
    request = edit_request(
        kling_session_id="s",
        kind=JobKind.EDIT_ADDITION,
        prompt="add it",
        image_paths=[tmp_path / "gone.png"],
    )
    job = await _job(store, JobKind.EDIT_ADDITION, request)
    with pytest.raises(InvalidInputError) as info:
        await KlingTaskBackend(RecordingClient()).create(job)  # type: ignore[arg-type]
    assert info.value.user_message == "A reference image of this job is missing on the bot's disk."
    assert info.value.kling_message == "reference image unreadable: FileNotFoundError"


def test_only_edits_have_an_edit_request() -> None:
    with pytest.raises(ValueError) as info:
        edit_request(kling_session_id="s", kind=JobKind.ANIMATE, prompt="p")
    assert str(info.value) == f"{JobKind.ANIMATE} is not an edit"
