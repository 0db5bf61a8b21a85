"""The Sudoku task package: everything about the puzzle lives here.

``task`` (the ``Sudoku`` task object), ``problem`` (config and problem type), ``board`` (grids and
geometry of 9x9, 6x6 and 4x4 boards), ``solver`` (exact solving, puzzle generation), ``lines`` (the
trace line grammar and the replay the verifier uses), ``search`` (naive and strategy DFS emitting
events) and ``formats``.
"""

from backtrack.tasks.sudoku.board import (
    ALL_DIGITS,
    BIT,
    BITS_OF,
    BOX_OF,
    BOX_SHAPES,
    CELL_NAMES,
    COL_OF,
    DIGIT_OF_BIT,
    DIGITS_OF,
    N_CELLS,
    PEERS,
    POPCOUNT,
    ROW_OF,
    UNITS,
    UNITS_OF,
    Geometry,
    check_solution,
    find_conflict,
    geometry,
    geometry_of,
    grid_lines,
    grid_to_str,
    grid_values,
    parse_grid,
)
from backtrack.tasks.sudoku.lines import (
    Replay,
    cell_name,
    detect_kind,
    format_fill,
    format_guess,
    format_nocand,
    format_revert,
    replay,
    replay_reason,
    vocabulary,
)
from backtrack.tasks.sudoku.problem import SudokuConfig, SudokuProblem, puzzle_of
from backtrack.tasks.sudoku.solver import count_solutions, dig_puzzle, random_solution, solve_grid
from backtrack.tasks.sudoku.task import Sudoku

__all__ = [
    "ALL_DIGITS",
    "BIT",
    "BITS_OF",
    "BOX_OF",
    "BOX_SHAPES",
    "CELL_NAMES",
    "COL_OF",
    "DIGITS_OF",
    "DIGIT_OF_BIT",
    "N_CELLS",
    "PEERS",
    "POPCOUNT",
    "ROW_OF",
    "UNITS",
    "UNITS_OF",
    "Geometry",
    "Replay",
    "Sudoku",
    "SudokuConfig",
    "SudokuProblem",
    "cell_name",
    "check_solution",
    "count_solutions",
    "detect_kind",
    "dig_puzzle",
    "find_conflict",
    "format_fill",
    "format_guess",
    "format_nocand",
    "format_revert",
    "geometry",
    "geometry_of",
    "grid_lines",
    "grid_to_str",
    "grid_values",
    "parse_grid",
    "puzzle_of",
    "random_solution",
    "replay",
    "replay_reason",
    "solve_grid",
    "vocabulary",
]
