"""Sudoku boards: an n x n grid in which every row, column and box holds the digits 1..n once.

The box shape sets the size: ``3x3`` boxes give the classic 9x9 grid, ``2x3`` boxes (2 rows of 3
columns) a 6x6 grid and ``2x2`` boxes a 4x4 grid. A ``Geometry`` holds the lookup tables of one size;
the module-level constants (``N_CELLS``, ``UNITS``, ...) are the 9x9 ones. Grids are n*n-character
strings in row-major order, ``'0'`` for a blank; the three sizes have 16, 36 and 81 cells, so a
grid's length names its geometry. Everything hot (the solution counter used while digging puzzles,
the replay of model text) works on bitmasks: digit ``v`` is bit ``v - 1`` of an n-bit mask, and
row/column/box masks say which digits a unit already has.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

__all__ = ["BOX_SHAPES", "Geometry", "geometry", "geometry_of"]

BOX_SHAPES = ("3x3", "2x3", "2x2")  # box rows x box columns; the grid side is their product
_DIGIT_VALUE = {ch: k for k, ch in enumerate("0123456789")}  # ASCII only: int('٣') would be 3


@dataclass(frozen=True, eq=False)
class Geometry:
    """The lookup tables of one board size (built once per box shape by ``geometry``)."""

    box: str  # e.g. "2x3": boxes of 2 rows and 3 columns
    box_rows: int
    box_cols: int
    n: int  # side of the grid and largest digit
    n_cells: int
    all_digits: int  # digits 1..n as bits 0..n-1
    row_of: tuple[int, ...]
    col_of: tuple[int, ...]
    box_of: tuple[int, ...]
    units: tuple[tuple[int, ...], ...]  # rows 0..n-1, columns n..2n-1, boxes 2n..3n-1
    unit_names: tuple[str, ...]
    units_of: tuple[tuple[int, int, int], ...]  # cell -> (row unit, column unit, box unit)
    peers: tuple[tuple[int, ...], ...]
    popcount: tuple[int, ...]  # mask -> number of digits
    digits_of: tuple[tuple[int, ...], ...]  # mask -> digits
    bits_of: tuple[tuple[int, ...], ...]  # mask -> bits
    digit_of_bit: dict[int, int]
    bit: tuple[int, ...]  # digit -> bit; bit[0] = 0 so a blank adds nothing
    cell_names: tuple[str, ...]  # cell -> "(r, c)"

    @property
    def digits(self) -> str:
        """The characters of a grid: '0' (blank) and 1..n."""
        return "0123456789"[: self.n + 1]

    def cell(self, r: int, c: int) -> int:
        return r * self.n + c

    def __repr__(self) -> str:
        return f"Geometry({self.box!r})"


def _build(box: str) -> Geometry:
    box_rows, box_cols = (int(part) for part in box.split("x"))
    n = box_rows * box_cols
    n_cells = n * n
    row_of = tuple(i // n for i in range(n_cells))
    col_of = tuple(i % n for i in range(n_cells))
    # Boxes are numbered row-major: n // box_cols boxes across, each box_rows rows tall.
    box_of = tuple((row_of[i] // box_rows) * (n // box_cols) + col_of[i] // box_cols for i in range(n_cells))
    units = (
        tuple(tuple(r * n + c for c in range(n)) for r in range(n))
        + tuple(tuple(r * n + c for r in range(n)) for c in range(n))
        + tuple(tuple(i for i in range(n_cells) if box_of[i] == b) for b in range(n))
    )
    units_of = tuple((row_of[i], n + col_of[i], 2 * n + box_of[i]) for i in range(n_cells))
    masks = range(1 << n)
    return Geometry(
        box=box,
        box_rows=box_rows,
        box_cols=box_cols,
        n=n,
        n_cells=n_cells,
        all_digits=(1 << n) - 1,
        row_of=row_of,
        col_of=col_of,
        box_of=box_of,
        units=units,
        unit_names=tuple(
            [f"row {k}" for k in range(n)]
            + [f"column {k}" for k in range(n)]
            + [f"box {k}" for k in range(n)]
        ),
        units_of=units_of,
        peers=tuple(tuple(sorted({j for u in units_of[i] for j in units[u]} - {i})) for i in range(n_cells)),
        popcount=tuple(bin(m).count("1") for m in masks),
        digits_of=tuple(tuple(d + 1 for d in range(n) if m >> d & 1) for m in masks),
        bits_of=tuple(tuple(1 << d for d in range(n) if m >> d & 1) for m in masks),
        digit_of_bit={1 << d: d + 1 for d in range(n)},
        bit=(0, *(1 << d for d in range(n))),
        cell_names=tuple(f"({i // n}, {i % n})" for i in range(n_cells)),
    )


@cache
def geometry(box: str = "3x3") -> Geometry:
    """The geometry of boxes ``box`` (one of ``BOX_SHAPES``); ValueError for any other shape."""
    if box not in BOX_SHAPES:
        raise ValueError(f"box must be one of {', '.join(map(repr, BOX_SHAPES))}, got {box!r}")
    return _build(box)


_BY_CELLS = {geometry(box).n_cells: geometry(box) for box in BOX_SHAPES}


def geometry_of(grid: str | list[int] | int) -> Geometry:
    """The geometry of a grid (a string or a list of cell values) or of a number of cells."""
    cells = grid if isinstance(grid, int) else len(grid)
    try:
        return _BY_CELLS[cells]
    except KeyError:
        sizes = ", ".join(f"{g.n_cells} ({g.n}x{g.n})" for g in _BY_CELLS.values())
        raise ValueError(f"a grid has {sizes} cells, got {cells}") from None


# ---- the 9x9 board (the default size; these names predate the other sizes) ------------------
GEOMETRY_9X9 = geometry("3x3")
N_CELLS = GEOMETRY_9X9.n_cells
ALL_DIGITS = GEOMETRY_9X9.all_digits
ROW_OF = GEOMETRY_9X9.row_of
COL_OF = GEOMETRY_9X9.col_of
BOX_OF = GEOMETRY_9X9.box_of
UNITS = GEOMETRY_9X9.units
UNIT_NAMES = GEOMETRY_9X9.unit_names
UNITS_OF = GEOMETRY_9X9.units_of
PEERS = GEOMETRY_9X9.peers
POPCOUNT = GEOMETRY_9X9.popcount
DIGITS_OF = GEOMETRY_9X9.digits_of
BITS_OF = GEOMETRY_9X9.bits_of
DIGIT_OF_BIT = GEOMETRY_9X9.digit_of_bit
BIT = GEOMETRY_9X9.bit
CELL_NAMES = GEOMETRY_9X9.cell_names


def parse_grid(text: str, geo: Geometry | None = None) -> str:
    """An n*n-character grid ('0' for blanks) from cells given as digits with '.' or '0' for blanks.

    Whitespace anywhere is ignored, so one line of n*n or n lines of n (spaced or not) both work.
    ``geo`` is the size the grid must have; None: 9x9 (the default size).
    """
    geo = geo or GEOMETRY_9X9
    if not isinstance(text, str):
        raise ValueError(f"a grid must be text, got {type(text).__name__}")
    cells = "".join(text.split())
    if len(cells) != geo.n_cells and len(cells) in _BY_CELLS:  # a grid of another size: say so first
        other = _BY_CELLS[len(cells)].n
        raise ValueError(
            f"a {geo.n}x{geo.n} grid has {geo.n_cells} cells, got {len(cells)} (a {other}x{other} grid)"
        )
    digits = geo.digits
    for k, ch in enumerate(cells):
        if ch not in digits and ch != ".":
            raise ValueError(
                f"invalid character {ch!r} at cell {k} of the grid; use digits 1-{geo.n} and '0' or '.'"
            )
        if k >= geo.n_cells:
            break
    if len(cells) != geo.n_cells:
        raise ValueError(f"a {geo.n}x{geo.n} grid has {geo.n_cells} cells, got {len(cells)}")
    return cells.replace(".", "0")


def grid_values(grid: str) -> list[int]:
    """Cell values of a well-formed grid string."""
    return [_DIGIT_VALUE[ch] for ch in grid]


def grid_to_str(values: list[int]) -> str:
    return "".join("0123456789"[v] for v in values)


def _unit_masks(values: list[int]) -> tuple[list[int], list[int], list[int]] | None:
    """Row/column/box digit masks, or None when two equal digits share a unit."""
    geo = geometry_of(values)
    bit, row_of, col_of, box_of = geo.bit, geo.row_of, geo.col_of, geo.box_of
    rows, cols, boxes = [0] * geo.n, [0] * geo.n, [0] * geo.n
    for i, v in enumerate(values):
        if v:
            b = bit[v]
            r, c, x = row_of[i], col_of[i], box_of[i]
            if (rows[r] | cols[c] | boxes[x]) & b:
                return None
            rows[r] |= b
            cols[c] |= b
            boxes[x] |= b
    return rows, cols, boxes


def find_conflict(values: list[int]) -> str | None:
    """A description of the first repeated digit in a unit, or None."""
    geo = geometry_of(values)
    for u, unit in enumerate(geo.units):
        seen: dict[int, int] = {}
        for i in unit:
            v = values[i]
            if not v:
                continue
            if v in seen:
                return (
                    f"{geo.unit_names[u]} has {v} twice: at {geo.cell_names[seen[v]]} and {geo.cell_names[i]}"
                )
            seen[v] = i
    return None


def check_solution(puzzle: str, grid: str) -> str | None:
    """Why ``grid`` is not a solution of ``puzzle`` (both well-formed grids of one size), or None."""
    geo = geometry_of(puzzle)
    if len(grid) != geo.n_cells:
        return f"a {geo.n}x{geo.n} grid has {geo.n_cells} cells, got {len(grid)}"
    for i in range(geo.n_cells):
        if puzzle[i] != "0" and grid[i] != puzzle[i]:
            return f"given at {geo.cell_names[i]} changed from {puzzle[i]} to {grid[i]}"
    blank = grid.find("0")
    if blank != -1:
        return f"cell {geo.cell_names[blank]} is empty"
    values = grid_values(grid)
    return None if _unit_masks(values) is not None else find_conflict(values)


def grid_lines(grid: str) -> str:
    """A grid as n lines of n digits (the prompt of every Sudoku format)."""
    n = geometry_of(grid).n
    return "\n".join(grid[r * n : r * n + n] for r in range(n)) + "\n"
