"""Geometry of the labelled grid drawn over the board and used to name points like ``C4``.

One :class:`BoardGrid` value is shared by the renderer and by the points parser, and every
position is expressed in normalised frame coordinates (x right, y down, both in [0, 1]), so a
cell names the same place on the image and in the points sent to Kling, at any display size.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from bot.i18n import Msg

__all__ = ["DEFAULT_LONG_SIDE_CELLS", "BoardGrid", "CellRef"]

# Ten cells along the long side keeps cells about 128 px wide on a 1280 px board: big enough to
# read the labels, small enough that a cell centre is a useful click.
DEFAULT_LONG_SIDE_CELLS = 10
_MIN_CELLS = 3
_MAX_COLUMNS = len(string.ascii_uppercase)
_MAX_ROWS = 99

_CELL_PATTERN = re.compile(r"([A-Za-z])([0-9]{1,2})")


@dataclass(frozen=True, slots=True)
class CellRef:
    """A cell by zero-based column and row indices."""

    column: int
    row: int


@dataclass(frozen=True, slots=True)
class BoardGrid:
    """A grid of ``columns`` x ``rows`` equal cells over the whole frame.

    Columns are lettered from ``A`` left to right, rows numbered from ``1`` top to bottom.
    """

    columns: int
    rows: int

    def __post_init__(self) -> None:
        if not 1 <= self.columns <= _MAX_COLUMNS:
            raise ValueError(f"columns must be 1..{_MAX_COLUMNS}, got {self.columns}")
        if not 1 <= self.rows <= _MAX_ROWS:
            raise ValueError(f"rows must be 1..{_MAX_ROWS}, got {self.rows}")

    @classmethod
    def for_frame(
        cls, width: int, height: int, long_side_cells: int = DEFAULT_LONG_SIDE_CELLS
    ) -> BoardGrid:
        """The grid for a frame of ``width`` x ``height``, with roughly square cells.

        Build it from the video's own size and pass the same value to the renderer and the
        parser; the cell counts depend only on the aspect ratio.
        """
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        long_cells = max(_MIN_CELLS, min(long_side_cells, _MAX_COLUMNS))
        short_side, long_side = sorted((width, height))
        short_cells = max(_MIN_CELLS, min(long_cells, round(long_cells * short_side / long_side)))
        if width >= height:
            return cls(columns=long_cells, rows=short_cells)
        return cls(columns=short_cells, rows=long_cells)

    # Names -------------------------------------------------------------------------------

    def column_label(self, column: int) -> str:
        if not 0 <= column < self.columns:
            raise IndexError(f"column {column} is not on this grid ({self.describe()})")
        return string.ascii_uppercase[column]

    def row_label(self, row: int) -> str:
        if not 0 <= row < self.rows:
            raise IndexError(f"row {row} is not on this grid ({self.describe()})")
        return str(row + 1)

    def cell_name(self, cell: CellRef) -> str:
        return self.column_label(cell.column) + self.row_label(cell.row)

    def describe(self) -> Msg:
        """Human summary used in error messages, e.g. ``columns A–J, rows 1–6``."""
        last_column = string.ascii_uppercase[self.columns - 1]
        return Msg("columns A–{last}, rows 1–{rows}", last=last_column, rows=self.rows)

    def parse_cell(self, name: str) -> CellRef | None:
        """``"C4"`` (any case) -> ``CellRef(2, 3)``; ``None`` if it is not a cell of this grid.

        Callers that need to tell "not shaped like a cell" from "off this board" use
        :meth:`looks_like_cell` first.
        """
        match = _CELL_PATTERN.fullmatch(name.strip())
        if match is None:
            return None
        column = string.ascii_uppercase.index(match.group(1).upper())
        row = int(match.group(2)) - 1
        if not (0 <= column < self.columns and 0 <= row < self.rows):
            return None
        return CellRef(column, row)

    @staticmethod
    def looks_like_cell(name: str) -> bool:
        return _CELL_PATTERN.fullmatch(name.strip()) is not None

    # Geometry (normalised) ---------------------------------------------------------------

    def cell_bounds(self, cell: CellRef) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` of a cell in normalised coordinates."""
        self._check(cell.column, cell.row)
        return (
            cell.column / self.columns,
            cell.row / self.rows,
            (cell.column + 1) / self.columns,
            (cell.row + 1) / self.rows,
        )

    def cell_centre(self, cell: CellRef) -> tuple[float, float]:
        """Centre of a cell in normalised coordinates: the point a cell name stands for."""
        self._check(cell.column, cell.row)
        return ((cell.column + 0.5) / self.columns, (cell.row + 0.5) / self.rows)

    def cell_at(self, x: float, y: float) -> CellRef:
        """The cell containing a normalised point (the right and bottom edges belong to the
        last cell)."""
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point ({x}, {y}) is outside the frame")
        column = min(int(x * self.columns), self.columns - 1)
        return CellRef(column, min(int(y * self.rows), self.rows - 1))

    # Geometry (pixels, for drawing) ------------------------------------------------------

    def column_edges(self, width_px: int) -> list[int]:
        """Pixel x of every vertical cell edge (``columns + 1`` values, 0 and ``width_px``
        included) on an image ``width_px`` wide."""
        return [round(i * width_px / self.columns) for i in range(self.columns + 1)]

    def row_edges(self, height_px: int) -> list[int]:
        """Pixel y of every horizontal cell edge (``rows + 1`` values)."""
        return [round(i * height_px / self.rows) for i in range(self.rows + 1)]

    def _check(self, column: int, row: int) -> None:
        if not (0 <= column < self.columns and 0 <= row < self.rows):
            raise IndexError(f"cell ({column}, {row}) is not on this grid ({self.describe()})")
