"""The zoom picker's geometry: every (cell, sub-cell) pair maps to the exact centre."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bot.grid import BoardGrid, CellRef
from bot.points import parse_points
from bot.zoom import cell_names, cell_region, parse_cell_name, point_for, points_text


def test_every_pair_is_the_float_nearest_the_sub_cell_centre() -> None:
    for cell_col in range(5):
        for cell_row in range(5):
            for sub_col in range(5):
                for sub_row in range(5):
                    x, y = point_for(CellRef(cell_col, cell_row), CellRef(sub_col, sub_row))
                    assert x == float((cell_col + (sub_col + Fraction(1, 2)) / 5) / 5)
                    assert y == float((cell_row + (sub_row + Fraction(1, 2)) / 5) / 5)


def test_named_examples() -> None:
    def named(first: str, second: str) -> tuple[float, float]:
        cell, sub = parse_cell_name(first), parse_cell_name(second)
        assert cell is not None and sub is not None
        return point_for(cell, sub)

    assert named("C3", "C3") == (0.5, 0.5)
    assert named("B2", "A1") == (0.22, 0.22)
    assert named("A1", "A1") == (0.02, 0.02)
    assert named("E5", "E5") == (0.98, 0.98)
    assert named("E1", "A5") == (0.82, 0.18)  # letters across (x), numbers down (y)


def test_the_point_survives_the_points_parser_exactly() -> None:
    grid = BoardGrid.for_frame(1920, 1080)
    for cell in (CellRef(0, 0), CellRef(1, 1), CellRef(4, 3)):
        for sub in (CellRef(0, 0), CellRef(2, 2), CellRef(4, 4)):
            x, y = point_for(cell, sub)
            assert parse_points(points_text(x, y), grid) == [(x, y)]
    assert points_text(*point_for(CellRef(1, 1), CellRef(0, 0))) == "0.22,0.22"


def test_cell_regions_tile_the_frame() -> None:
    assert cell_region(CellRef(2, 2)) == (0.4, 0.4, 0.6, 0.6)
    assert cell_region(CellRef(0, 4)) == (0.0, 0.8, 0.2, 1.0)
    assert cell_names()[0] == ["A1", "B1", "C1", "D1", "E1"]
    assert [row[0] for row in cell_names()] == ["A1", "A2", "A3", "A4", "A5"]


@pytest.mark.parametrize("name", ["F1", "A6", "A0", "a1", "C33", " C3", "C", "", "Ｃ３", "C٣"])
def test_only_exact_names_on_the_5x5_grid_parse(name: str) -> None:
    assert parse_cell_name(name) is None


def test_cells_off_the_grid_are_refused() -> None:
    with pytest.raises(IndexError):
        point_for(CellRef(5, 0), CellRef(0, 0))
    with pytest.raises(IndexError):
        point_for(CellRef(0, 0), CellRef(0, 5))
