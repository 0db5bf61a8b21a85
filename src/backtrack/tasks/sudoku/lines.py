"""The line grammar of the Sudoku trace formats: writing lines, and replaying model-written ones.

    (r, c) = v                       a fill (a forced deduction, or a step of a direct solution)
    guess: (r, c) [4, 5, 9] = 4      a choice at (r, c) among the listed candidates
    nocand: (r, c)                   a contradiction found at (r, c): the current branch is dead
    revert: (r, c) [4, 5, 9] = none  every candidate of the open guess at (r, c) failed

After a ``nocand`` (or a ``revert``) the next line must retry the innermost open guess with an
untried candidate (``guess:`` on the same cell, same list) or ``revert`` it. Each such retry and
each revert is one backtrack; each ``nocand`` is one dead end. The verifier reads traces with this
module, without the formats (which also need the search).

Cells are named ``(r, c)`` for every board size; writers take a cell index of the board's own size
(``geo``, 9x9 unless given), and ``replay`` reads lines for the size of the puzzle it replays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from backtrack.tasks.sudoku.board import (
    GEOMETRY_9X9,
    Geometry,
    _unit_masks,
    check_solution,
    geometry_of,
    grid_to_str,
    grid_values,
)

# ---- trace vocabulary -----------------------------------------------------------------------
GUESS = "guess"
NOCAND = "nocand"
REVERT = "revert"
NONE = "none"
SEPARATORS = (": ", " = ", "[", "]", ", ", " ", "\n")


def cell_name(i: int, geo: Geometry = GEOMETRY_9X9) -> str:
    """``(r, c)`` for cell index ``i`` (row-major on a board of geometry ``geo``)."""
    return geo.cell_names[i]


def format_fill(i: int, v: int, geo: Geometry = GEOMETRY_9X9) -> str:
    return f"{geo.cell_names[i]} = {v}"


def format_guess(i: int, candidates: tuple[int, ...], v: int, geo: Geometry = GEOMETRY_9X9) -> str:
    return f"{GUESS}: {geo.cell_names[i]} [{', '.join(map(str, candidates))}] = {v}"


def format_nocand(i: int, geo: Geometry = GEOMETRY_9X9) -> str:
    return f"{NOCAND}: {geo.cell_names[i]}"


def format_revert(i: int, candidates: tuple[int, ...], geo: Geometry = GEOMETRY_9X9) -> str:
    return f"{REVERT}: {geo.cell_names[i]} [{', '.join(map(str, candidates))}] = {NONE}"


# The backtrack-k format's tags and its one sentence ("Wait, this doesn't lead to the correct
# solution. Let me go back to step 12."), word by word.
THINK_LITERALS = ("<think>", "</think>", "<answer>", "</answer>", ",", ".")
THINK_WORDS = (
    "Wait", "this", "doesn't", "lead", "to", "the", "correct", "solution", "Let", "me", "go", "back", "step",
    "start",
)  # fmt: skip


def vocabulary(geo: Geometry = GEOMETRY_9X9) -> list[str]:
    """Literals a tokenizer keeps whole: one token per cell, digits, the format words, separators.

    Covers the prompt (digits and newlines), grids, direct fills, every dfs trace line and the
    backtrack-k tags and sentence, on a board of geometry ``geo``. The 9x9 list keeps all ten digits
    and its order (saved tokenizers depend on it); other sizes have their own cells and digits 0..n.
    """
    digits = "0123456789" if geo is GEOMETRY_9X9 else geo.digits
    return [
        *geo.cell_names,
        *digits,
        GUESS,
        NOCAND,
        REVERT,
        NONE,
        *SEPARATORS,
        *THINK_LITERALS,
        *THINK_WORDS,
    ]


MAX_REPLAY_ERRORS = 20
# The longest well-formed line (a guess listing nine candidates) is 45 characters; anything much
# longer is rejected before a regex sees it, which keeps the per-line cost flat.
MAX_LINE_CHARS = 160


@dataclass(slots=True)
class _Frame:
    """An open guess: its cell, listed candidates, the values tried, and the board before it."""

    cell: int
    candidates: tuple[int, ...]
    tried: int  # mask of the digits tried so far
    snapshot: tuple[list[int], list[int], int]


@dataclass(slots=True)
class Replay:
    """What replaying fill/trace lines against a puzzle found.

    After an error the replay goes on leniently (the line is applied where it still makes sense), so
    ``board`` is the grid the text claims; ``errors`` holds the first few problems, each with its line.
    """

    board: str
    errors: list[str]
    fills: int = 0
    guesses: int = 0
    backtracks: int = 0
    dead_ends: int = 0
    gave_up: bool = False  # every open guess was reverted: the text claims there is no solution

    @property
    def complete(self) -> bool:
        return "0" not in self.board

    @property
    def valid(self) -> bool:
        return self.complete and not self.errors

    @property
    def steps(self) -> int:
        return self.fills + self.guesses


# A line read into (kind, cell, candidates, digit); kind _BAD carries the error text as "cell".
_FILL, _GUESS, _NOCAND, _REVERT, _BAD = range(5)
_Line = tuple[int, Any, tuple[int, ...], int]


@dataclass(frozen=True, slots=True)
class _Grammar:
    """The line regexes of one board size (cells 0..n-1, digits 1..n) and its canonical fills."""

    geo: Geometry
    fill: re.Pattern[str]
    guess: re.Pattern[str]
    nocand: re.Pattern[str]
    revert: re.Pattern[str]
    canonical_fills: dict[str, _Line]  # most lines of any trace: a dict lookup skips the regex


@cache
def _grammar(geo: Geometry) -> _Grammar:
    index, digit = f"[0-{geo.n - 1}]", f"[1-{geo.n}]"
    cell = rf"\(\s*({index})\s*,\s*({index})\s*\)"
    listed = rf"\[\s*({digit}(?:\s*,\s*{digit})*)\s*\]"
    return _Grammar(
        geo,
        re.compile(rf"{cell}\s*=\s*({digit})", re.ASCII),
        re.compile(rf"{GUESS}\s*:\s*{cell}\s*{listed}\s*=\s*({digit})", re.ASCII),
        re.compile(rf"{NOCAND}\s*:\s*{cell}", re.ASCII),
        re.compile(rf"{REVERT}\s*:\s*{cell}\s*{listed}\s*=\s*{NONE}", re.ASCII),
        {format_fill(i, v, geo): (_FILL, i, (), v) for i in range(geo.n_cells) for v in range(1, geo.n + 1)},
    )


def _mask(geo: Geometry, digits: tuple[int, ...]) -> int:
    m = 0
    for d in digits:
        m |= geo.bit[d]
    return m


def _candidates(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def _read_line(grammar: _Grammar, line: str, allow_search: bool) -> _Line:
    """Classify one stripped, non-empty line (pure function of the text, so results are cached)."""
    head = line[0] if len(line) <= MAX_LINE_CHARS else ""
    n = grammar.geo.n
    m: re.Match[str] | None = None
    if head == "(":
        m = grammar.fill.fullmatch(line)
        if m:
            return (_FILL, int(m.group(1)) * n + int(m.group(2)), (), int(m.group(3)))
    elif allow_search and head == "g":
        m = grammar.guess.fullmatch(line)
        if m:
            cell = int(m.group(1)) * n + int(m.group(2))
            return (_GUESS, cell, _candidates(m.group(3)), int(m.group(4)))
    elif allow_search and head == "n":
        m = grammar.nocand.fullmatch(line)
        if m:
            return (_NOCAND, int(m.group(1)) * n + int(m.group(2)), (), 0)
    elif allow_search and head == "r":
        m = grammar.revert.fullmatch(line)
        if m:
            return (_REVERT, int(m.group(1)) * n + int(m.group(2)), _candidates(m.group(3)), 0)
    expected = "'(r, c) = v', 'guess:', 'nocand:' or 'revert:'" if allow_search else "'(r, c) = v'"
    return (_BAD, f"unreadable line {line[:40]!r}; expected {expected}", (), 0)


class _Replayer:
    """The state machine behind ``replay``: a board, its 3n unit masks and a stack of open guesses."""

    def __init__(self, puzzle: list[int], max_errors: int) -> None:
        self.geo = geo = geometry_of(puzzle)
        self.bit, self.units_of, self.names = geo.bit, geo.units_of, geo.cell_names
        masks = _unit_masks(puzzle)
        if masks is None:
            raise ValueError("the puzzle repeats a digit in a unit")
        self.board = list(puzzle)
        self.givens = [v != 0 for v in puzzle]
        self.units = masks[0] + masks[1] + masks[2]  # indexed like geo.units: rows, columns, boxes
        self.filled = sum(self.givens)
        self.stack: list[_Frame] = []
        self.failed = False  # the current branch hit a dead end; a retry or revert must follow
        self.result = Replay(board="", errors=[])
        self.max_errors = max_errors

    def error(self, lineno: int, message: str) -> None:
        if len(self.result.errors) < self.max_errors:
            self.result.errors.append(f"line {lineno}: {message}")

    def conflict(self, i: int, v: int) -> str | None:
        """Which unit of cell ``i`` already holds ``v``, or None (the common case, one mask test)."""
        b = self.bit[v]
        units = self.units
        r, c, x = self.units_of[i]
        if not (units[r] | units[c] | units[x]) & b:
            return None
        u = next(u for u in (r, c, x) if units[u] & b)
        at = next((j for j in self.geo.units[u] if self.board[j] == v), i)
        return f"{self.geo.unit_names[u]} ({v} already at {self.names[at]})"

    def place(self, i: int, v: int) -> None:
        b = self.bit[v]
        units = self.units
        r, c, x = self.units_of[i]
        self.board[i] = v
        units[r] |= b
        units[c] |= b
        units[x] |= b
        self.filled += 1

    def restore(self, frame: _Frame) -> None:
        board, units, filled = frame.snapshot
        self.board, self.units, self.filled = board[:], units[:], filled

    def expected(self) -> str:
        """What must follow a dead end, for error messages."""
        if self.stack:
            return f"; expected a retry or revert of {self.names[self.stack[-1].cell]}"
        return ", but no guess is left open to return to"

    # -- one method per line kind ---------------------------------------------------------------
    def fill(self, ln: int, i: int, v: int) -> None:
        if self.failed:
            self.error(
                ln,
                f"fill {format_fill(i, v, self.geo)} after a dead end{self.expected()}",
            )
            self.failed = False
        if self.board[i]:
            what = "a given" if self.givens[i] else "already filled"
            self.error(ln, f"cannot fill {self.names[i]}: it is {what}")
            return
        clash = self.conflict(i, v)
        if clash:
            self.error(ln, f"cell {self.names[i]} = {v} conflicts with {clash}")
        self.place(i, v)
        self.result.fills += 1

    def guess(self, ln: int, i: int, candidates: tuple[int, ...], v: int) -> None:
        if self.failed and self.stack and self.stack[-1].cell == i:
            self.retry(ln, self.stack[-1], candidates, v)
            return
        if self.failed:
            self.error(
                ln,
                f"guess at {self.names[i]} after a dead end{self.expected()}",
            )
            self.failed = False
        if self.board[i]:
            self.error(ln, f"guess at {self.names[i]}, which is already filled")
            return
        listed = _mask(self.geo, candidates)
        if self.geo.popcount[listed] != len(candidates):
            self.error(ln, f"candidate list {list(candidates)} of {self.names[i]} repeats a digit")
        r, c, x = self.units_of[i]
        if listed & (self.units[r] | self.units[c] | self.units[x]):  # one mask test in the common case
            d = next(d for d in candidates if self.conflict(i, d))
            self.error(ln, f"candidate {d} of {self.names[i]} conflicts with {self.conflict(i, d)}")
        if not listed & self.bit[v]:
            self.error(ln, f"guess {self.names[i]} = {v} is not among its candidates {list(candidates)}")
        self.stack.append(_Frame(i, candidates, self.bit[v], (self.board[:], self.units[:], self.filled)))
        self.place(i, v)
        self.result.guesses += 1

    def retry(self, ln: int, frame: _Frame, candidates: tuple[int, ...], v: int) -> None:
        name = self.names[frame.cell]
        if candidates != frame.candidates:
            self.error(
                ln, f"candidates of {name} changed from {list(frame.candidates)} to {list(candidates)}"
            )
        if v not in frame.candidates:
            self.error(ln, f"guess {name} = {v} is not among its candidates {list(frame.candidates)}")
        elif frame.tried & self.bit[v]:
            self.error(ln, f"guess {name} = {v} was already tried")
        self.restore(frame)
        frame.tried |= self.bit[v]
        self.place(frame.cell, v)
        self.failed = False
        self.result.guesses += 1
        self.result.backtracks += 1

    def nocand(self, ln: int, i: int) -> None:
        # A dead end need not be provable from the written lines alone (the strategy format removes
        # candidates silently), so only its shape is checked: the cell must still be empty.
        if self.failed:
            self.error(ln, f"nocand after a dead end{self.expected()}")
        if self.board[i]:
            self.error(ln, f"nocand at {self.names[i]}, which is filled")
        self.failed = True
        self.result.dead_ends += 1

    def revert(self, ln: int, i: int, candidates: tuple[int, ...]) -> None:
        if not self.stack or self.stack[-1].cell != i:
            open_cell = self.names[self.stack[-1].cell] if self.stack else "none"
            self.error(ln, f"revert of {self.names[i]}, but the innermost open guess is {open_cell}")
            return
        frame = self.stack[-1]
        if not self.failed:
            self.error(ln, f"revert of {self.names[i]} without a dead end below it")
        if candidates != frame.candidates:
            self.error(
                ln,
                f"candidates of {self.names[i]} changed from {list(frame.candidates)} to {list(candidates)}",
            )
        if _mask(self.geo, frame.candidates) & ~frame.tried:
            untried = next(d for d in frame.candidates if not frame.tried & self.bit[d])
            self.error(ln, f"revert of {self.names[i]} before trying {untried}")
        self.restore(frame)
        self.stack.pop()
        self.failed = True
        self.result.backtracks += 1
        self.result.gave_up = not self.stack


# The line reader for other formats of this package that mix these lines with prose (backtrack-k).
LINE_FILL, LINE_GUESS, LINE_NOCAND, LINE_REVERT, LINE_BAD = _FILL, _GUESS, _NOCAND, _REVERT, _BAD


def read_line(raw: str, geo: Geometry = GEOMETRY_9X9) -> _Line:
    """One non-blank line read as (kind, cell, candidates, digit) for a board of geometry ``geo``;
    kind LINE_BAD carries the error text in place of the cell. Bounded: a line over MAX_LINE_CHARS is
    rejected unread."""
    grammar = _grammar(geo)
    read = grammar.canonical_fills.get(raw)
    if read is None:
        line = raw.strip()
        read = _read_line(grammar, line, True) if line else (_BAD, "blank line", (), 0)
    return read


def replay(puzzle: str, text: str, *, allow_search: bool = True, stop_at_first_error: bool = False) -> Replay:
    """Replay fill lines (and, with ``allow_search``, guess/nocand/revert lines) against ``puzzle``.

    Every fill must target an empty cell with a digit its row, column and box lack; a trace must end
    when the grid is complete. Blank lines and spaces around tokens are tolerated. Bounded work:
    each distinct line is read once (a linear regex on at most MAX_LINE_CHARS characters), and each
    line then costs O(1) mask operations, or one board copy for a guess or backtrack.
    """
    rp = _Replayer(grid_values(puzzle), MAX_REPLAY_ERRORS)
    grammar = _grammar(rp.geo)
    canonical_fills, n_cells = grammar.canonical_fills, rp.geo.n_cells
    errors = rp.result.errors
    seen: dict[str, _Line] = {}  # other lines already read
    for ln, raw in enumerate(text.split("\n"), 1):
        read = canonical_fills.get(raw) or seen.get(raw)
        if read is None:
            line = raw.strip()
            if not line:
                continue
            read = seen[raw] = _read_line(grammar, line, allow_search)
        if rp.filled == n_cells:
            rp.error(ln, "text continues after the grid is complete")
            break
        kind, i, candidates, v = read
        if kind == _FILL:
            rp.fill(ln, i, v)
        elif kind == _GUESS:
            rp.guess(ln, i, candidates, v)
        elif kind == _NOCAND:
            rp.nocand(ln, i)
        elif kind == _REVERT:
            rp.revert(ln, i, candidates)
        else:
            rp.error(ln, i)
        if errors and (stop_at_first_error or len(errors) >= rp.max_errors):
            break
    result = rp.result
    result.board = grid_to_str(rp.board)
    if result.complete and not result.errors:
        wrong = check_solution(puzzle, result.board)  # defence in depth: the replay checked each fill
        if wrong:
            result.errors.append(wrong)
    return result


def replay_reason(result: Replay) -> str:
    """A one-line account of a replay: its first error, why it is unfinished, or success."""
    if result.errors:
        return result.errors[0]
    if result.gave_up:
        return "the trace reverted every guess without reaching a solution"
    if not result.complete:
        cells = len(result.board)
        return f"the text ends with {cells - result.board.count('0')} of {cells} cells filled"
    return "complete valid grid"


def detect_kind(text: str) -> str:
    """'think' (a backtrack-k ``<think>`` text), 'trace' (search lines present), 'steps' (fill lines)
    or 'grid'."""
    if "<think>" in text or "</think>" in text:
        return "think"
    if GUESS in text or NOCAND in text or REVERT in text:
        return "trace"
    if "=" in text or "(" in text:
        return "steps"
    return "grid"
