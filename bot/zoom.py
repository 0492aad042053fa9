"""Geometry of the zoom picker (SPEC §10): a 5x5 grid on the frame, then a 5x5 grid in a cell.

The first click names a cell of the whole frame (``C3``), the second a sub-cell of that cell
(``A1``); the point marked is the centre of the sub-cell. Both levels use the same names (letters
across, numbers down) as the board's grid, through :class:`bot.grid.BoardGrid`.

The point is computed as one division of exact values, ``x = (5 * col + subcol + 0.5) / 25``, so
it is the float nearest the true centre (``C3`` then ``C3`` is exactly 0.5; ``B2`` then ``A1`` is
exactly the float 0.22) and its shortest ``repr`` reads as a short decimal: the same number
whether it is sent to Kling, stored, or written into a points string.
"""

from __future__ import annotations

import re

from bot.grid import BoardGrid, CellRef

__all__ = [
    "CELLS",
    "ZOOM_GRID",
    "cell_names",
    "cell_region",
    "parse_cell_name",
    "point_for",
    "points_text",
]

CELLS = 5  # per side, at both levels
ZOOM_GRID = BoardGrid(columns=CELLS, rows=CELLS)
_STRICT_NAME = re.compile(r"[A-Z][0-9]")


def parse_cell_name(name: str) -> CellRef | None:
    """``"C3"`` -> the cell; None for anything else (exactly one capital and one digit, on the
    5x5 grid: these names come from custom ids, which are never loosely typed)."""
    if not isinstance(name, str) or not _STRICT_NAME.fullmatch(name):
        return None
    return ZOOM_GRID.parse_cell(name)


def cell_names() -> list[list[str]]:
    """The names row by row, as the buttons are laid out: ``[["A1", ..., "E1"], ...]``."""
    return [
        [ZOOM_GRID.cell_name(CellRef(column, row)) for column in range(CELLS)]
        for row in range(CELLS)
    ]


def cell_region(cell: CellRef) -> tuple[float, float, float, float]:
    """``(left, top, right, bottom)`` of a first-level cell in normalised frame coordinates."""
    return ZOOM_GRID.cell_bounds(cell)


def point_for(cell: CellRef, sub: CellRef) -> tuple[float, float]:
    """The normalised point of sub-cell ``sub`` (its centre) inside cell ``cell``."""
    for ref in (cell, sub):
        ZOOM_GRID.cell_bounds(ref)  # IndexError for a cell that is not on the grid
    steps = CELLS * CELLS
    return (
        (CELLS * cell.column + sub.column + 0.5) / steps,
        (CELLS * cell.row + sub.row + 0.5) / steps,
    )


def points_text(x: float, y: float) -> str:
    """The point as a ``points`` token (`bot.points`) that parses back to exactly ``(x, y)``."""
    return f"{x!r},{y!r}"
