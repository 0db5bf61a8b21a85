"""Sudoku ``dfs`` format: the whole depth-first search, one event per line.

    (r, c) = v                       a forced fill
    guess: (r, c) [4, 5, 9] = 4      a guess among the candidates (the first try, or a retry)
    nocand: (r, c)                   a contradiction: this branch is dead
    revert: (r, c) [4, 5, 9] = none  every candidate of the guess at (r, c) failed; undo it

A backtrack is a return to an open guess after its branch failed, written either as a retry (a
``guess`` line for the same cell right after a ``nocand``/``revert``) or as a ``revert`` line. So
``backtracks`` = retries + reverts = failed guesses, and ``dead_ends`` = ``nocand`` lines.
``steps`` counts fill and guess lines. Options: ``strategy="naive"`` (singles only) or
``"strategy"`` (human techniques before guessing), ``max_guesses``/``max_events`` to bound the run.
"""

from __future__ import annotations

import random

from backtrack.tasks.sudoku.formats.common import events_for, parse_text, trace_from_events
from backtrack.tasks.sudoku.problem import SudokuProblem
from backtrack.traces.base import ParsedTrace, Trace


def render(
    problem: SudokuProblem | str,
    rng: random.Random | None = None,
    *,
    strategy: str = "naive",
    max_guesses: int | None = None,
    max_events: int | None = None,
) -> Trace:
    """The dfs trace of ``problem``. The search is deterministic, so ``rng`` is unused."""
    del rng
    return trace_from_events(events_for(problem, strategy, max_guesses=max_guesses, max_events=max_events))


def parse(problem: SudokuProblem | str, text: str) -> ParsedTrace:
    """Replay a (possibly model-written) dfs trace; never raises."""
    return parse_text(problem, text, allow_search=True)
