"""Response parsers and request bodies, against the documented shapes (reference §2, §6)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.kling.models import (
    CreateEditTask,
    CreateMultiImageTask,
    EditMode,
    MaskObject,
    PreviewResult,
    SelectionResult,
    SelectionSession,
    Task,
    TaskPage,
    TaskStatus,
)
from tests.bot.kling.fake_kling import SESSION_ID, selection_data, task_view


def test_init_selection_parses_the_documented_payload() -> None:
    session = SelectionSession.from_payload(selection_data("init-selection"))
    assert session.session_id == SESSION_ID
    assert session.status == 0
    assert session.fps == 30.0
    assert session.original_duration == 5000
    assert (session.width, session.height, session.total_frame) == (1280, 720, 150)
    assert session.normalized_video == "https://cdn.example/normalized.mp4"
    assert session.final_unit_deduction == 0.5
    assert session.final_balance_deduction is not None
    assert session.final_balance_deduction.list_price == 0.07


def test_numbers_sent_as_strings_and_unknown_fields_are_accepted() -> None:
    session = SelectionSession.from_payload(
        {
            "session_id": 847570360458960960,  # a number instead of a string
            "status": "0",
            "fps": "30.0",
            "original_duration": "5000",
            "total_frame": "150.0",
            "width": "720",
            "brand_new_field": {"nested": True},
        }
    )
    assert session.session_id == "847570360458960960"
    assert session.fps == 30.0
    assert session.total_frame == 150
    assert session.width == 720
    assert session.height is None
    assert session.normalized_video is None
    assert session.final_balance_deduction is None


def test_init_without_session_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="session_id"):
        SelectionSession.from_payload({"status": 0, "fps": 30})


def test_selection_result_keeps_masks_and_frame() -> None:
    result = SelectionResult.from_payload(selection_data("add-selection"))
    assert result.frame_index == 0
    assert result.masks == (
        MaskObject(
            object_id=0,
            rle_mask={"size": [2, 3], "counts": "231"},
            png_mask={"size": [2, 3], "base64": "iVBORw0KGgo="},
        ),
    )


def test_clear_selection_result_has_no_masks() -> None:
    result = SelectionResult.from_payload(selection_data("clear-selection"))
    assert result.masks == ()
    assert result.frame_index is None


def test_mask_without_png_and_with_string_object_id() -> None:
    mask = MaskObject.from_payload({"object_id": "2", "rle_mask": {"size": [4, 4], "counts": "0"}})
    assert mask.object_id == 2
    assert mask.png_mask is None


def test_mask_without_counts_is_rejected() -> None:
    with pytest.raises(ValueError):
        MaskObject.from_payload({"object_id": 1, "rle_mask": {"size": [4, 4]}})


def test_preview_result_urls() -> None:
    preview = PreviewResult.from_payload(selection_data("preview-selection"))
    assert preview.video == "https://cdn.example/preview.mp4"
    assert preview.video_cover == "https://cdn.example/cover.jpg"
    assert preview.tracking_output == "https://cdn.example/tracking.json"


def test_task_parses_the_documented_query_payload() -> None:
    payload = task_view({"task_id": "867283741759111202", "external_task_id": "job-1"})
    task = Task.from_payload(payload)
    assert task.task_id == "867283741759111202"
    assert task.status is TaskStatus.SUCCEEDED
    assert task.status.is_terminal
    assert task.external_task_id == "job-1"
    assert task.final_unit_deduction == 5.0
    assert (task.created_at, task.updated_at) == (1774805076166, 1774805176166)
    assert task.watermark_enabled is False
    (video,) = task.videos
    assert video.url == "https://cdn.example/result.mp4"
    assert video.watermark_url == "https://cdn.example/result-wm.mp4"
    assert video.duration == 5.1
    assert video.session_id == SESSION_ID
    assert task.raw["task_result"]["videos"][0]["id"] == "vid-1"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("submitted", TaskStatus.SUBMITTED),
        ("processing", TaskStatus.PROCESSING),
        ("succeed", TaskStatus.SUCCEEDED),
        ("succeeded", TaskStatus.SUCCEEDED),
        ("SUCCEED", TaskStatus.SUCCEEDED),
        ("failed", TaskStatus.FAILED),
        ("something-new", TaskStatus.PROCESSING),
        (None, TaskStatus.PROCESSING),
    ],
)
def test_task_status_spellings(text: str | None, status: TaskStatus) -> None:
    assert TaskStatus.parse(text) is status


def test_failed_task_keeps_the_reason_and_tolerates_missing_result() -> None:
    task = Task.from_payload(
        {
            "task_id": 5,
            "task_status": "failed",
            "task_status_msg": "Failure to pass the risk control system",
            "created_at": "1722769557708",
        }
    )
    assert task.task_id == "5"
    assert task.status is TaskStatus.FAILED
    assert task.status_msg == "Failure to pass the risk control system"
    assert task.videos == ()
    assert task.created_at == 1722769557708
    assert task.external_task_id is None
    assert task.final_unit_deduction is None


def test_task_models_are_frozen() -> None:
    task = Task.from_payload({"task_id": "1", "task_status": "submitted"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.task_id = "2"  # type: ignore[misc]


def test_task_page_reads_a_bare_array() -> None:
    page = TaskPage.from_payload(
        [{"task_id": "1", "task_status": "succeed"}, {"task_id": "2", "task_status": "processing"}],
        page_num=2,
        page_size=30,
    )
    assert [t.task_id for t in page.tasks] == ["1", "2"]
    assert page.page_num == 2


def test_edit_task_body_matches_the_documented_example() -> None:
    request = CreateEditTask(
        session_id=SESSION_ID,
        edit_mode="removal",
        prompt="Delete the chick from <<<video_1>>>",
        external_task_id="job-1",
    )
    assert request.to_body() == {
        "model_name": "kling-v1-6",
        "session_id": SESSION_ID,
        "edit_mode": "removal",
        "prompt": "Delete the chick from <<<video_1>>>",
        "mode": "std",
        "duration": "5",
        "external_task_id": "job-1",
    }


def test_edit_task_body_with_every_option() -> None:
    request = CreateEditTask(
        session_id=SESSION_ID,
        edit_mode=EditMode.ADDITION,
        prompt="Using the context of <<<video_1>>>, seamlessly add the hat from <<<image_1>>>",
        images=["https://img.example/hat.png", "aGF0"],
        negative_prompt="blur",
        mode="pro",
        duration=10,
        callback_url="https://bot.example/kling",
        watermark_enabled=True,
    )
    body = request.to_body()
    assert body["image_list"] == [{"image": "https://img.example/hat.png"}, {"image": "aGF0"}]
    assert body["duration"] == "10"
    assert body["mode"] == "pro"
    assert body["watermark_info"] == {"enabled": True}
    assert body["callback_url"] == "https://bot.example/kling"
    assert body["negative_prompt"] == "blur"
    assert "external_task_id" not in body
    assert request.with_external_task_id("x").to_body()["external_task_id"] == "x"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"edit_mode": "replace"}, "edit_mode"),
        ({"edit_mode": "swap", "images": []}, "swap takes 1-1"),
        ({"edit_mode": "addition", "images": ["a", "b", "c"]}, "addition takes 1-2"),
        ({"images": ["a"]}, "removal takes 0-0"),
        ({"duration": "7"}, "duration"),
        ({"mode": "turbo"}, "mode"),
        ({"prompt": "  "}, "prompt"),
        ({"prompt": "x" * 2501}, "2501"),
        ({"session_id": ""}, "session_id"),
    ],
)
def test_edit_task_refuses_what_the_docs_forbid(changes: dict, message: str) -> None:
    fields = {"session_id": SESSION_ID, "edit_mode": "removal", "prompt": "Delete <<<video_1>>>"}
    with pytest.raises(ValueError, match=message):
        CreateEditTask(**{**fields, **changes})


def test_multi_image_body_matches_the_documented_example() -> None:
    request = CreateMultiImageTask(
        images=["https://img.example/dog.png", "https://img.example/dog_cloth.png"],
        prompt="A white Bichon Frise wearing a red jacket",
        mode="pro",
        duration="5",
        aspect_ratio="16:9",
        external_task_id="job-2",
    )
    assert request.to_body() == {
        "model_name": "kling-v1-6",
        "image_list": [
            {"image": "https://img.example/dog.png"},
            {"image": "https://img.example/dog_cloth.png"},
        ],
        "prompt": "A white Bichon Frise wearing a red jacket",
        "mode": "pro",
        "duration": "5",
        "aspect_ratio": "16:9",
        "external_task_id": "job-2",
    }


@pytest.mark.parametrize(
    "changes",
    [{"images": []}, {"images": ["a"] * 5}, {"aspect_ratio": "4:3"}, {"duration": 6}],
)
def test_multi_image_refuses_what_the_docs_forbid(changes: dict) -> None:
    with pytest.raises(ValueError):
        CreateMultiImageTask(**{"images": ["a"], "prompt": "p", **changes})
