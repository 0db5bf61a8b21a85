"""Sudoku: fill a 9x9 grid so that every row, column and 3x3 box holds the digits 1..9 once.

Grids are 81-character strings in row-major order, ``'0'`` for a blank. Everything hot (the
solution counter used while digging puzzles, the replay of model text) works on bitmasks: digit
``v`` is bit ``v - 1`` of a 9-bit mask, and row/column/box masks say which digits a unit already has.

The line grammar of the trace formats lives here too, because the verifier must read model-written
traces without depending on ``backtrack.traces`` (data flows task -> traces, never back):

    (r, c) = v                       a fill (a forced deduction, or a step of a direct solution)
    guess: (r, c) [4, 5, 9] = 4      a choice at (r, c) among the listed candidates
    nocand: (r, c)                   a contradiction found at (r, c): the current branch is dead
    revert: (r, c) [4, 5, 9] = none  every candidate of the open guess at (r, c) failed

After a ``nocand`` (or a ``revert``) the next line must retry the innermost open guess with an
untried candidate (``guess:`` on the same cell, same list) or ``revert`` it. Each such retry and
each revert is one backtrack; each ``nocand`` is one dead end.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from backtrack.tasks.base import MAX_ANSWER_CHARS, Verdict, accept, extract_answer, reject

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

# ---- trace vocabulary -----------------------------------------------------------------------
GUESS = "guess"
NOCAND = "nocand"
REVERT = "revert"
NONE = "none"
SEPARATORS = (": ", " = ", "[", "]", ", ", " ", "\n")


def cell_name(i: int) -> str:
    """``(r, c)`` for cell index ``i`` (row-major)."""
    return CELL_NAMES[i]


def format_fill(i: int, v: int) -> str:
    return f"{CELL_NAMES[i]} = {v}"


def format_guess(i: int, candidates: tuple[int, ...], v: int) -> str:
    return f"{GUESS}: {CELL_NAMES[i]} [{', '.join(map(str, candidates))}] = {v}"


def format_nocand(i: int) -> str:
    return f"{NOCAND}: {CELL_NAMES[i]}"


def format_revert(i: int, candidates: tuple[int, ...]) -> str:
    return f"{REVERT}: {CELL_NAMES[i]} [{', '.join(map(str, candidates))}] = {NONE}"


def vocabulary() -> list[str]:
    """Literals a tokenizer keeps whole: one token per cell, digits, the format words, separators.

    Covers the prompt (digits and newlines), grids, direct fills and every dfs trace line.
    """
    return [*CELL_NAMES, *"0123456789", GUESS, NOCAND, REVERT, NONE, *SEPARATORS]


# ---- grids ----------------------------------------------------------------------------------
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


# ---- exact solving --------------------------------------------------------------------------
def _search(
    values: list[int],
    limit: int,
    *,
    forbid_cell: int = -1,
    forbid_digit: int = 0,
    rng: random.Random | None = None,
    first: list[int] | None = None,
) -> int:
    """Count solutions of ``values`` up to ``limit`` (fewest-candidates-first DFS on bitmasks).

    ``forbid_cell``/``forbid_digit`` remove one candidate (used to ask "is there a solution other
    than the known one?"), ``rng`` shuffles candidate order (random full grids), and ``first``
    receives the first solution found.
    """
    masks = _unit_masks(values)
    if masks is None:
        return 0
    rows, cols, boxes = masks
    cells = list(values)
    empties = [i for i in range(N_CELLS) if not cells[i]]
    n = len(empties)
    forbid_bit = BIT[forbid_digit] if 0 < forbid_digit <= 9 else 0
    count = 0

    def descend(k: int) -> bool:  # True: stop, enough solutions
        nonlocal count
        if k == n:
            count += 1
            if first is not None and not first:
                first.extend(cells)
            return count >= limit
        best, best_mask, best_n = k, 0, 10
        for j in range(k, n):
            i = empties[j]
            m = ~(rows[ROW_OF[i]] | cols[COL_OF[i]] | boxes[BOX_OF[i]]) & ALL_DIGITS
            if i == forbid_cell:
                m &= ~forbid_bit
            c = POPCOUNT[m]
            if c < best_n:
                best, best_mask, best_n = j, m, c
                if c <= 1:
                    break
        if best_n == 0:
            return False
        empties[k], empties[best] = empties[best], empties[k]
        i = empties[k]
        r, c, x = ROW_OF[i], COL_OF[i], BOX_OF[i]
        bits: tuple[int, ...] | list[int] = BITS_OF[best_mask]
        if rng is not None and best_n > 1:
            bits = list(bits)
            rng.shuffle(bits)
        for b in bits:
            rows[r] |= b
            cols[c] |= b
            boxes[x] |= b
            cells[i] = DIGIT_OF_BIT[b]
            if descend(k + 1):
                return True
            rows[r] ^= b
            cols[c] ^= b
            boxes[x] ^= b
        cells[i] = 0
        return False

    descend(0)
    return count


def count_solutions(puzzle: str, limit: int = 2) -> int:
    """Number of solutions of ``puzzle``, counting stops at ``limit`` (2 answers "is it unique?")."""
    return _search(grid_values(parse_grid(puzzle)), max(1, limit))


def solve_grid(puzzle: str) -> str | None:
    """The first solution of ``puzzle`` in search order, or None when it has none."""
    first: list[int] = []
    _search(grid_values(parse_grid(puzzle)), 1, first=first)
    return grid_to_str(first) if first else None


def random_solution(rng: random.Random) -> list[int]:
    """A random complete valid grid: a DFS fill of the empty grid with candidates in shuffled order."""
    first: list[int] = []
    _search([0] * N_CELLS, 1, rng=rng, first=first)
    return first


def _peer_mask(values: list[int], i: int) -> int:
    m = 0
    for j in PEERS[i]:
        m |= BIT[values[j]]
    return m


def _hidden_single_at(values: list[int], i: int, v: int) -> bool:
    """Whether some unit of blank ``i`` has no other blank where ``v`` could go."""
    b = BIT[v]

    def blocked(j: int) -> bool:
        return j == i or bool(values[j]) or bool(_peer_mask(values, j) & b)

    return any(all(blocked(j) for j in UNITS[u]) for u in UNITS_OF[i])


def dig_puzzle(solution: list[int], target: int, rng: random.Random) -> list[int]:
    """Blank cells of ``solution`` in random order while the solution stays unique, down to ``target``.

    Returns the puzzle; it has ``target`` givens, or more when every remaining given is needed.
    """
    values = list(solution)
    order = list(range(N_CELLS))
    rng.shuffle(order)
    givens = N_CELLS
    for i in order:
        if givens <= target:
            break
        v = values[i]
        values[i] = 0
        # Cheap common cases: the remaining givens force v back into i as a naked or hidden single.
        if POPCOUNT[~_peer_mask(values, i) & ALL_DIGITS] == 1 or _hidden_single_at(values, i, v):
            givens -= 1
            continue
        # The puzzle had one solution; a second one after blanking i must differ from it at i.
        if _search(values, 1, forbid_cell=i, forbid_digit=v):
            values[i] = v
        else:
            givens -= 1
    return values


# ---- replaying fills and traces -------------------------------------------------------------
_CELL = r"\(\s*([0-8])\s*,\s*([0-8])\s*\)"
_LIST = r"\[\s*([1-9](?:\s*,\s*[1-9])*)\s*\]"
_FILL_RE = re.compile(rf"{_CELL}\s*=\s*([1-9])", re.ASCII)
_GUESS_RE = re.compile(rf"{GUESS}\s*:\s*{_CELL}\s*{_LIST}\s*=\s*([1-9])", re.ASCII)
_NOCAND_RE = re.compile(rf"{NOCAND}\s*:\s*{_CELL}", re.ASCII)
_REVERT_RE = re.compile(rf"{REVERT}\s*:\s*{_CELL}\s*{_LIST}\s*=\s*{NONE}", re.ASCII)
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
# Canonical fills are most lines of any trace: a dict lookup skips the regex for them.
_CANONICAL_FILLS: dict[str, _Line] = {
    format_fill(i, v): (_FILL, i, (), v) for i in range(N_CELLS) for v in range(1, 10)
}


def _mask(digits: tuple[int, ...]) -> int:
    m = 0
    for d in digits:
        m |= BIT[d]
    return m


def _cell_index(match: re.Match[str]) -> int:
    return int(match.group(1)) * 9 + int(match.group(2))


def _candidates(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def _read_line(line: str, allow_search: bool) -> _Line:
    """Classify one stripped, non-empty line (pure function of the text, so results are cached)."""
    head = line[0] if len(line) <= MAX_LINE_CHARS else ""
    m: re.Match[str] | None = None
    if head == "(":
        m = _FILL_RE.fullmatch(line)
        if m:
            return (_FILL, _cell_index(m), (), int(m.group(3)))
    elif allow_search and head == "g":
        m = _GUESS_RE.fullmatch(line)
        if m:
            return (_GUESS, _cell_index(m), _candidates(m.group(3)), int(m.group(4)))
    elif allow_search and head == "n":
        m = _NOCAND_RE.fullmatch(line)
        if m:
            return (_NOCAND, _cell_index(m), (), 0)
    elif allow_search and head == "r":
        m = _REVERT_RE.fullmatch(line)
        if m:
            return (_REVERT, _cell_index(m), _candidates(m.group(3)), 0)
    expected = "'(r, c) = v', 'guess:', 'nocand:' or 'revert:'" if allow_search else "'(r, c) = v'"
    return (_BAD, f"unreadable line {line[:40]!r}; expected {expected}", (), 0)


class _Replayer:
    """The state machine behind ``replay``: a board, its 27 unit masks and a stack of open guesses."""

    def __init__(self, puzzle: list[int], max_errors: int) -> None:
        masks = _unit_masks(puzzle)
        if masks is None:
            raise ValueError("the puzzle repeats a digit in a unit")
        self.board = list(puzzle)
        self.givens = [v != 0 for v in puzzle]
        self.units = masks[0] + masks[1] + masks[2]  # indexed like UNITS: rows, columns, boxes
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
        b = BIT[v]
        units = self.units
        r, c, x = UNITS_OF[i]
        if not (units[r] | units[c] | units[x]) & b:
            return None
        u = next(u for u in (r, c, x) if units[u] & b)
        at = next((j for j in UNITS[u] if self.board[j] == v), i)
        return f"{UNIT_NAMES[u]} ({v} already at {CELL_NAMES[at]})"

    def place(self, i: int, v: int) -> None:
        b = BIT[v]
        units = self.units
        r, c, x = UNITS_OF[i]
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
            return f"; expected a retry or revert of {CELL_NAMES[self.stack[-1].cell]}"
        return ", but no guess is left open to return to"

    # -- one method per line kind ---------------------------------------------------------------
    def fill(self, ln: int, i: int, v: int) -> None:
        if self.failed:
            self.error(
                ln,
                f"fill {format_fill(i, v)} after a dead end{self.expected()}",
            )
            self.failed = False
        if self.board[i]:
            what = "a given" if self.givens[i] else "already filled"
            self.error(ln, f"cannot fill {CELL_NAMES[i]}: it is {what}")
            return
        clash = self.conflict(i, v)
        if clash:
            self.error(ln, f"cell {CELL_NAMES[i]} = {v} conflicts with {clash}")
        self.place(i, v)
        self.result.fills += 1

    def guess(self, ln: int, i: int, candidates: tuple[int, ...], v: int) -> None:
        if self.failed and self.stack and self.stack[-1].cell == i:
            self.retry(ln, self.stack[-1], candidates, v)
            return
        if self.failed:
            self.error(
                ln,
                f"guess at {CELL_NAMES[i]} after a dead end{self.expected()}",
            )
            self.failed = False
        if self.board[i]:
            self.error(ln, f"guess at {CELL_NAMES[i]}, which is already filled")
            return
        listed = _mask(candidates)
        if POPCOUNT[listed] != len(candidates):
            self.error(ln, f"candidate list {list(candidates)} of {CELL_NAMES[i]} repeats a digit")
        r, c, x = UNITS_OF[i]
        if listed & (self.units[r] | self.units[c] | self.units[x]):  # one mask test in the common case
            d = next(d for d in candidates if self.conflict(i, d))
            self.error(ln, f"candidate {d} of {CELL_NAMES[i]} conflicts with {self.conflict(i, d)}")
        if not listed & BIT[v]:
            self.error(ln, f"guess {CELL_NAMES[i]} = {v} is not among its candidates {list(candidates)}")
        self.stack.append(_Frame(i, candidates, BIT[v], (self.board[:], self.units[:], self.filled)))
        self.place(i, v)
        self.result.guesses += 1

    def retry(self, ln: int, frame: _Frame, candidates: tuple[int, ...], v: int) -> None:
        name = CELL_NAMES[frame.cell]
        if candidates != frame.candidates:
            self.error(
                ln, f"candidates of {name} changed from {list(frame.candidates)} to {list(candidates)}"
            )
        if v not in frame.candidates:
            self.error(ln, f"guess {name} = {v} is not among its candidates {list(frame.candidates)}")
        elif frame.tried & BIT[v]:
            self.error(ln, f"guess {name} = {v} was already tried")
        self.restore(frame)
        frame.tried |= BIT[v]
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
            self.error(ln, f"nocand at {CELL_NAMES[i]}, which is filled")
        self.failed = True
        self.result.dead_ends += 1

    def revert(self, ln: int, i: int, candidates: tuple[int, ...]) -> None:
        if not self.stack or self.stack[-1].cell != i:
            open_cell = CELL_NAMES[self.stack[-1].cell] if self.stack else "none"
            self.error(ln, f"revert of {CELL_NAMES[i]}, but the innermost open guess is {open_cell}")
            return
        frame = self.stack[-1]
        if not self.failed:
            self.error(ln, f"revert of {CELL_NAMES[i]} without a dead end below it")
        if candidates != frame.candidates:
            self.error(
                ln,
                f"candidates of {CELL_NAMES[i]} changed from {list(frame.candidates)} to {list(candidates)}",
            )
        if _mask(frame.candidates) & ~frame.tried:
            untried = next(d for d in frame.candidates if not frame.tried & BIT[d])
            self.error(ln, f"revert of {CELL_NAMES[i]} before trying {untried}")
        self.restore(frame)
        self.stack.pop()
        self.failed = True
        self.result.backtracks += 1
        self.result.gave_up = not self.stack


def replay(puzzle: str, text: str, *, allow_search: bool = True, stop_at_first_error: bool = False) -> Replay:
    """Replay fill lines (and, with ``allow_search``, guess/nocand/revert lines) against ``puzzle``.

    Every fill must target an empty cell with a digit its row, column and box lack; a trace must end
    when the grid is complete. Blank lines and spaces around tokens are tolerated. Bounded work:
    each distinct line is read once (a linear regex on at most MAX_LINE_CHARS characters), and each
    line then costs O(1) mask operations, or one board copy for a guess or backtrack.
    """
    rp = _Replayer(grid_values(puzzle), MAX_REPLAY_ERRORS)
    errors = rp.result.errors
    seen: dict[str, _Line] = {}  # other lines already read
    for ln, raw in enumerate(text.split("\n"), 1):
        read = _CANONICAL_FILLS.get(raw) or seen.get(raw)
        if read is None:
            line = raw.strip()
            if not line:
                continue
            read = seen[raw] = _read_line(line, allow_search)
        if rp.filled == N_CELLS:
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
        return f"the text ends with {N_CELLS - result.board.count('0')} of 81 cells filled"
    return "complete valid grid"


def detect_kind(text: str) -> str:
    """'trace' (search lines present), 'steps' (fill lines) or 'grid'."""
    if GUESS in text or NOCAND in text or REVERT in text:
        return "trace"
    if "=" in text or "(" in text:
        return "steps"
    return "grid"


# ---- the task -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SudokuConfig:
    """Knobs of the Sudoku generator (defaults: the paper's 22-26 givens)."""

    min_givens: int = 22
    max_givens: int = 26
    # Share of puzzles in the test split, decided by a hash of the puzzle text (content, not seed).
    test_fraction: float = 0.1
    # Random full grids to try before giving up on reaching <= max_givens (below ~21 this gets slow).
    max_tries: int = 1000

    def __post_init__(self) -> None:
        for name in ("min_givens", "max_givens", "max_tries"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if not 17 <= self.min_givens <= 80 or not 17 <= self.max_givens <= 80:
            raise ValueError(
                f"min_givens and max_givens must be in 17..80 (no unique puzzle has fewer than 17 givens), "
                f"got {self.min_givens} and {self.max_givens}"
            )
        if self.min_givens > self.max_givens:
            raise ValueError(f"min_givens ({self.min_givens}) must be <= max_givens ({self.max_givens})")
        if not isinstance(self.test_fraction, int | float) or not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction!r}")
        if self.max_tries < 1:
            raise ValueError(f"max_tries must be >= 1, got {self.max_tries}")


@dataclass(frozen=True, slots=True)
class SudokuProblem:
    puzzle: str  # 81 chars, '0' for a blank
    solution: str  # 81 chars, the unique solution

    @property
    def givens(self) -> int:
        return N_CELLS - self.puzzle.count("0")

    def to_dict(self) -> dict[str, Any]:
        return {"puzzle": self.puzzle, "solution": self.solution}


def grid_lines(grid: str) -> str:
    """An 81-character grid as nine lines of nine digits (the prompt of every Sudoku format)."""
    return "\n".join(grid[r * 9 : r * 9 + 9] for r in range(9)) + "\n"


def puzzle_of(problem: SudokuProblem | str) -> str:
    """The puzzle string of a problem or of a grid given as text."""
    return problem.puzzle if isinstance(problem, SudokuProblem) else parse_grid(problem)


@dataclass
class Sudoku:
    """The Sudoku task: unique-solution generator, exact solver, safe verifier and prompt."""

    config: SudokuConfig = field(default_factory=SudokuConfig)
    name: ClassVar[str] = "sudoku"

    @classmethod
    def from_config(cls, **overrides: Any) -> Sudoku:
        known = set(SudokuConfig.__dataclass_fields__)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"unknown sudoku option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(SudokuConfig(**overrides))

    # ---- problems -----------------------------------------------------------------------------
    def problem(self, puzzle: str, solution: str | None = None) -> SudokuProblem:
        """A problem from user text; the solution is computed (and must be unique) when not given."""
        puzzle = parse_grid(puzzle)
        if _unit_masks(grid_values(puzzle)) is None:
            raise ValueError(f"the puzzle repeats a digit: {find_conflict(grid_values(puzzle))}")
        if solution is None:
            first: list[int] = []
            n = _search(grid_values(puzzle), 2, first=first)
            if n != 1:
                raise ValueError(
                    "the puzzle has no solution" if n == 0 else "the puzzle has more than one solution"
                )
            return SudokuProblem(puzzle, grid_to_str(first))
        solution = parse_grid(solution)
        wrong = check_solution(puzzle, solution)
        if wrong:
            raise ValueError(f"the solution does not solve the puzzle: {wrong}")
        return SudokuProblem(puzzle, solution)

    def problem_from_dict(self, row: dict[str, Any]) -> SudokuProblem:
        return self.problem(row["puzzle"], row.get("solution"))

    def problem_key(self, problem: SudokuProblem) -> str:
        """Content key for de-duplication: the puzzle text."""
        return problem.puzzle

    def split_of(self, problem: SudokuProblem | str) -> str:
        """'test' or 'train' from a stable hash of the puzzle, so a puzzle always lands in one split."""
        digest = hashlib.blake2b(puzzle_of(problem).encode(), digest_size=8, person=b"sudoku-split").digest()
        return "test" if int.from_bytes(digest, "big") / 2**64 < self.config.test_fraction else "train"

    def generate(self, rng: random.Random) -> SudokuProblem:
        """A puzzle with a unique solution and a number of givens in [min_givens, max_givens].

        The target count is drawn uniformly; digging stops there or when every given left is needed,
        and a fresh grid is tried while that leaves more than ``max_givens``. So low counts come out
        a little rarer than uniform (about 2% of random dig-outs can reach 22 givens at all).
        """
        c = self.config
        for _ in range(c.max_tries):
            target = rng.randint(c.min_givens, c.max_givens)
            solution = random_solution(rng)
            puzzle = dig_puzzle(solution, target, rng)
            if N_CELLS - puzzle.count(0) <= c.max_givens:
                return SudokuProblem(grid_to_str(puzzle), grid_to_str(solution))
        raise RuntimeError(
            f"no puzzle with <= {c.max_givens} givens in {c.max_tries} grids; raise max_givens"
        )

    # ---- solving ------------------------------------------------------------------------------
    def solve(self, problem: SudokuProblem | str) -> str | None:
        """The solution grid (computed, not read from the problem), or None when there is none."""
        return solve_grid(puzzle_of(problem))

    def count_solutions(self, puzzle: SudokuProblem | str, limit: int = 2) -> int:
        return count_solutions(puzzle_of(puzzle), limit)

    # ---- text ---------------------------------------------------------------------------------
    def prompt(self, problem: SudokuProblem) -> str:
        """The puzzle as nine lines of nine digits, '0' for a blank (only vocabulary tokens)."""
        return grid_lines(problem.puzzle)

    def vocabulary(self) -> list[str]:
        return vocabulary()

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    # ---- verifying ----------------------------------------------------------------------------
    def verify(self, problem: SudokuProblem, answer: str) -> Verdict:
        """Check untrusted model text: a final grid, a list of fills, or a whole dfs trace."""
        try:
            return self._verify(problem, answer)
        except Exception as exc:  # a verifier bug must not crash a reward worker
            return reject(f"verifier error: {type(exc).__name__}: {exc}", "error")

    def _verify(self, problem: SudokuProblem, answer: str) -> Verdict:
        if not isinstance(answer, str):
            return reject(f"answer must be text, got {type(answer).__name__}")
        if len(answer) > MAX_ANSWER_CHARS:
            return reject(f"answer is {len(answer)} characters, over the {MAX_ANSWER_CHARS} limit")
        if not isinstance(problem, SudokuProblem):
            return reject(f"problem must be a SudokuProblem, got {type(problem).__name__}", "error")
        prompt = self.prompt(problem)
        if answer.startswith(prompt):  # prompt + completion, as a dataset row holds them
            answer = answer[len(prompt) :]
        kind = detect_kind(answer)
        if kind == "trace":
            return self.verify_trace(problem, answer)
        body = extract_answer(answer)
        if kind == "steps":
            return self.verify_steps(problem, body)
        return self.verify_grid(problem, body)

    def verify_grid(self, problem: SudokuProblem, text: str) -> Verdict:
        """Any complete valid grid that keeps every given is right (the puzzle's solution is unique)."""
        try:
            grid = parse_grid(text)
        except ValueError as exc:
            return reject(str(exc), "grid")
        wrong = check_solution(problem.puzzle, grid)
        if wrong:
            return reject(wrong, "grid")
        return accept("complete valid grid that keeps every given", "grid")

    def verify_steps(self, problem: SudokuProblem, text: str) -> Verdict:
        result = replay(problem.puzzle, text, allow_search=False, stop_at_first_error=True)
        if result.valid:
            return accept(f"{result.fills} legal fills complete the grid", "steps")
        return reject(replay_reason(result), "steps")

    def verify_trace(self, problem: SudokuProblem, text: str) -> Verdict:
        result = replay(problem.puzzle, text, allow_search=True, stop_at_first_error=True)
        if result.valid:
            return accept(
                f"trace replays legally to a complete valid grid ({result.backtracks} backtracks)", "trace"
            )
        return reject(replay_reason(result), "trace")
