"""The board image: real PNG/JPEG bytes, checked pixel by pixel where it matters."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.grid import BoardGrid
from bot.masks import encode_rle
from bot.points import parse_points
from bot.render import IMAGE_MEDIA_TYPES, MASK_COLOURS, mask_colour, render_board
from bot.render.board import MASK_FILL_ALPHA

VIDEO_W, VIDEO_H = 1920, 1080
BOARD_W, BOARD_H = 1280, 720
GREY = 60


def open_board(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def flat_frame(value: int, width: int = VIDEO_W, height: int = VIDEO_H) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


def rect_mask(top: int, left: int, bottom: int, right: int) -> np.ndarray:
    mask = np.zeros((VIDEO_H, VIDEO_W), dtype=np.uint8)
    mask[top:bottom, left:right] = 1
    return mask


def clusters(positions: np.ndarray, gap: int = 6) -> list[tuple[int, int]]:
    """Group sorted pixel positions into (first, last) runs separated by more than ``gap``."""
    groups: list[tuple[int, int]] = []
    for pos in positions.tolist():
        if groups and pos - groups[-1][1] <= gap:
            groups[-1] = (groups[-1][0], pos)
        else:
            groups.append((pos, pos))
    return groups


def test_grid_cell_c4_is_drawn_where_the_parser_puts_c4() -> None:
    grid = BoardGrid.for_frame(VIDEO_W, VIDEO_H)
    board = open_board(render_board(flat_frame(0), [], [], grid, image_format="png"))
    assert board.shape == (BOARD_H, BOARD_W, 3)
    brightness = board.mean(axis=2)
    # Grid lines are faint (well below white), label text is near white.
    faint = (brightness > 30) & (brightness < 180)
    text = brightness > 180

    # Lines, found away from the label strips along the top and left edges.
    vertical = [c for c, _ in clusters(np.flatnonzero(faint[300, 60:]) + 60, gap=1)]
    horizontal = [c for c, _ in clusters(np.flatnonzero(faint[60:, 700]) + 60, gap=1)]
    assert len(vertical) == grid.columns - 1
    assert len(horizontal) == grid.rows - 1
    column_edges = [0, *vertical, BOARD_W]
    row_edges = [0, *horizontal, BOARD_H]

    # Labels: letters across the top, numbers down the left.
    top_labels = clusters(np.flatnonzero(text[:40, 40:].any(axis=0)) + 40)
    left_labels = clusters(np.flatnonzero(text[40:, :40].any(axis=1)) + 40)
    assert len(top_labels) == grid.columns
    assert len(left_labels) == grid.rows
    c_label_x = sum(top_labels[2]) / 2
    four_label_y = sum(left_labels[3]) / 2
    assert column_edges[2] < c_label_x < column_edges[3]
    assert row_edges[3] < four_label_y < row_edges[4]

    # The parser's C4 lands inside the cell under the "C" label and beside the "4" label.
    [(x, y)] = parse_points("C4", grid)
    px, py = x * BOARD_W, y * BOARD_H
    assert column_edges[2] < px < column_edges[3]
    assert row_edges[3] < py < row_edges[4]
    assert abs(px - c_label_x) < 3
    assert abs(py - four_label_y) < 3


def test_portrait_board_is_1280_tall_with_a_portrait_grid() -> None:
    grid = BoardGrid.for_frame(1080, 1920)
    board = open_board(render_board(flat_frame(0, 1080, 1920), [], [], grid, image_format="png"))
    assert board.shape == (1280, 720, 3)
    faint = (board.mean(axis=2) > 30) & (board.mean(axis=2) < 180)
    vertical = clusters(np.flatnonzero(faint[300, 60:]) + 60, gap=1)
    assert len(vertical) == grid.columns - 1 == 5


def test_masks_are_filled_and_outlined_in_distinct_colours() -> None:
    grid = BoardGrid.for_frame(VIDEO_W, VIDEO_H)
    first = rect_mask(300, 600, 800, 1400)  # board: rows 200-533, columns 400-933
    second = rect_mask(150, 1500, 600, 1800)  # board: rows 100-400, columns 1000-1200
    data = render_board(
        flat_frame(GREY),
        [(0, encode_rle(first)), (1, encode_rle(second))],
        [],
        grid,
        image_format="png",
    )
    board = open_board(data)
    # Inside each mask (away from grid lines): the frame tinted 40% towards a palette colour,
    # a different one for each object.
    colours = []
    for y, x in [(300, 700), (250, 1100)]:
        colour = (board[y, x] - (1 - MASK_FILL_ALPHA) * GREY) / MASK_FILL_ALPHA
        nearest = np.array(min(MASK_COLOURS, key=lambda c: np.abs(colour - c).max()))
        assert np.abs(colour - nearest).max() <= 5, (y, x, colour)
        colours.append(nearest)
    assert not np.array_equal(colours[0], colours[1])
    # Outside every mask the frame is untouched.
    assert board[650, 1100].tolist() == [GREY, GREY, GREY]
    # Across the first mask's left edge (board column 400), from outside in: the frame, a dark
    # ring, a light ring (visible on any background), the outline colour, then the fill.
    fill = board[300, 700]
    assert board[300, 395].tolist() == [GREY, GREY, GREY]
    assert board[300, 398].tolist() == [16, 16, 16]
    assert board[300, 399].tolist() == [255, 255, 255]
    for x in (400, 401):
        to_outline = np.abs(board[300, x] - colours[0]).max()
        assert to_outline < min(
            np.abs(board[300, x] - other).max() for other in (np.array([255, 255, 255]), fill, GREY)
        ), x
    assert board[300, 404].tolist() == fill.tolist()
    # The same along the top edge (board row 200).
    assert board[198, 700].tolist() == [16, 16, 16]
    assert board[199, 700].tolist() == [255, 255, 255]
    assert np.abs(board[200:202, 700] - colours[0]).max() < 60


def test_a_mask_stays_visible_over_an_object_of_its_own_colour() -> None:
    grid = BoardGrid.for_frame(VIDEO_W, VIDEO_H)
    frame = flat_frame(GREY)
    frame[300:900, 600:1400] = mask_colour(0)  # an object painted in the mask's own colour
    mask = rect_mask(300, 600, 900, 1400)
    with_mask = open_board(
        render_board(frame, [(0, encode_rle(mask))], [], grid, image_format="png")
    )
    without = open_board(render_board(frame, [], [], grid, image_format="png"))
    # Around the object's edge the board now differs from the bare frame.
    edge = (slice(195, 205), slice(395, 405))
    assert np.abs(with_mask[edge].astype(int) - without[edge].astype(int)).max() > 100


def test_decoded_masks_draw_exactly_like_rle_masks() -> None:
    grid = BoardGrid.for_frame(VIDEO_W, VIDEO_H)
    mask = rect_mask(301, 603, 799, 1397)
    mask[900:1000, 100:140] = 1
    frame = flat_frame(GREY)
    from_rle = render_board(frame, [(3, encode_rle(mask))], [], grid, image_format="png")
    from_array = render_board(frame, [(3, mask)], [], grid, image_format="png")
    np.testing.assert_array_equal(open_board(from_rle), open_board(from_array))


def test_numbered_dots_sit_on_their_points() -> None:
    grid = BoardGrid.for_frame(VIDEO_W, VIDEO_H)
    points = [(1, 0.33, 0.27), (2, 0.71, 0.64)]
    board = open_board(render_board(flat_frame(GREY), [], points, grid, image_format="png"))
    white = (board == 255).all(axis=2)
    black = (board == 0).all(axis=2)
    for _, x, y in points:
        cx, cy = round(x * BOARD_W), round(y * BOARD_H)
        window = (slice(cy - 20, cy + 21), slice(cx - 20, cx + 21))
        assert white[window].sum() > 300  # the dot's fill
        assert black[window].sum() > 50  # its ring and number
        assert white[cy - 8 : cy + 9, cx - 12 : cx - 6].any()  # filled close to the centre
    # Nowhere else is pure white: the dots are where the points are and nowhere else.
    far = white.copy()
    for _, x, y in points:
        cx, cy = round(x * BOARD_W), round(y * BOARD_H)
        far[cy - 25 : cy + 26, cx - 25 : cx + 26] = False
    assert not far[60:, 60:].any()


def test_caption_is_drawn_bottom_right() -> None:
    grid = BoardGrid.for_frame(VIDEO_W, VIDEO_H)
    frame = flat_frame(GREY)
    plain = open_board(render_board(frame, [], [], grid, image_format="png"))
    captioned = open_board(
        render_board(frame, [], [], grid, "frame 45 · 0:01.50", image_format="png")
    )
    corner = (slice(BOARD_H - 60, BOARD_H), slice(BOARD_W - 300, BOARD_W))
    assert (captioned[corner] == 255).all(axis=2).sum() > 100
    assert not (plain[corner] == 255).all(axis=2).any()
    assert np.array_equal(plain[:500, :800], captioned[:500, :800])


@pytest.mark.parametrize(
    ("image_format", "magic"), [("jpeg", b"\xff\xd8\xff"), ("png", b"\x89PNG"), ("webp", b"RIFF")]
)
def test_output_formats(image_format: str, magic: bytes) -> None:
    grid = BoardGrid.for_frame(VIDEO_W, VIDEO_H)
    mask = rect_mask(300, 600, 800, 1400)
    data = render_board(
        flat_frame(GREY),
        [(0, encode_rle(mask))],
        [(1, 0.5, 0.5)],
        grid,
        "frame 0",
        image_format=image_format,
    )  # type: ignore[arg-type]
    assert data.startswith(magic)
    assert image_format in IMAGE_MEDIA_TYPES
    board = open_board(data)
    assert board.shape == (BOARD_H, BOARD_W, 3)
    # Even lossy formats keep the mask tint recognisable.
    exact = open_board(
        render_board(
            flat_frame(GREY),
            [(0, encode_rle(mask))],
            [(1, 0.5, 0.5)],
            grid,
            "frame 0",
            image_format="png",
        )
    )
    assert np.abs(exact[300, 700] - GREY).max() > 40
    assert np.abs(board[300, 700] - exact[300, 700]).max() <= 12


def test_default_format_is_jpeg_and_small() -> None:
    grid = BoardGrid.for_frame(VIDEO_W, VIDEO_H)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (VIDEO_H, VIDEO_W, 3), dtype=np.uint8)
    data = render_board(frame, [], [], grid)
    assert data.startswith(b"\xff\xd8\xff")
    assert len(data) < 2_000_000


def test_pil_frames_and_small_frames() -> None:
    grid = BoardGrid.for_frame(640, 360)
    array = flat_frame(GREY, 640, 360)
    from_pil = render_board(Image.fromarray(array), [], [], grid, image_format="png")
    from_array = render_board(array, [], [], grid, image_format="png")
    board = open_board(from_pil)
    assert board.shape == (BOARD_H, BOARD_W, 3)  # small frames are enlarged to board size
    np.testing.assert_array_equal(board, open_board(from_array))


def test_bad_inputs_are_refused() -> None:
    grid = BoardGrid.for_frame(VIDEO_W, VIDEO_H)
    with pytest.raises(ValueError, match="RGB array"):
        render_board(np.zeros((10, 10, 3), dtype=np.float32), [], [], grid)
    with pytest.raises(ValueError, match="unknown board image format"):
        render_board(flat_frame(0, 64, 36), [], [], grid, image_format="gif")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2-D"):
        render_board(flat_frame(0, 64, 36), [(0, np.zeros((4, 4, 1)))], [], grid)
