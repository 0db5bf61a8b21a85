"""Sudoku boards: a 9x9 grid in which every row, column and 3x3 box holds the digits 1..9 once.

Grids are 81-character strings in row-major order, ``'0'`` for a blank. Everything hot (the
solution counter used while digging puzzles, the replay of model text) works on bitmasks: digit
``v`` is bit ``v - 1`` of a 9-bit mask, and row/column/box masks say which digits a unit already has.
"""

from __future__ import annotations

# ---- board geometry -------------------------------------------------------------------------
N_CELLS = 81
ALL_DIGITS = 0x1FF  # digits 1..9 as bits 0..8
ROW_OF = tuple(i // 9 for i in range(N_CELLS))
COL_OF = tuple(i % 9 for i in range(N_CELLS))
BOX_OF = tuple((i // 27) * 3 + (i % 9) // 3 for i in range(N_CELLS))
# The 27 units: rows 0..8, columns 9..17, boxes 18..26.
UNITS: tuple[tuple[int, ...], ...] = (
    tuple(tuple(r * 9 + c for c in range(9)) for r in range(9))
    + tuple(tuple(r * 9 + c for r in range(9)) for c in range(9))
    + tuple(tuple(i for i in range(N_CELLS) if BOX_OF[i] == b) for b in range(9))
)
UNIT_NAMES = tuple(
    [f"row {k}" for k in range(9)] + [f"column {k}" for k in range(9)] + [f"box {k}" for k in range(9)]
)
UNITS_OF = tuple((ROW_OF[i], 9 + COL_OF[i], 18 + BOX_OF[i]) for i in range(N_CELLS))
PEERS: tuple[tuple[int, ...], ...] = tuple(
    tuple(sorted({j for u in UNITS_OF[i] for j in UNITS[u]} - {i})) for i in range(N_CELLS)
)
POPCOUNT = tuple(bin(m).count("1") for m in range(512))
DIGITS_OF = tuple(tuple(d + 1 for d in range(9) if m >> d & 1) for m in range(512))  # mask -> digits
BITS_OF = tuple(tuple(1 << d for d in range(9) if m >> d & 1) for m in range(512))  # mask -> bits
DIGIT_OF_BIT = {1 << d: d + 1 for d in range(9)}
BIT = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)  # digit -> bit; BIT[0] = 0 so a blank adds nothing

CELL_NAMES = tuple(f"({i // 9}, {i % 9})" for i in range(N_CELLS))
_DIGIT_VALUE = {ch: k for k, ch in enumerate("0123456789")}  # ASCII only: int('٣') would be 3


def parse_grid(text: str) -> str:
    """An 81-character grid ('0' for blanks) from 81 cells given as digits with '.' or '0' for blanks.

    Whitespace anywhere is ignored, so one line of 81 or nine lines of nine (spaced or not) both work.
    """
    if not isinstance(text, str):
        raise ValueError(f"a grid must be text, got {type(text).__name__}")
    cells = "".join(text.split())
    for k, ch in enumerate(cells):
        if ch not in _DIGIT_VALUE and ch != ".":
            raise ValueError(
                f"invalid character {ch!r} at cell {k} of the grid; use digits 1-9 and '0' or '.'"
            )
        if k >= N_CELLS:
            break
    if len(cells) != N_CELLS:
        raise ValueError(f"a grid has 81 cells, got {len(cells)}")
    return cells.replace(".", "0")


def grid_values(grid: str) -> list[int]:
    """Cell values of a well-formed 81-character grid string."""
    return [_DIGIT_VALUE[ch] for ch in grid]


def grid_to_str(values: list[int]) -> str:
    return "".join("0123456789"[v] for v in values)


def _unit_masks(values: list[int]) -> tuple[list[int], list[int], list[int]] | None:
    """Row/column/box digit masks, or None when two equal digits share a unit."""
    rows, cols, boxes = [0] * 9, [0] * 9, [0] * 9
    for i, v in enumerate(values):
        if v:
            b = BIT[v]
            r, c, x = ROW_OF[i], COL_OF[i], BOX_OF[i]
            if (rows[r] | cols[c] | boxes[x]) & b:
                return None
            rows[r] |= b
            cols[c] |= b
            boxes[x] |= b
    return rows, cols, boxes


def find_conflict(values: list[int]) -> str | None:
    """A description of the first repeated digit in a unit, or None."""
    for u, unit in enumerate(UNITS):
        seen: dict[int, int] = {}
        for i in unit:
            v = values[i]
            if not v:
                continue
            if v in seen:
                return f"{UNIT_NAMES[u]} has {v} twice: at {CELL_NAMES[seen[v]]} and {CELL_NAMES[i]}"
            seen[v] = i
    return None


def check_solution(puzzle: str, grid: str) -> str | None:
    """Why ``grid`` is not a solution of ``puzzle`` (both well-formed 81-char strings), or None."""
    for i in range(N_CELLS):
        if puzzle[i] != "0" and grid[i] != puzzle[i]:
            return f"given at {CELL_NAMES[i]} changed from {puzzle[i]} to {grid[i]}"
    blank = grid.find("0")
    if blank != -1:
        return f"cell {CELL_NAMES[blank]} is empty"
    values = grid_values(grid)
    return None if _unit_masks(values) is not None else find_conflict(values)


def grid_lines(grid: str) -> str:
    """An 81-character grid as nine lines of nine digits (the prompt of every Sudoku format)."""
    return "\n".join(grid[r * 9 : r * 9 + 9] for r in range(9)) + "\n"
