"""Frame and time references: a frame number or a time typed in every form, turned into
a frame of the video, up to the limits, and every error with the exact sentence a member reads."""

from __future__ import annotations

import pytest

from bot.points import (
    FrameRefError,
    format_time,
    parse_frame_ref,
    parse_time,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1.5s", 1.5),
        ("1.5", 1.5),
        ("1.5 s", 1.5),
        ("2sec", 2.0),
        ("1500ms", 1.5),
        ("00:01.5", 1.5),
        ("1:02.25", 62.25),
        ("1:02:03.5", 3723.5),
        ("０:０１．５", 1.5),
        (".5", 0.5),
    ],
)
def test_parse_time_forms(text: str, seconds: float) -> None:
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("abc", "is not a time"),
        ("-1s", "is not a time"),
        ("1:75", "minutes and seconds go up to 59"),
        ("٢s", "digits other than 0-9"),
    ],
)
def test_parse_time_errors(text: str, fragment: str) -> None:
    with pytest.raises(FrameRefError) as info:
        parse_time(text)
    assert fragment in str(info.value)
    assert text in str(info.value)


def test_frame_by_number_or_time() -> None:
    assert parse_frame_ref(0, None, 30.0, 300) == 0
    assert parse_frame_ref(299, None, 30.0, 300) == 299
    assert parse_frame_ref(None, "1.5s", 30.0, 300) == 45
    assert parse_frame_ref(None, "00:01.5", 30.0, 300) == 45
    assert parse_frame_ref(None, "0.7", 30.0, 300) == 21  # 0.7 * 30 is 20.999... in floats
    assert parse_frame_ref(None, "0.041", 24.0, 120) == 0
    assert parse_frame_ref(None, "9.96", 30.0, 300) == 298
    assert parse_frame_ref(None, None, 30.0, 300, default=12) == 12
    assert parse_frame_ref(None, "  ", 30.0, 300, default=12) == 12


@pytest.mark.parametrize(
    ("frame", "time", "fragment"),
    [
        (300, None, "frame 300 is outside this video (frames 0–299)"),
        (-1, None, "frame -1 is outside this video"),
        (None, "10s", "`10s` is after the end of the video (the last frame, 299, is at 0:09.97)"),
        (None, "10:00", "after the end of the video"),
        (3, "1s", "either a frame number or a time, not both"),
        (None, None, "give a frame number or a time"),
        (True, None, "whole number"),
        (None, "soon", "is not a time"),
    ],
)
def test_frame_ref_errors(frame: int | None, time: str | None, fragment: str) -> None:
    with pytest.raises(FrameRefError) as info:
        parse_frame_ref(frame, time, 30.0, 300)
    assert fragment in str(info.value)


def test_frame_ref_needs_frames_and_fps_for_times() -> None:
    with pytest.raises(FrameRefError, match="no frames"):
        parse_frame_ref(0, None, 30.0, 0)
    with pytest.raises(FrameRefError, match="frame rate is unknown"):
        parse_frame_ref(None, "1s", 0.0, 300)
    assert parse_frame_ref(5, None, 0.0, 300) == 5


def test_format_time() -> None:
    assert format_time(1.5) == "0:01.50"
    assert format_time(83.25) == "1:23.25"
    assert format_time(-1) == "0:00.00"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("59:59.99", 3599.99),
        ("0:59.999", 59.999),
        ("1:00:00", 3600.0),
        ("1:59:59", 7199.0),
        ("0:00", 0.0),
        ("1.5S", 1.5),
        ("1500MS", 1.5),
        ("250ms", 0.25),
    ],
)
def test_times_up_to_the_limits(text: str, seconds: float) -> None:
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["1:60", "0:60.0", "60:00", "61:00", "1:60:00", "0:00:60"])
def test_sixty_minutes_or_seconds_are_refused(text: str) -> None:
    with pytest.raises(FrameRefError) as info:
        parse_time(text)
    assert str(info.value) == (f"`{text}` is not a valid time (minutes and seconds go up to 59)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "`soon` is not a time: use seconds like `1.5s` or `00:01.5`"),
        ("٢s", "`٢s` uses digits other than 0-9; please type them as 0-9"),
    ],
)
def test_time_error_sentences(text: str, message: str) -> None:
    with pytest.raises(FrameRefError) as info:
        parse_time(text)
    assert str(info.value) == message
    assert str(info.value.message) == message


def test_a_time_on_the_last_frame() -> None:
    # 300 frames at 30 fps: frame 299 starts at 9.9667 s and lasts until 10 s
    assert parse_frame_ref(None, "9.97s", 30.0, 300) == 299
    assert parse_frame_ref(None, "9.999", 30.0, 300) == 299
    assert parse_frame_ref(None, "0:09.99", 30.0, 300) == 299
    with pytest.raises(FrameRefError) as info:
        parse_frame_ref(None, "10s", 30.0, 300)
    assert str(info.value) == (
        "`10s` is after the end of the video (the last frame, 299, is at 0:09.97)"
    )


def test_one_frame_videos_and_slow_frame_rates() -> None:
    assert parse_frame_ref(0, None, 30.0, 1) == 0
    assert parse_frame_ref(None, "0.01s", 30.0, 1) == 0
    # Half a frame per second (a slideshow): 2 s is frame 1, not "frame rate unknown"
    assert parse_frame_ref(None, "2s", 0.5, 10) == 1
    assert parse_frame_ref(None, "2s", 1.0, 10) == 2


def test_a_blank_time_next_to_a_frame_number_is_no_time() -> None:
    assert parse_frame_ref(3, "  ", 30.0, 300) == 3
    assert parse_frame_ref(3, "", 30.0, 300) == 3


@pytest.mark.parametrize(
    ("frame", "time", "fps", "total", "message"),
    [
        (True, None, 30.0, 300, "frame must be a whole number, got `True`"),
        (2.5, None, 30.0, 300, "frame must be a whole number, got `2.5`"),
        (300, None, 30.0, 300, "frame 300 is outside this video (frames 0–299)"),
        (3, "1s", 30.0, 300, "give either a frame number or a time, not both"),
        (None, None, 30.0, 300, "give a frame number or a time"),
        (0, None, 30.0, 0, "the video has no frames"),
        (
            None,
            "1s",
            float("nan"),
            300,
            "the video's frame rate is unknown, so times cannot be used",
        ),
        (None, "1s", 0.0, 300, "the video's frame rate is unknown, so times cannot be used"),
    ],
)
def test_frame_ref_error_sentences(
    frame: object, time: str | None, fps: float, total: int, message: str
) -> None:
    with pytest.raises(FrameRefError) as info:
        parse_frame_ref(frame, time, fps, total)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert str(info.value.message) == message
