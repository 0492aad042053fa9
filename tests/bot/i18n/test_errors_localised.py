"""Every error a user can meet, as an Indonesian or Brazilian member reads it."""

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from bot import kling
from bot.editing import planning
from bot.editing.boards import frame_caption
from bot.errors import UserFacingError, user_message_for
from bot.fetch import NOT_HTTP, DownloadError
from bot.grid import BoardGrid
from bot.i18n import Text
from bot.kling.errors import _CODE_TABLE, KlingError, error_for
from bot.media import MediaError, check_video, normalise_reference_image
from bot.media.fix import _changes
from bot.media.probe import VideoInfo
from bot.points import FrameRefError, PointsError, parse_frame_ref, parse_points
from bot.policy import PolicyError, check_can_submit, check_channel_enabled
from bot.storage.models import (
    GuildSettings,
    PointLimitError,
    QuotaExceededError,
    Session,
    SessionConflictError,
    SessionNotActiveError,
    SessionStatus,
    UsageCounts,
)
from bot.storage.models import (
    VideoInfo as StoredVideo,
)

LOCALES = ("id", "pt-BR")


def assert_translated(message: object) -> None:
    """Rendered differently in each language, never with a placeholder left in."""
    assert isinstance(message, Text), f"not translatable: {message!r}"
    english = message.render("en")
    assert english == str(message)
    renders = {locale: message.render(locale) for locale in LOCALES}
    for locale, text in renders.items():
        assert text and text != english, (locale, english)
        assert "{" not in text, (locale, text)
    assert renders["id"] != renders["pt-BR"]


def _kling_classes() -> Iterator[type[KlingError]]:
    pending = [KlingError]
    while pending:
        cls = pending.pop()
        yield cls
        pending.extend(cls.__subclasses__())


@pytest.mark.parametrize(
    "cls", sorted(_kling_classes(), key=lambda c: c.__name__), ids=lambda c: c.__name__
)
def test_every_kling_error_class_speaks_both_languages(cls: type[KlingError]) -> None:
    extra = {
        "SelectionRejectedError": {"selection_status": 2},
        "CreateOutcomeUnknownError": {"external_task_id": "x"},
    }.get(cls.__name__, {})
    error = cls("raw text from Kling", **extra)
    assert_translated(error.message)
    assert user_message_for(error, "id") == error.message.render("id")


@pytest.mark.parametrize("code", sorted(_CODE_TABLE))
def test_every_kling_code_speaks_both_languages(code: int) -> None:
    assert_translated(error_for(400, code, "kling says no", "req-1").message)


def _session() -> Session:
    video = StoredVideo(fps=30, width=1280, height=720, total_frame=150, duration=5.0)
    return Session(
        1,
        10,
        20,
        30,
        SessionStatus.ACTIVE,
        video,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        0,
        None,
        0.0,
        None,
    )


@pytest.mark.parametrize(
    "error",
    [
        SessionConflictError(_session()),
        SessionNotActiveError(),
        PointLimitError("marked_frames", current=10, maximum=10, adding=1),
        PointLimitError("points_per_frame", current=9, maximum=10, adding=2),
        QuotaExceededError("daily_jobs_per_member", current=3, maximum=3, resets_at=1.7e9),
        QuotaExceededError("daily_jobs_per_member", current=3, maximum=3, resets_at=None),
        QuotaExceededError("concurrent_jobs_per_guild", current=3, maximum=3, resets_at=None),
    ],
    ids=lambda e: type(e).__name__,
)
def test_storage_errors_speak_both_languages(error: Exception) -> None:
    assert_translated(error.message)  # type: ignore[attr-defined]
    assert user_message_for(error, "pt-BR") == error.message.render("pt-BR")  # type: ignore[attr-defined]


def _policy_refusals() -> Iterator[PolicyError]:
    usage = UsageCounts(jobs_today=3)
    cases = [
        (GuildSettings(1, disabled_channels=frozenset({5})), {"channel_id": 5}),
        (GuildSettings(1, submit_role_id=99), {}),
        (GuildSettings(1), {"mode": "ultra"}),
        (GuildSettings(1, pro_allowed=False), {"mode": "pro"}),
        (GuildSettings(1, daily_jobs_per_member=0), {}),
        (GuildSettings(1, daily_jobs_per_member=1), {"usage": UsageCounts(jobs_today=1)}),
        (GuildSettings(1, daily_jobs_per_member=3), {"usage": usage}),
        (GuildSettings(1, concurrent_jobs_per_guild=0), {}),
        (GuildSettings(1, concurrent_jobs_per_guild=1), {"active_jobs": 1}),
        (GuildSettings(1, concurrent_jobs_per_guild=2), {"active_jobs": 2}),
    ]
    for settings, overrides in cases:
        facts = {
            "member_role_ids": [],
            "channel_id": 7,
            "is_admin": False,
            "mode": "std",
            "usage": UsageCounts(),
            "active_jobs": 0,
            "now": 1.7e9,
        } | overrides
        try:
            check_can_submit(settings, **facts)  # type: ignore[arg-type]
        except PolicyError as error:
            yield error
        else:
            raise AssertionError(f"{settings} was not refused")


def test_every_policy_refusal_speaks_both_languages() -> None:
    refusals = list(_policy_refusals())
    assert len({r.refusal for r in refusals}) == 6
    for refusal in refusals:
        assert_translated(refusal.message)
    daily = refusals[6]
    assert daily.message.render("id").startswith("Anda sudah memakai 3 tugas Anda")
    assert "<t:" in daily.message.render("pt-BR")  # Discord shows the time in the reader's language
    with pytest.raises(PolicyError) as info:
        check_channel_enabled(GuildSettings(1, disabled_channels=frozenset({5})), 5)
    assert user_message_for(info.value, "id").startswith("Bot dinonaktifkan di channel ini")


def test_download_errors_speak_both_languages() -> None:
    assert_translated(DownloadError(NOT_HTTP).message)


@pytest.mark.parametrize(
    "call",
    [
        lambda: planning.edit_kind("blur"),
        lambda: planning.check_image_count(planning.JobKind.EDIT_REMOVAL, 1),
        lambda: planning.check_image_count(planning.JobKind.EDIT_SWAP, 2),
        lambda: planning.check_image_count(planning.JobKind.EDIT_ADDITION, 3),
        lambda: planning.build_prompt(planning.JobKind.EDIT_REMOVAL, "  ", image_count=0),
        lambda: planning.build_prompt(planning.JobKind.EDIT_SWAP, "x" * 3000, image_count=1),
        lambda: planning.clean_negative("y" * 3000),
        lambda: planning.build_prompt(
            planning.JobKind.EDIT_SWAP, "put <<<image_2>>> in <<<video_1>>>", image_count=1
        ),
        lambda: planning.choose_mode("ultra", GuildSettings(1)),
        lambda: planning.choose_mode("pro", GuildSettings(1, pro_allowed=False)),
        lambda: planning.check_animate(1, "5", "16:9"),
        lambda: planning.check_animate(2, "7", "16:9"),
        lambda: planning.check_animate(2, "5", "4:3"),
        lambda: planning.animate_prompt("", image_count=2),
        lambda: planning.animate_prompt("<<<image_1>>> into <<<video_1>>>", image_count=2),
    ],
)
def test_editing_refusals_speak_both_languages(call: object) -> None:
    with pytest.raises(UserFacingError) as info:
        call()  # type: ignore[operator]
    assert_translated(info.value.message)


def test_a_too_long_negative_prompt_names_the_field_in_the_reader_s_language() -> None:
    with pytest.raises(UserFacingError) as info:
        planning.clean_negative("y" * 3000)
    assert info.value.message.render("id").startswith("Panjang prompt negatif adalah 3000")
    assert info.value.message.render("pt-BR").startswith("O prompt negativo tem 3000")


GRID = BoardGrid.for_frame(1280, 720)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Z99",
        "150%,20%",
        "3,0.5",
        "0.5,1.2",
        "nan,0.5",
        "42%,0.5",
        "banana",
        "640,360px",
        "C4 C5 C6",
    ],
)
def test_points_errors_speak_both_languages(text: str) -> None:
    with pytest.raises(PointsError) as info:
        parse_points(text, GRID, existing_count=8)
    assert_translated(info.value.message)


@pytest.mark.parametrize(
    ("frame", "time", "fps", "total"),
    [
        (1, "1s", 30, 150),
        (200, None, 30, 150),
        (None, None, 30, 150),
        (None, "1s", 0, 150),
        (None, "9s", 30, 150),
        (None, "1:99", 30, 150),
        (None, "soon", 30, 150),
        (None, "١", 30, 150),
        (0, None, 30, 0),
    ],
)
def test_frame_errors_speak_both_languages(
    frame: int | None, time: str | None, fps: float, total: int
) -> None:
    with pytest.raises(FrameRefError) as info:
        parse_frame_ref(frame, time, fps, total)
    assert_translated(info.value.message)
    assert user_message_for(info.value, "pt-BR") == info.value.message.render("pt-BR")


def _info(**changes: object) -> VideoInfo:
    base = {
        "path": Path("v.mkv"),
        "container": "matroska",
        "codec": "vp9",
        "duration_s": 12.0,
        "fps": 25.0,
        "width": 640,
        "height": 360,
        "frame_count": 300,
        "frame_count_exact": True,
        "rotation": 90,
        "has_audio": True,
        "variable_frame_rate": False,
        "size_bytes": 1000,
    }
    return VideoInfo(**(base | changes))  # type: ignore[arg-type]


def test_every_video_rule_and_every_fix_speaks_both_languages() -> None:
    violations = check_video(_info())
    assert {v.rule for v in violations} == {"container", "duration", "dimensions", "fps"}
    for violation in violations:
        assert_translated(violation.message)
    changes = _changes(_info(), (1280, 720), Fraction(30), 300, 10.0)
    assert len(changes) == 6
    for change in changes:
        assert_translated(change)
    assert changes[0] == "Trimmed from 12.0 s to 10 s (the start is kept)."
    assert changes[0].render("pt-BR") == "Cortado de 12.0 s para 10 s (o início foi mantido)."


def test_media_errors_speak_both_languages() -> None:
    with pytest.raises(MediaError) as info:
        normalise_reference_image(b"", filename="car.png")
    assert_translated(info.value.message)
    assert info.value.message.render("id") == "Gambar 'car.png' kosong (0 byte)."
    with pytest.raises(MediaError) as info:
        normalise_reference_image(b"not an image")
    assert_translated(info.value.message)
    assert user_message_for(info.value, "id") == info.value.message.render("id")


def test_the_board_caption_speaks_both_languages() -> None:
    caption = frame_caption(45, 30.0)
    assert_translated(caption)
    assert caption.render("id") == "bingkai 45 · 1.50 dtk"


def test_kling_package_errors_are_all_covered() -> None:
    exported = {name for name in kling.__all__ if name.endswith("Error")}
    assert exported <= {cls.__name__ for cls in _kling_classes()}
