"""The points parser (SPEC §4): every form a point can be typed in, the edges of the frame, and
every error with the exact sentence a member reads."""

from __future__ import annotations

import pytest

from bot.grid import BoardGrid
from bot.points import (
    MAX_POINTS_PER_FRAME,
    PointsError,
    parse_points,
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
