"""BoardGrid: cell counts from the frame's shape, names, and geometry."""

from __future__ import annotations

import pytest

from bot.grid import BoardGrid, CellRef


@pytest.mark.parametrize(
    ("width", "height", "columns", "rows"),
    [
        (1920, 1080, 10, 6),  # landscape 16:9
        (3840, 2160, 10, 6),  # same shape at 4K: same grid
        (1080, 1920, 6, 10),  # portrait 9:16
        (720, 720, 10, 10),  # square
        (2160, 720, 10, 3),  # very wide: never fewer than 3 rows
        (720, 2160, 3, 10),
    ],
)
def test_grid_follows_the_frame_shape(width: int, height: int, columns: int, rows: int) -> None:
    grid = BoardGrid.for_frame(width, height)
    assert (grid.columns, grid.rows) == (columns, rows)


def test_cells_are_roughly_square_on_screen() -> None:
    for width, height in [(1920, 1080), (1080, 1920), (1280, 960), (720, 1280), (2160, 1080)]:
        grid = BoardGrid.for_frame(width, height)
        cell_w, cell_h = width / grid.columns, height / grid.rows
        assert 0.75 < cell_w / cell_h < 1.34, (width, height, grid)


def test_names_and_parsing_are_inverse() -> None:
    grid = BoardGrid.for_frame(1920, 1080)
    for column in range(grid.columns):
        for row in range(grid.rows):
            cell = CellRef(column, row)
            name = grid.cell_name(cell)
            assert grid.parse_cell(name) == cell
            assert grid.parse_cell(name.lower()) == cell
    assert grid.cell_name(CellRef(2, 3)) == "C4"
    assert grid.describe() == "columns A–J, rows 1–6"


@pytest.mark.parametrize("name", ["K1", "A7", "A0", "Z99", "C", "4", "CC4", "C4.5", ""])
def test_names_off_the_board_do_not_parse(name: str) -> None:
    assert BoardGrid.for_frame(1920, 1080).parse_cell(name) is None


def test_looks_like_cell_separates_shape_from_range() -> None:
    assert BoardGrid.looks_like_cell("Z9")
    assert not BoardGrid.looks_like_cell("0.4,0.5")


def test_centre_is_inside_its_cell_and_maps_back() -> None:
    grid = BoardGrid.for_frame(1080, 1920)
    for column in range(grid.columns):
        for row in range(grid.rows):
            cell = CellRef(column, row)
            x, y = grid.cell_centre(cell)
            left, top, right, bottom = grid.cell_bounds(cell)
            assert left < x < right and top < y < bottom
            assert grid.cell_at(x, y) == cell
    assert grid.cell_centre(CellRef(2, 3)) == pytest.approx((2.5 / 6, 3.5 / 10))


def test_edges_cover_the_image_and_the_last_cell_owns_the_far_edge() -> None:
    grid = BoardGrid.for_frame(1280, 720)
    assert grid.column_edges(1280) == [0, 128, 256, 384, 512, 640, 768, 896, 1024, 1152, 1280]
    assert grid.row_edges(720) == [0, 120, 240, 360, 480, 600, 720]
    assert grid.cell_at(1.0, 1.0) == CellRef(9, 5)
    assert grid.cell_at(0.0, 0.0) == CellRef(0, 0)
    with pytest.raises(ValueError, match="outside the frame"):
        grid.cell_at(1.01, 0.5)


def test_invalid_grids_and_cells_are_refused() -> None:
    with pytest.raises(ValueError, match="columns"):
        BoardGrid(columns=27, rows=4)
    with pytest.raises(ValueError, match="rows"):
        BoardGrid(columns=4, rows=0)
    with pytest.raises(ValueError, match="frame size"):
        BoardGrid.for_frame(0, 100)
    grid = BoardGrid(columns=4, rows=3)
    with pytest.raises(IndexError, match="columns A–D, rows 1–3"):
        grid.cell_centre(CellRef(4, 0))
    with pytest.raises(IndexError):
        grid.column_label(-1)
    with pytest.raises(IndexError):
        grid.row_label(3)
