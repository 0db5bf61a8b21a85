"""Sudoku ``backtrack-k``: the solution's fills with exactly k failed guesses on the way (paper 2 style).

Each wrong branch is a real failed subtree of the naive DFS: at some step of the solution path it
guesses a wrong but legal candidate of an empty cell, writes the fills the search's propagation forces
from it, reaches a cell with no candidate left, says so, and returns::

    <think>
    (0, 3) = 5
    ...
    guess: (4, 6) [2, 7, 8] = 2
    (4, 8) = 7
    (5, 6) = 8
    nocand: (3, 6)
    Wait, this doesn't lead to the correct solution. Let me go back to step 11.
    guess: (4, 6) [2, 7, 8] = 7
    (0, 5) = 1
    ...
    </think>
    <answer>534678912...</answer>

A step is a fill or guess line on the current line of thought, and "step s" is the board after the
first s of them, so a return erases the failed guess and everything it forced (the start is step 0).
After the return the same cell gets its right value, written as a guess with the same candidates
("erase and try the next candidate"); several returns may try several wrong values of one cell first.
The answer is the solved grid, n*n digits on one line (81 on 9x9; every board size works the same).

The k wrong branches are distinct (no two share cell and value), and each dead-ends by the naive
search's propagation alone (naked singles, no nested guess), so the parser can check it: the
``nocand`` cell has no candidate left on the board the lines built. The leaving points are drawn
uniformly along the solution path. A generated 22-26-given puzzle has hundreds of such branches along
its path; a puzzle with too few for k (a nearly full grid) raises ValueError saying how many it has.

The parser replays the lines: every fill and guess must be legal on the board of the current line of
thought (a detour's fills are checked against the detour's own board, not the solution), a guess must
list exactly the cell's candidates, every ``nocand`` must be a real dead end, and a return
(``Wait, ... Let me go back to step s.``, one backtrack each) must follow one. ``parse(...).valid``
needs all of that, a reasoning that ends on the answer's grid, and an answer that solves the puzzle;
``verify`` (the task's, for ``<think>`` text) reads the ``<answer>`` grid alone, as the reward does,
and names the reasoning's first error when it accepts a right grid after a faulty one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from backtrack.tasks.base import MAX_ANSWER_CHARS, MAX_ANSWER_LINES, Verdict, accept, reject
from backtrack.tasks.sudoku.board import (
    check_solution,
    geometry_of,
    grid_lines,
    grid_to_str,
    grid_values,
    parse_grid,
)
from backtrack.tasks.sudoku.formats.common import events_for, solution_fills
from backtrack.tasks.sudoku.lines import (
    LINE_BAD,
    LINE_GUESS,
    LINE_NOCAND,
    LINE_REVERT,
    format_fill,
    format_guess,
    format_nocand,
    read_line,
)
from backtrack.tasks.sudoku.problem import SudokuProblem, puzzle_of
from backtrack.tasks.sudoku.search import propagate_guess
from backtrack.traces.base import ParsedTrace, Trace

__all__ = ["parse", "render", "return_line", "verify", "well_formed"]

MAX_ERRORS = 20
MAX_RETURN_CHARS = 200  # the return sentence is ~80 characters
KIND = "think"


def return_line(step: int) -> str:
    where = "the start" if step == 0 else f"step {step}"
    return f"Wait, this doesn't lead to the correct solution. Let me go back to {where}."


def _candidates(board: list[int], i: int) -> tuple[int, ...]:
    """The digits that no peer of cell ``i`` holds, ascending (the naive search's candidates)."""
    geo = geometry_of(board)
    used = 0
    bit = geo.bit
    for j in geo.peers[i]:
        used |= bit[board[j]]
    return geo.digits_of[~used & geo.all_digits]


# ---- rendering ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Detour:
    """One failed guess: its value, the fills propagation forces from it, the cell left empty-handed."""

    value: int
    fills: tuple[tuple[int, int], ...]
    dead: int


@dataclass(slots=True)
class _Site:
    """Where wrong branches leave the solution path: after ``step`` steps, at ``cell``."""

    step: int
    cell: int
    candidates: tuple[int, ...]
    board: str  # the board after ``step`` steps
    untried: list[int]  # wrong values not tested yet, in random order
    detours: list[_Detour] = field(default_factory=list)

    def add_detour(self) -> bool:
        """Test untried wrong values until one dead-ends by propagation alone; False when none does."""
        while self.untried:
            value = self.untried.pop()
            fills, dead = propagate_guess(self.board, self.cell, value)
            if dead >= 0:
                self.detours.append(_Detour(value, tuple(fills), dead))
                return True
        return False


def _board_after(puzzle: list[int], path: list[tuple[int, int]], step: int) -> list[int]:
    board = list(puzzle)
    for i, v in path[:step]:
        board[i] = v
    return board


def _site_at(board: list[int], step: int, solution: str, rng: random.Random) -> _Site | None:
    """A site at ``step``: a random empty cell with a wrong value that dead-ends, or None."""
    cells = [i for i in range(len(board)) if not board[i]]
    rng.shuffle(cells)
    text = grid_to_str(board)
    for i in cells:
        candidates = _candidates(board, i)
        wrong = [v for v in candidates if str(v) != solution[i]]
        if not wrong:
            continue
        rng.shuffle(wrong)
        site = _Site(step, i, candidates, text, wrong)
        if site.add_detour():
            return site
    return None


def _plan(
    puzzle: list[int], fills: list[tuple[int, int]], solution: str, k: int, rng: random.Random
) -> tuple[list[tuple[int, int]], list[_Site]]:
    """The solution path as written and the sites of k wrong branches along it.

    Leaving points are k uniform draws over the path's steps; when the last of them leave no room (late
    steps of a path rarely have a wrong value that dead-ends), the draws are redone over the first half
    of the path, then the first quarter, and so on, before giving up with a ValueError.
    """
    if k == 0:
        return list(fills), []
    m = len(fills)
    span, found = m, 0
    while span:
        planned = _plan_once(puzzle, fills, solution, sorted(rng.randrange(span) for _ in range(k)), rng)
        if isinstance(planned, int):
            found = max(found, planned)
            span //= 2
            continue
        return planned
    raise ValueError(
        f"sudoku puzzle {grid_to_str(puzzle)} gave only {found} wrong branches that dead-end by propagation "
        f"along its solution path, fewer than k={k}"
    )


def _plan_once(
    puzzle: list[int], fills: list[tuple[int, int]], solution: str, targets: list[int], rng: random.Random
) -> tuple[list[tuple[int, int]], list[_Site]] | int:
    """Sites for the sorted leaving points ``targets``, or how many branches were found when they fall short.

    A target at or before the last site tries another wrong value of that site's cell; otherwise the
    first step from the target on (then back towards the last site) that has a dead-ending wrong value
    becomes a new site, and the site's cell moves to right after it on the path (any order of the
    solution's fills is legal). Later sites lie after earlier ones, so their cells are distinct, and so
    are a site's values.
    """
    path = list(fills)
    m = len(path)
    sites: list[_Site] = []
    for t in targets:
        if sites and t <= sites[-1].step and sites[-1].add_detour():
            continue
        lo = sites[-1].step + 1 if sites else 0
        start = max(t, lo)
        site = None
        for step in (*range(start, m), *range(start - 1, lo - 1, -1)):
            site = _site_at(_board_after(puzzle, path, step), step, solution, rng)
            if site is not None:
                break
        if site is None:  # nothing after the last site: one more wrong value of an earlier cell
            if any(s.add_detour() for s in reversed(sites)):
                continue
            return sum(len(s.detours) for s in sites)
        sites.append(site)
        cell = site.cell
        rest = (f for f in path[site.step :] if f[0] != cell)
        path = [*path[: site.step], (cell, int(solution[cell])), *rest]
    return path, sites


def render(problem: SudokuProblem | str, rng: random.Random | None = None, *, k: int = 1) -> Trace:
    """The solution with exactly ``k`` distinct failed guesses (drawn with ``rng``; seed 0 without)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    rng = rng or random.Random(0)
    puzzle = grid_values(puzzle_of(problem))
    fills, solved = solution_fills(events_for(problem, "naive"))
    if not solved:
        raise ValueError("the sudoku puzzle has no solution, so it has no backtrack-k trace")
    solution = grid_to_str(_board_after(puzzle, fills, len(fills)))
    geo = geometry_of(puzzle)
    path, sites = _plan(puzzle, fills, solution, k, rng)
    lines = ["<think>"]
    written = steps = 0
    for site in sites:
        lines.extend(format_fill(i, v, geo) for i, v in path[written : site.step])
        for detour in sorted(site.detours, key=lambda d: d.value):
            lines.append(format_guess(site.cell, site.candidates, detour.value, geo))
            lines.extend(format_fill(i, v, geo) for i, v in detour.fills)
            lines.append(format_nocand(detour.dead, geo))
            lines.append(return_line(site.step))
            steps += 1 + len(detour.fills)
        lines.append(format_guess(site.cell, site.candidates, int(solution[site.cell]), geo))
        written = site.step + 1
    lines.extend(format_fill(i, v, geo) for i, v in path[written:])
    steps += len(path)
    lines += ["</think>", f"<answer>{solution}</answer>"]
    backtracks = sum(len(s.detours) for s in sites)
    return Trace("\n".join(lines), True, backtracks, backtracks, steps, solution)


# ---- reading ------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Reading:
    """What replaying a backtrack-k text found. ``errors`` are about the reasoning (``<think>``),
    ``answer_error`` about the ``<answer>`` grid (None when it solves the puzzle)."""

    errors: list[str] = field(default_factory=list)
    answer: str | None = None  # the answer's grid, when it reads as n*n cells of the puzzle's size
    answer_error: str | None = "no <answer>...</answer> given"
    backtracks: int = 0
    dead_ends: int = 0
    steps: int = 0
    closed: bool = False  # a </think> was seen
    unreadable: bool = False  # some line is in no form of the format

    def error(self, lineno: int, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"line {lineno}: {message}")


def _return_step(line: str) -> int | None:
    """The step a return line goes back to, or None when the line does not read as a return."""
    if len(line) > MAX_RETURN_CHARS:
        return None
    _, sep, where = line.rpartition("go back to ")
    where = where.strip().removesuffix(".").strip()
    if not sep:
        return None
    if where == "the start":
        return 0
    number = where.removeprefix("step ")
    if number != where and number.isascii() and number.isdigit() and len(number) <= 4:
        return int(number)
    return None


def _answer_block(text: str) -> str | None:
    end = text.rfind("</answer>")
    start = text.rfind("<answer>", 0, end) if end != -1 else -1
    return None if start == -1 else text[start + len("<answer>") : end].strip()


def _replay(puzzle: str, text: str, reading: _Reading) -> None:
    """Replay the reasoning lines into ``reading``: bounded, O(1) amortised work per line."""
    givens = grid_values(puzzle)
    geo = geometry_of(givens)
    board = list(givens)
    history: list[int] = []  # cells filled by the steps of the current line of thought, in order
    dead = False  # a nocand was written and no return has followed yet
    opened = False
    for ln, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("<answer>"):
            break
        if line == "<think>":
            if opened:
                reading.error(ln, "a second <think>")
            opened = True
            continue
        if not opened:
            reading.error(ln, "the text must open with <think>")
            reading.unreadable = opened = True
        if line == "</think>":
            if reading.closed:
                reading.error(ln, "a second </think>")
            reading.closed = True
            continue
        if reading.closed:
            reading.error(ln, f"unexpected line {line[:40]!r} between </think> and <answer>")
            reading.unreadable = True
            continue
        if line.startswith("Wait"):
            reading.backtracks += 1
            step = _return_step(line)
            if step is None:
                reading.error(
                    ln, f"unreadable return {line[:40]!r}; expected 'Wait, ... Let me go back to step s.'"
                )
                reading.unreadable = True
            elif not dead:
                reading.error(ln, "a return without a dead end (nocand) before it")
            if step is not None and step >= len(history):
                reading.error(ln, f"cannot go back to step {step}: this line of thought has {len(history)}")
            elif step is not None:
                for i in history[step:]:
                    board[i] = 0
                del history[step:]
            dead = False
            continue
        kind, i, listed, v = read_line(raw, geo)
        if kind == LINE_BAD:
            reading.error(ln, i)
            reading.unreadable = True
            continue
        if kind == LINE_REVERT:
            reading.error(ln, "a revert line; in backtrack-k a failed guess ends with nocand and a return")
            continue
        name = geo.cell_names[i]
        if kind == LINE_NOCAND:
            reading.dead_ends += 1
            if dead:
                reading.error(ln, "a second nocand; expected a return")
            if board[i]:
                reading.error(ln, f"nocand at {name}, which is filled")
            elif left := _candidates(board, i):
                reading.error(ln, f"nocand at {name}, which still has candidates {list(left)}")
            dead = True
            continue
        reading.steps += 1  # a fill or a guess
        if dead:
            reading.error(ln, "a step after a dead end; expected a return ('Wait, ... go back to step s.')")
            dead = False
        if board[i]:
            reading.error(ln, f"cannot fill {name}: it is {'a given' if givens[i] else 'already filled'}")
            continue
        legal = _candidates(board, i)
        if kind == LINE_GUESS:
            if listed != legal:
                reading.error(ln, f"the candidates of {name} are {list(legal)}, not {list(listed)}")
            if v not in listed:
                reading.error(ln, f"guess {name} = {v} is not among its listed candidates")
        if v not in legal:
            reading.error(ln, f"{name} = {v} is illegal: its row, column or box already holds {v}")
        board[i] = v  # placed even when wrong, so the board is the one the text claims
        history.append(i)
    if not opened:
        reading.error(0, "no <think> reasoning")
        reading.unreadable = True
    if dead:
        reading.error(0, "the reasoning ends at a dead end without a return")
    if not reading.closed:
        reading.error(0, "no </think> before the answer")
    reached = grid_to_str(board)
    body = _answer_block(text)
    if body is None:
        return
    try:
        grid = parse_grid(body, geo)
    except ValueError as exc:
        reading.answer_error = f"answer: {exc}"
        return
    reading.answer = grid
    wrong = check_solution(puzzle, grid)
    reading.answer_error = f"answer: {wrong}" if wrong else None
    if reached != grid:
        at = next(j for j in range(geo.n_cells) if reached[j] != grid[j])
        reading.error(0, f"the reasoning's grid differs from the answer at {geo.cell_names[at]}")


def _read(problem: SudokuProblem | str, text: str) -> _Reading:
    """Read untrusted text; never raises (a malformed problem is reported as an answer error)."""
    reading = _Reading()
    try:
        puzzle = puzzle_of(problem)
        if not isinstance(text, str):
            reading.answer_error = f"text must be a string, got {type(text).__name__}"
            return reading
        if len(text) > MAX_ANSWER_CHARS:
            reading.answer_error = f"text is {len(text)} characters, over the {MAX_ANSWER_CHARS} limit"
            return reading
        if text.count("\n") >= MAX_ANSWER_LINES:
            reading.answer_error = f"text has over {MAX_ANSWER_LINES} lines"
            return reading
        prompt = grid_lines(puzzle)
        if text.startswith(prompt):  # prompt + completion, as a dataset row holds them
            text = text[len(prompt) :]
        _replay(puzzle, text, reading)
    except Exception as exc:  # a bug must not crash a reward worker; model text cannot get here
        reading.answer_error = f"cannot read the text: {type(exc).__name__}: {exc}"
    return reading


def parse(problem: SudokuProblem | str, text: str) -> ParsedTrace:
    """Replay a (possibly model-written) backtrack-k text; never raises. ``backtracks`` counts returns,
    ``dead_ends`` nocand lines, ``steps`` fill and guess lines."""
    r = _read(problem, text)
    errors = ([r.answer_error] if r.answer_error else []) + r.errors
    return ParsedTrace(
        goal_claimed=r.answer is not None and "0" not in r.answer,
        valid=not errors,
        backtracks=r.backtracks,
        dead_ends=r.dead_ends,
        steps=r.steps,
        answer=r.answer,
        errors=errors,
    )


def verify(problem: SudokuProblem | str, text: str) -> Verdict:
    """The ``<answer>`` grid decides (kind ``think``); the reason names the reasoning's first error."""
    r = _read(problem, text)
    if r.answer_error:
        return reject(r.answer_error, KIND)
    if r.errors:
        return accept(f"the answer solves the puzzle, but the reasoning has errors: {r.errors[0]}", KIND)
    plural = "" if r.backtracks == 1 else "s"
    return accept(
        f"the answer solves the puzzle after a legal reasoning with {r.backtracks} backtrack{plural}", KIND
    )


def well_formed(problem: SudokuProblem | str, text: str) -> bool:
    """Every line in a form of the format, ``</think>`` closed, and an answer of n*n digits 1-n."""
    r = _read(problem, text)
    return r.closed and not r.unreadable and r.answer is not None and "0" not in r.answer
