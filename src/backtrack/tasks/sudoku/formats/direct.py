"""Sudoku ``direct`` format: only the fills of the solution, ``(r, c) = v`` one per line.

The order is the one a solver makes them in: the fills on the final, successful path of the DFS
(``strategy="naive"`` or ``"strategy"``), guesses that held included as plain fills.
"""

from __future__ import annotations

import random

from backtrack.tasks.sudoku.board import geometry_of
from backtrack.tasks.sudoku.formats.common import events_for, parse_text, solution_fills
from backtrack.tasks.sudoku.lines import format_fill
from backtrack.tasks.sudoku.problem import SudokuProblem, puzzle_of
from backtrack.traces.base import ParsedTrace, Trace


def render(
    problem: SudokuProblem | str, rng: random.Random | None = None, *, strategy: str = "naive"
) -> Trace:
    """The direct solution of ``problem``. The search is deterministic, so ``rng`` is unused."""
    del rng
    fills, solved = solution_fills(events_for(problem, strategy))
    geo = geometry_of(puzzle_of(problem))
    text = "\n".join(format_fill(i, v, geo) for i, v in fills)
    return Trace(text, solved, backtracks=0, dead_ends=0, steps=len(fills))


def parse(problem: SudokuProblem | str, text: str) -> ParsedTrace:
    """Replay fill lines against the puzzle; never raises."""
    return parse_text(problem, text, allow_search=False)
