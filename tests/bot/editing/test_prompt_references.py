"""Only the inputs a job has may be named in its prompt: `<<<video_1>>>` for an edit and
`<<<image_1>>>`…`<<<image_N>>>` for the N images attached, in templates and written-out prompts."""

from __future__ import annotations

import pytest

from bot.editing import planning
from bot.errors import UserFacingError
from bot.storage import JobKind

REMOVAL, SWAP, ADDITION = JobKind.EDIT_REMOVAL, JobKind.EDIT_SWAP, JobKind.EDIT_ADDITION


@pytest.mark.parametrize(
    ("kind", "prompt", "images", "named"),
    [
        # Template branch: the member's words go into Kling's prompt, tokens and all.
        (REMOVAL, "the car <<<image_9>>>", 0, "<<<image_9>>>"),
        (REMOVAL, "the car <<<image_1>>>", 0, "<<<image_1>>>"),
        (SWAP, "the car with <<<video_2>>>", 1, "<<<video_2>>>"),
        (ADDITION, "a hat from <<<image_3>>>", 2, "<<<image_3>>>"),
        (ADDITION, "a hat <<<image_0>>>", 2, "<<<image_0>>>"),
        (REMOVAL, "the car <<<audio_1>>>", 0, "<<<audio_1>>>"),
        (REMOVAL, "the car <<<Video_1>>>", 0, "<<<Video_1>>>"),
        # Written-out branch (the member wrote <<<video_1>>> themselves).
        (REMOVAL, "Delete the car from <<<video_1>>> and <<<video_2>>>", 0, "<<<video_2>>>"),
        (
            SWAP,
            "swap <<<image_1>>> for the car in <<<video_1>>>, like <<<image_9>>>",
            1,
            "<<<image_9>>>",
        ),
        (ADDITION, "add <<< image_1 >>> to <<<video_1>>>", 1, "<<< image_1 >>>"),
    ],
)
def test_a_token_that_names_no_input_is_refused_by_name(
    kind: JobKind, prompt: str, images: int, named: str
) -> None:
    with pytest.raises(UserFacingError) as info:
        planning.build_prompt(kind, prompt, image_count=images)
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("kind", "prompt", "images", "expected"),
    [
        (REMOVAL, "the car", 0, "Delete the car from <<<video_1>>>"),
        (SWAP, "the car", 1, "swap the subject from <<<image_1>>> for the car from <<<video_1>>>"),
        (
            ADDITION,
            "Using <<<video_1>>>, add <<<image_1>>> and <<<image_2>>>",
            2,
            "Using <<<video_1>>>, add <<<image_1>>> and <<<image_2>>>",
        ),
        (REMOVAL, "the arrow << >> sign", 0, "Delete the arrow << >> sign from <<<video_1>>>"),
    ],
)
def test_tokens_that_name_real_inputs_pass(
    kind: JobKind, prompt: str, images: int, expected: str
) -> None:
    assert planning.build_prompt(kind, prompt, image_count=images) == expected


def test_the_list_of_allowed_tokens_is_offered() -> None:
    with pytest.raises(UserFacingError) as info:
        planning.build_prompt(ADDITION, "a hat <<<mask_1>>>", image_count=2)
    text = str(info.value)
    assert all(f"`{t}`" in text for t in ("<<<video_1>>>", "<<<image_1>>>", "<<<image_2>>>"))


def test_a_long_bad_token_is_quoted_only_in_part() -> None:
    token = "<<<" + "x" * 3000 + ">>>"
    with pytest.raises(UserFacingError) as info:
        planning.build_prompt(REMOVAL, f"the car {token}", image_count=0)
    assert "<<<xxx" in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("prompt", "images", "named"),
    [
        ("the cards fly into <<<video_1>>>", 2, "<<<video_1>>>"),  # animate has no video
        ("<<<image_1>>> melts into <<<image_3>>>", 2, "<<<image_3>>>"),
        ("<<<image_4>>> last", 3, "<<<image_4>>>"),
    ],
)
def test_animate_prompts_name_only_the_images_given(prompt: str, images: int, named: str) -> None:
    with pytest.raises(UserFacingError) as info:
        planning.animate_prompt(prompt, image_count=images)
    assert named in str(info.value)


def test_animate_prompts_may_name_every_image_given() -> None:
    text = "<<<image_1>>> turns into <<<image_2>>>, then <<<image_4>>>"
    assert planning.animate_prompt(text, image_count=4) == text
