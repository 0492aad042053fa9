"""The points parser (SPEC §4) and frame/time references: every form and every error."""

from __future__ import annotations

import pytest

from bot.grid import BoardGrid
from bot.points import (
    MAX_POINTS_PER_FRAME,
    FrameRefError,
    PointsError,
    format_time,
    parse_frame_ref,
    parse_points,
    parse_time,
)

GRID = BoardGrid.for_frame(1280, 720)  # columns A–J, rows 1–6


def assert_points(actual: list[tuple[float, float]], expected: list[tuple[float, float]]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got == pytest.approx(want)


def parse(text: str, **kwargs: int) -> list[tuple[float, float]]:
    return parse_points(text, GRID, video_width=1280, video_height=720, **kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C4", [(0.25, 3.5 / 6)]),
        ("c4", [(0.25, 3.5 / 6)]),
        ("J6", [(0.95, 5.5 / 6)]),
        ("0.42,0.61", [(0.42, 0.61)]),
        ("0.42, 0.61", [(0.42, 0.61)]),
        (".5,1", [(0.5, 1.0)]),
        ("0,0", [(0.0, 0.0)]),
        ("(0.1,0.2)", [(0.1, 0.2)]),
        ("42%,61%", [(0.42, 0.61)]),
        ("42 %, 61 %", [(0.42, 0.61)]),
        ("100%,0%", [(1.0, 0.0)]),
        ("640,360px", [(0.5, 0.5)]),
        ("640px,360px", [(0.5, 0.5)]),
        ("640, 360 PX", [(0.5, 0.5)]),
        ("1280,720px", [(1.0, 1.0)]),
        ("0,0px", [(0.0, 0.0)]),
    ],
)
def test_every_form(text: str, expected: list[tuple[float, float]]) -> None:
    assert_points(parse(text), expected)


def test_separators_and_mixed_forms_keep_order() -> None:
    text = "  C4; 0.42,0.61 42%,61%;;640,360px\tA1\n"
    assert_points(
        parse(text), [(0.25, 3.5 / 6), (0.42, 0.61), (0.42, 0.61), (0.5, 0.5), (0.05, 0.5 / 6)]
    )


def test_exact_floats_are_returned_for_storage() -> None:
    # The value sent to Kling and stored for undo must be the typed one, not a rounded one.
    assert parse("0.7738498789346246,0.297142857142857") == [
        (0.7738498789346246, 0.297142857142857)
    ]


def test_fullwidth_forms_are_normalised() -> None:
    assert_points(
        parse("Ｃ４；０．４２，０．６１　４２％，６１％"),
        [(0.25, 3.5 / 6), (0.42, 0.61), (0.42, 0.61)],
    )


@pytest.mark.parametrize(
    ("text", "token", "fragment"),
    [
        ("Z9", "Z9", "is not a cell on this board (columns A–J, rows 1–6)"),
        ("C7", "C7", "is not a cell on this board"),
        ("A0", "A0", "is not a cell on this board"),
        ("C4 hello", "hello", "is not a point: use a cell"),
        ("0.5", "0.5", "is not a point"),
        ("0.5,0.5,0.5", "0.5,0.5,0.5", "is not a point"),
        ("1.2,0.5", "1.2,0.5", "outside the frame (x and y go from 0 to 1) (did you mean pixels"),
        ("-0.1,0.5", "-0.1,0.5", "outside the frame"),
        ("−0.1,0.5", "-0.1,0.5", "outside the frame"),  # U+2212 minus sign
        ("101%,50%", "101%,50%", "outside the frame (percentages go from 0% to 100%)"),
        ("1281,10px", "1281,10px", "outside the frame (the video is 1280x720 px)"),
        ("10,-1px", "10,-1px", "outside the frame"),
        ("42%,0.61", "42%,0.61", "mixes forms"),
        ("nan,0.5", "nan,0.5", "is not a finite number"),
        ("0.5,inf", "0.5,inf", "is not a finite number"),
        ("1e400,0.5", "1e400,0.5", "is not a finite number"),
        ("٠٫٤,٠٫٥", "٠.٤,٠.٥", "uses digits other than 0-9"),  # Arabic-Indic digits
        ("C४", "C४", "uses digits other than 0-9"),  # Devanagari four
    ],
)
def test_each_error_names_the_token(text: str, token: str, fragment: str) -> None:
    with pytest.raises(PointsError) as info:
        parse(text)
    assert info.value.token == token
    assert f"`{token}`" in str(info.value)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("text", ["", "   ", " ; ;; "])
def test_empty_input_is_refused(text: str) -> None:
    with pytest.raises(PointsError, match="no points given") as info:
        parse(text)
    assert info.value.token is None


def test_pixels_need_the_video_size() -> None:
    with pytest.raises(PointsError, match="video size is not known") as info:
        parse_points("640,360px", GRID)
    assert info.value.token == "640,360px"


def test_point_limit_counts_points_already_on_the_frame() -> None:
    assert len(parse(" ".join(["C4"] * MAX_POINTS_PER_FRAME))) == MAX_POINTS_PER_FRAME
    with pytest.raises(PointsError) as info:
        parse(" ".join(["A1"] * 10 + ["B2"]))
    assert info.value.token == "B2"
    assert "would be point 11 on this frame; at most 10 points per frame" in str(info.value)
    assert_points(parse("C4 D5", existing_count=8), [(0.25, 3.5 / 6), (0.35, 4.5 / 6)])
    with pytest.raises(PointsError, match=r"`E6` would be point 11 .* already has 8") as info:
        parse("C4 D5 E6", existing_count=8)
    with pytest.raises(PointsError, match="would be point 11"):
        parse("C4", existing_count=10)


def test_nothing_is_returned_when_one_token_is_bad() -> None:
    with pytest.raises(PointsError) as info:
        parse("C4 D5 Q1 E6")
    assert info.value.token == "Q1"


def test_portrait_grid_cells() -> None:
    portrait = BoardGrid.for_frame(720, 1280)  # columns A–F, rows 1–10
    assert_points(parse_points("F10", portrait), [(5.5 / 6, 0.95)])
    with pytest.raises(PointsError, match="columns A–F, rows 1–10"):
        parse_points("G1", portrait)


# Frames and times ---------------------------------------------------------------------------


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


@pytest.mark.parametrize("token", ["banana", "info,0.5", "0.5,nano"])
def test_words_containing_nan_or_inf_are_not_called_numbers(token: str) -> None:
    grid = BoardGrid.for_frame(1280, 720)
    with pytest.raises(PointsError) as err:
        parse_points(token, grid)
    assert "is not a point" in str(err.value)


@pytest.mark.parametrize("token", ["nan,0.5", "0.5,-inf", "Infinity%,3%", "1,NaNpx"])
def test_real_non_finite_values_are_named(token: str) -> None:
    grid = BoardGrid.for_frame(1280, 720)
    with pytest.raises(PointsError, match="not a finite number"):
        parse_points(token, grid)


# Edges and the exact sentences a member reads ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0%,0%", (0.0, 0.0)),
        ("100%,100%", (1.0, 1.0)),
        ("0%,100%", (0.0, 1.0)),
        ("0.5%,50%", (0.005, 0.5)),
        ("1.0,0.5", (1.0, 0.5)),
        ("0.5,1.0", (0.5, 1.0)),
        ("1,1", (1.0, 1.0)),
        ("[0.1,0.2]", (0.1, 0.2)),
        ("[42%,61%]", (0.42, 0.61)),
        ("(42%,61%)", (0.42, 0.61)),
        ("[C4]", (0.25, 3.5 / 6)),
        ("[640,360px]", (0.5, 0.5)),
    ],
)
def test_edges_of_the_frame_and_brackets_are_accepted(
    text: str, expected: tuple[float, float]
) -> None:
    assert_points(parse(text), [expected])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("100.5%,50%", "`100.5%,50%` is outside the frame (percentages go from 0% to 100%)"),
        ("50%,100.5%", "`50%,100.5%` is outside the frame (percentages go from 0% to 100%)"),
        ("50%,-0.5%", "`50%,-0.5%` is outside the frame (percentages go from 0% to 100%)"),
        (
            "1.01,0.5",
            "`1.01,0.5` is outside the frame (x and y go from 0 to 1) (did you mean"
            " pixels, like `640,360px`, or percent?)",
        ),
        (
            "0.5,1.5",
            "`0.5,1.5` is outside the frame (x and y go from 0 to 1) (did you mean"
            " pixels, like `640,360px`, or percent?)",
        ),
        # x is exactly 1 (inside) but y is not: no pixel hint, 1 is a valid coordinate
        ("1,-0.5", "`1,-0.5` is outside the frame (x and y go from 0 to 1)"),
        ("-0.1,0.5", "`-0.1,0.5` is outside the frame (x and y go from 0 to 1)"),
        ("1281,10px", "`1281,10px` is outside the frame (the video is 1280x720 px)"),
        ("10,721px", "`10,721px` is outside the frame (the video is 1280x720 px)"),
        ("C9", "`C9` is not a cell on this board (columns A–J, rows 1–6)"),
        ("[C9]", "`[C9]` is not a cell on this board (columns A–J, rows 1–6)"),
        (
            "hello",
            "`hello` is not a point: use a cell (`C4`), `0.42,0.61`, `42%,61%` or `640,360px`",
        ),
        ("[]", "`[]` is not a point: use a cell (`C4`), `0.42,0.61`, `42%,61%` or `640,360px`"),
        ("42%,0.61", "`42%,0.61` mixes forms: write both as percent, like `42%,61%`"),
        ("nan,0.5", "`nan,0.5` is not a finite number"),
        ("1e400,0.5", "`1e400,0.5` is not a finite number"),
        ("٠٫٤,٠٫٥", "`٠.٤,٠.٥` uses digits other than 0-9; please type them as 0-9"),
    ],
)
def test_the_whole_error_sentence(text: str, message: str) -> None:
    with pytest.raises(PointsError) as info:
        parse(text)
    assert str(info.value) == message
    assert str(info.value.message) == message


@pytest.mark.parametrize("text", ["1e400%,50%", "50%,1e400%", "1e400,10px", "10,1e400px"])
def test_an_infinite_percent_or_pixel_names_its_token(text: str) -> None:
    with pytest.raises(PointsError) as info:
        parse(text)
    assert info.value.token == text
    assert str(info.value) == f"`{text}` is not a finite number"


@pytest.mark.parametrize(("width", "height"), [(1280, None), (None, 720), (0, 720)])
def test_pixels_with_one_known_dimension_are_refused(width: int | None, height: int | None) -> None:
    with pytest.raises(PointsError) as info:
        parse_points("640,360px", GRID, video_width=width, video_height=height)
    assert str(info.value) == "`640,360px` is in pixels but the video size is not known yet"
    assert info.value.token == "640,360px"


def test_too_many_points_sentences() -> None:
    with pytest.raises(PointsError) as info:
        parse(" ".join(["A1"] * 10 + ["B2"]))
    assert str(info.value) == "`B2` would be point 11 on this frame; at most 10 points per frame"
    with pytest.raises(PointsError) as info:
        parse("C4 D5 E6", existing_count=8)
    assert str(info.value) == (
        "`E6` would be point 11 on this frame; at most 10 points per frame (it already has 8)"
    )
    with pytest.raises(PointsError) as info:
        parse("C4 D5", existing_count=2, max_points=3)
    assert str(info.value) == (
        "`D5` would be point 4 on this frame; at most 3 points per frame (it already has 2)"
    )


@pytest.mark.parametrize("text", [None, 42])
def test_something_that_is_not_text_is_no_points(text: object) -> None:
    with pytest.raises(PointsError) as info:
        parse_points(text, GRID)  # type: ignore[arg-type]
    assert str(info.value) == (
        "no points given: try a cell like `C4` or coordinates like `0.42,0.61`"
    )


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
