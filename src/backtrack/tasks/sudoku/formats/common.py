"""Shared pieces of the Sudoku trace formats: events to lines, and a replay to a ``ParsedTrace``.

The line grammar itself (writers and the reader) lives in ``backtrack.tasks.sudoku.lines`` because
the task's verifier must read traces too.
"""

from __future__ import annotations

from collections.abc import Iterable

from backtrack.search.events import Event, EventKind
from backtrack.tasks.sudoku.board import geometry_of, grid_lines
from backtrack.tasks.sudoku.lines import format_fill, format_guess, format_nocand, format_revert, replay
from backtrack.tasks.sudoku.problem import SudokuProblem, puzzle_of
from backtrack.tasks.sudoku.search import search_events
from backtrack.traces.base import ParsedTrace, Trace


def _cell(e: Event, r: int, c: int) -> int:
    """The index of cell (r, c) on the board of event ``e`` (its state has the board's size)."""
    return r * geometry_of(e.state).n + c


def trace_from_events(events: Iterable[Event]) -> Trace:
    """The dfs text of a search and the counts written into it.

    A BACKTRACK writes a line only when it exhausts the cell (``revert``); otherwise the retry is the
    next GENERATE's ``guess`` line. Either way it is one backtrack, as the parser counts it.
    """
    lines: list[str] = []
    solved = False
    backtracks = dead_ends = steps = 0
    for e in events:
        if e.kind is EventKind.STEP:
            r, c, v = e.action
            lines.append(format_fill(_cell(e, r, c), v, geometry_of(e.state)))
            steps += 1
        elif e.kind is EventKind.GENERATE:
            r, c, v = e.action
            geo = geometry_of(e.state)
            lines.append(format_guess(_cell(e, r, c), tuple(e.info), v, geo))
            steps += 1
        elif e.kind is EventKind.DEAD_END:
            lines.append(format_nocand(_cell(e, *e.info), geometry_of(e.state)))
            dead_ends += 1
        elif e.kind is EventKind.BACKTRACK:
            backtracks += 1
            if e.info["exhausted"]:
                r, c, _ = e.action
                lines.append(format_revert(_cell(e, r, c), tuple(e.info["candidates"]), geometry_of(e.state)))
        elif e.kind is EventKind.GOAL:
            solved = True
    return Trace("\n".join(lines), solved, backtracks, dead_ends, steps)


def solution_fills(events: Iterable[Event]) -> tuple[list[tuple[int, int]], bool]:
    """The (cell, digit) fills on the search's final path, in the order it made them, and solved.

    Every GENERATE opens a frame and its BACKTRACK closes it, dropping the fills made below it.
    """
    fills: list[tuple[int, int]] = []
    frames: list[int] = []
    solved = False
    for e in events:
        if e.kind in (EventKind.STEP, EventKind.GENERATE):
            if e.kind is EventKind.GENERATE:
                frames.append(len(fills))
            r, c, v = e.action
            fills.append((_cell(e, r, c), v))
        elif e.kind is EventKind.BACKTRACK:
            del fills[frames.pop() :]
        elif e.kind is EventKind.GOAL:
            solved = True
    return fills, solved


def events_for(problem: SudokuProblem | str, strategy: str, **limits: int | None) -> Iterable[Event]:
    return search_events(problem, strategy, **limits)


def parse_text(problem: SudokuProblem | str, text: str, *, allow_search: bool) -> ParsedTrace:
    """Replay ``text`` against the problem; never raises, whatever the text."""
    try:
        puzzle = puzzle_of(problem)
        if not isinstance(text, str):
            return ParsedTrace(
                False, False, 0, 0, 0, None, [f"trace must be text, got {type(text).__name__}"]
            )
        prompt = grid_lines(puzzle)
        if text.startswith(prompt):  # prompt + completion, as a dataset row holds them
            text = text[len(prompt) :]
        result = replay(puzzle, text, allow_search=allow_search)
    except Exception as exc:  # a malformed problem; model text cannot get here
        return ParsedTrace(False, False, 0, 0, 0, None, [f"cannot replay: {type(exc).__name__}: {exc}"])
    return ParsedTrace(
        goal_claimed=result.complete,
        valid=result.valid,
        backtracks=result.backtracks,
        dead_ends=result.dead_ends,
        steps=result.steps,
        answer=result.board if result.complete else None,
        errors=list(result.errors),
    )
