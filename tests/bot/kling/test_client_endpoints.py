"""Every endpoint round-trips over loopback: the server sees the documented request, the client
parses the documented answer. Also the CometAPI prefix and the emulator's missing auth."""

from __future__ import annotations

import pytest

from bot.kling import (
    CometApiProvider,
    CreateEditTask,
    CreateMultiImageTask,
    EmulatorProvider,
    NotFoundError,
    TaskStatus,
)
from tests.bot.kling.fake_kling import (
    API_KEY,
    EDIT,
    MULTI,
    SESSION_ID,
    FakeKling,
    Recorded,
    open_client,
)

POINT = (0.7738498789346246, 0.297142857142857)


def _only(fake: FakeKling) -> Recorded:
    assert len(fake.requests) == 1
    return fake.requests[0]


def _assert_json_post(record: Recorded, path: str, body: dict) -> None:
    assert record.method == "POST"
    assert record.path == path
    assert record.body == body
    assert record.headers["Authorization"] == f"Bearer {API_KEY}"
    assert record.headers["Content-Type"].startswith("application/json")


async def test_init_selection_by_url() -> None:
    fake = FakeKling()
    async with open_client(fake) as client:
        session = await client.init_selection(video_url="https://v.example/clip.mp4")
    _assert_json_post(
        _only(fake), f"{EDIT}/init-selection", {"video_url": "https://v.example/clip.mp4"}
    )
    assert session.session_id == SESSION_ID
    assert session.total_frame == 150
    assert session.fps == 30.0


async def test_init_selection_by_video_id_with_and_without_task_id() -> None:
    fake = FakeKling()
    async with open_client(fake) as client:
        await client.init_selection(video_id="vid-9", task_id="8672837")
        await client.init_selection(video_id="vid-9")
        with pytest.raises(ValueError):
            await client.init_selection(video_url="u", video_id="v")
        with pytest.raises(ValueError):
            await client.init_selection()
        with pytest.raises(ValueError):
            await client.init_selection(video_url="u", task_id="t")
    assert [r.body for r in fake.requests] == [
        {"video_id": "vid-9", "task_id": "8672837"},
        {"video_id": "vid-9"},
    ]


@pytest.mark.parametrize("action", ["add-selection", "delete-selection"])
async def test_add_and_delete_selection_send_exact_floats(action: str) -> None:
    fake = FakeKling()
    async with open_client(fake) as client:
        method = client.add_selection if action == "add-selection" else client.delete_selection
        result = await method(SESSION_ID, 0, [POINT, (0.0, 1.0)])
    expected = {
        "session_id": SESSION_ID,
        "frame_index": 0,
        "points": [{"x": POINT[0], "y": POINT[1]}, {"x": 0.0, "y": 1.0}],
    }
    _assert_json_post(_only(fake), f"{EDIT}/{action}", expected)
    assert result.frame_index == 0
    assert result.masks[0].rle_mask == {"size": [2, 3], "counts": "231"}


@pytest.mark.parametrize(
    ("frame", "points"),
    [(-1, [POINT]), (0, []), (0, [POINT] * 11), (0, [(1.2, 0.5)]), (0, [(0.5, -0.1)])],
)
async def test_bad_selection_arguments_never_reach_kling(frame: int, points: list) -> None:
    fake = FakeKling()
    async with open_client(fake) as client:
        with pytest.raises(ValueError):
            await client.add_selection(SESSION_ID, frame, points)
    assert fake.requests == []


async def test_clear_and_preview_selection() -> None:
    fake = FakeKling()
    async with open_client(fake) as client:
        cleared = await client.clear_selection(SESSION_ID)
        preview = await client.preview_selection(SESSION_ID)
    clear_req, preview_req = fake.requests
    _assert_json_post(clear_req, f"{EDIT}/clear-selection", {"session_id": SESSION_ID})
    _assert_json_post(preview_req, f"{EDIT}/preview-selection", {"session_id": SESSION_ID})
    assert cleared.masks == ()
    assert preview.video == "https://cdn.example/preview.mp4"
    assert preview.video_cover == "https://cdn.example/cover.jpg"


async def test_create_edit_task_sends_a_fresh_external_id() -> None:
    fake = FakeKling()
    request = CreateEditTask(
        session_id=SESSION_ID,
        edit_mode="swap",
        images=["https://img.example/cat.png"],
        prompt="swap the cat from <<<image_1>>> for the dog from <<<video_1>>>",
    )
    async with open_client(fake) as client:
        task = await client.create_edit_task(request)
    record = _only(fake)
    external_id = record.body["external_task_id"]
    assert len(external_id) == 32
    assert int(external_id, 16) >= 0
    _assert_json_post(record, EDIT, {**request.to_body(), "external_task_id": external_id})
    assert record.body["image_list"] == [{"image": "https://img.example/cat.png"}]
    assert task.status is TaskStatus.SUBMITTED
    assert task.external_task_id == external_id
    assert task.task_id == fake.tasks[EDIT][0]["task_id"]


async def test_create_keeps_the_callers_external_id() -> None:
    fake = FakeKling()
    request = CreateEditTask(
        session_id=SESSION_ID, edit_mode="removal", prompt="Delete the chick from <<<video_1>>>"
    )
    async with open_client(fake) as client:
        await client.create_edit_task(request.with_external_task_id("job-42"))
    assert _only(fake).body["external_task_id"] == "job-42"


async def test_get_and_list_edit_tasks() -> None:
    fake = FakeKling()
    async with open_client(fake) as client:
        created = await client.create_edit_task(
            CreateEditTask(
                session_id=SESSION_ID, edit_mode="removal", prompt="Delete <<<video_1>>>"
            )
        )
        by_id = await client.get_edit_task(task_id=created.task_id)
        page = await client.list_edit_tasks(page_num=2, page_size=50)
        with pytest.raises(ValueError):
            await client.list_edit_tasks(page_size=501)
        with pytest.raises(ValueError):
            await client.get_edit_task()
    get_req, list_req = fake.requests[1:]
    assert (get_req.method, get_req.path, get_req.body) == (
        "GET",
        f"{EDIT}/{created.task_id}",
        None,
    )
    assert get_req.headers["Authorization"] == f"Bearer {API_KEY}"
    assert (list_req.path, list_req.query) == (EDIT, {"pageNum": "2", "pageSize": "50"})
    assert by_id.status is TaskStatus.SUCCEEDED
    assert by_id.videos[0].url == "https://cdn.example/result.mp4"
    assert by_id.videos[0].duration == 5.1
    assert [t.task_id for t in page.tasks] == [created.task_id]
    assert (page.page_num, page.page_size) == (2, 50)


@pytest.mark.parametrize(
    ("understood", "expected_requests"),
    [
        # the documented "path parameter" reading: one request
        ({"path"}, [("GET", f"{EDIT}/job-7", {})]),
        # only the query reading: the path form 404s, then the query form answers
        (
            {"query"},
            [("GET", f"{EDIT}/job-7", {}), ("GET", EDIT, {"external_task_id": "job-7"})],
        ),
        # neither: the query parameter is ignored and the list page is searched
        (
            set(),
            [("GET", f"{EDIT}/job-7", {}), ("GET", EDIT, {"external_task_id": "job-7"})],
        ),
    ],
)
async def test_get_by_external_id_under_both_readings_of_the_docs(
    understood: set[str], expected_requests: list[tuple]
) -> None:
    fake = FakeKling(external_lookup=frozenset(understood))
    request = CreateEditTask(
        session_id=SESSION_ID,
        edit_mode="removal",
        prompt="Delete <<<video_1>>>",
        external_task_id="job-7",
    )
    async with open_client(fake) as client:
        created = await client.create_edit_task(request)
        fake.requests.clear()
        found = await client.get_edit_task(external_task_id="job-7")
    assert found.task_id == created.task_id
    assert found.external_task_id == "job-7"
    assert [(r.method, r.path, r.query) for r in fake.requests] == expected_requests


async def test_get_by_unknown_external_id_is_not_found() -> None:
    fake = FakeKling()
    async with open_client(fake) as client:
        with pytest.raises(NotFoundError):
            await client.get_edit_task(external_task_id="nope")
        assert await client.find_task_by_external_id(EDIT, "nope") is None


async def test_multi_image_create_get_and_list() -> None:
    fake = FakeKling()
    request = CreateMultiImageTask(
        images=["https://img.example/dog.png", "aGVsbG8="],
        prompt="A dog in a red jacket",
        aspect_ratio="9:16",
        duration=10,
    )
    async with open_client(fake) as client:
        created = await client.create_multi_image_task(request)
        by_id = await client.get_multi_image_task(task_id=created.task_id)
        by_external = await client.get_multi_image_task(external_task_id=created.external_task_id)
        page = await client.list_multi_image_tasks()
    create_req = fake.requests[0]
    external_id = create_req.body["external_task_id"]
    _assert_json_post(create_req, MULTI, {**request.to_body(), "external_task_id": external_id})
    assert create_req.body["duration"] == "10"
    assert by_id.task_id == by_external.task_id == created.task_id
    assert fake.requests[1].path == f"{MULTI}/{created.task_id}"
    assert fake.requests[-1].query == {"pageNum": "1", "pageSize": "30"}
    assert [t.task_id for t in page.tasks] == [created.task_id]


async def test_cometapi_prefixes_every_path_and_sends_its_key() -> None:
    fake = FakeKling(prefix="/kling")
    provider = CometApiProvider(api_key="comet-key-abcdef123456")
    async with open_client(fake, provider) as client:
        session = await client.init_selection(video_url="https://v.example/a.mp4")
        await client.add_selection(session.session_id, 3, [POINT])
        task = await client.create_edit_task(
            CreateEditTask(
                session_id=SESSION_ID, edit_mode="removal", prompt="Delete <<<video_1>>>"
            )
        )
        await client.get_edit_task(task_id=task.task_id)
    assert [r.path for r in fake.requests] == [
        f"{EDIT}/init-selection",
        f"{EDIT}/add-selection",
        EDIT,
        f"{EDIT}/{task.task_id}",
    ]  # the fake strips "/kling" and 404s anything outside it
    assert {r.headers["Authorization"] for r in fake.requests} == {"Bearer comet-key-abcdef123456"}


async def test_emulator_provider_sends_a_placeholder_bearer() -> None:
    # A served emulator refuses requests without the header, as Kling does; it takes any token.
    fake = FakeKling()
    async with open_client(fake, EmulatorProvider(base_url="http://unused")) as client:
        await client.init_selection(video_url="https://v.example/a.mp4")
    assert _only(fake).headers["Authorization"] == "Bearer kling-bot-emulator"
