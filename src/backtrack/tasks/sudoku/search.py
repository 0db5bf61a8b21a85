"""Depth-first search on Sudoku that reports what it does as ``Event``s.

Two strategies share one DFS: ``dfs_naive`` only fills naked singles before it guesses;
``dfs_strategy`` also applies human techniques (hidden singles, naked pairs and triples, locked
candidates) and so guesses far less. Both pick the empty cell with the fewest candidates, try its
candidates in increasing order, and undo a failed branch completely.

Events (``action``/``info`` use row and column indices, not cell numbers):

- EXPAND      a node becomes current (root, or the child of a guess); ``state`` is its board
- STEP        a forced fill, ``action=(r, c, v)``
- GENERATE    a guess, ``action=(r, c, v)``, ``info=`` the candidate tuple it chooses from
- DEAD_END    a contradiction, ``info=(r, c)``: an empty cell without candidates, or (strategy) the
              first empty cell of a unit in which some missing digit has no place left
- BACKTRACK   the guess ``action=(r, c, v)`` failed and was undone; ``info={"candidates": ...,
              "exhausted": bool}``, exhausted when it was the last candidate (the cell is reverted)
- GOAL        the grid is complete

There is exactly one BACKTRACK per failed guess; a run cut short by a limit stops *before* a guess,
without a BACKTRACK for a failure it will not act on, so text rendered from the events matches them.
``state`` is always the board after the event (81 characters on 9x9); the board's size comes from
the puzzle, and units are its rows, columns and boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from enum import Enum
from itertools import combinations

from backtrack.search.events import Event, EventKind
from backtrack.tasks.sudoku.board import geometry_of, grid_to_str, grid_values
from backtrack.tasks.sudoku.problem import SudokuProblem, puzzle_of

__all__ = ["STRATEGIES", "dfs_naive", "dfs_strategy", "propagate_guess", "search_events"]


class _Status(Enum):
    SOLVED = "solved"
    FAILED = "failed"
    STOPPED = "stopped"


class _DeadEnd(Exception):
    """Raised inside propagation at a contradiction; carries the cell to report."""

    def __init__(self, cell: int) -> None:
        self.cell = cell


class _Search:
    """A board with per-cell candidate masks; ``techniques`` switches on the human deductions."""

    def __init__(
        self, puzzle: str, techniques: bool, max_guesses: int | None, max_events: int | None
    ) -> None:
        self.board = grid_values(puzzle)
        self.geo = geo = geometry_of(self.board)
        self.bit, self.peers = geo.bit, geo.peers  # the hot lookups of ``place``
        self.cands = [0] * geo.n_cells
        for i in range(geo.n_cells):
            if not self.board[i]:
                used = 0
                for j in geo.peers[i]:
                    used |= geo.bit[self.board[j]]
                self.cands[i] = ~used & geo.all_digits
        self.techniques = techniques
        self.max_guesses = max_guesses
        self.max_events = max_events
        self.guesses = 0
        self.events = 0
        self.pending: list[Event] = []  # fills found inside a propagation pass, emitted in order

    # -- bookkeeping --------------------------------------------------------------------------
    def state(self) -> str:
        return grid_to_str(self.board)

    def event(
        self, kind: EventKind, node: tuple[int, ...], action: object = None, info: object = None
    ) -> Event:
        self.events += 1
        return Event(kind, node, self.state(), action, info)

    def out_of_budget(self) -> bool:
        return (self.max_guesses is not None and self.guesses >= self.max_guesses) or (
            self.max_events is not None and self.events >= self.max_events
        )

    def place(self, i: int, v: int) -> None:
        b = self.bit[v]
        self.board[i] = v
        cands = self.cands
        cands[i] = 0
        for j in self.peers[i]:
            cands[j] &= ~b

    # -- deductions ---------------------------------------------------------------------------
    def naked_singles(self, node: tuple[int, ...]) -> bool:
        """One row-major pass filling every cell left with one candidate; raises at an empty one."""
        progress = False
        board, cands, geo = self.board, self.cands, self.geo
        popcount, digit_of_bit = geo.popcount, geo.digit_of_bit
        for i in range(geo.n_cells):
            if board[i]:
                continue
            m = cands[i]
            if not m:
                raise _DeadEnd(i)
            if popcount[m] == 1:
                v = digit_of_bit[m]
                self.place(i, v)
                self.pending.append(self.event(EventKind.STEP, node, (geo.row_of[i], geo.col_of[i], v)))
                progress = True
        return progress

    def hidden_single(self, node: tuple[int, ...]) -> bool:
        """Fill the first digit that has one place left in some unit; raises when one has none."""
        board, cands, geo = self.board, self.cands, self.geo
        for unit in geo.units:
            present = 0
            for i in unit:
                present |= geo.bit[board[i]]
            missing = ~present & geo.all_digits
            for b in _bits(missing):
                spot = -1
                for i in unit:
                    if cands[i] & b:
                        if spot >= 0:
                            spot = -2
                            break
                        spot = i
                if spot == -1:
                    raise _DeadEnd(next(i for i in unit if not board[i]))
                if spot >= 0:
                    v = geo.digit_of_bit[b]
                    self.place(spot, v)
                    self.pending.append(
                        self.event(EventKind.STEP, node, (geo.row_of[spot], geo.col_of[spot], v))
                    )
                    return True
        return False

    def naked_subsets(self) -> bool:
        """Naked pairs and triples: k cells of a unit sharing k candidates clear them elsewhere."""
        cands, popcount = self.cands, self.geo.popcount
        for unit in self.geo.units:
            open_cells = [i for i in unit if cands[i]]
            for size in (2, 3):
                small = [i for i in open_cells if popcount[cands[i]] <= size]
                if len(small) < size or len(open_cells) <= size:
                    continue
                for group in combinations(small, size):
                    union = 0
                    for i in group:
                        union |= cands[i]
                    if popcount[union] != size:
                        continue
                    changed = False
                    for i in open_cells:
                        if i not in group and cands[i] & union:
                            cands[i] &= ~union
                            changed = True
                    if changed:
                        return True
        return False

    def locked_candidates(self) -> bool:
        """Pointing (a box's digit confined to one line) and claiming (a line's digit in one box)."""
        geo = self.geo
        units, n = geo.units, geo.n
        # Boxes (pointing looks at their rows and columns) and lines (claiming looks at their boxes).
        for unit in units[2 * n :]:
            if self._lock(
                unit, (geo.row_of, geo.col_of), lambda key, which: units[key if which == 0 else n + key]
            ):
                return True
        return any(
            self._lock(unit, (geo.box_of,), lambda key, which: units[2 * n + key]) for unit in units[: 2 * n]
        )

    def _lock(
        self,
        unit: tuple[int, ...],
        keys: tuple[tuple[int, ...], ...],
        target_unit: Callable[[int, int], tuple[int, ...]],
    ) -> bool:
        """For each digit of ``unit`` whose places share one ``keys`` index, clear it from that unit."""
        cands = self.cands
        union = 0
        for i in unit:
            union |= cands[i]
        for b in _bits(union):
            spots = [i for i in unit if cands[i] & b]
            for which, key_of in enumerate(keys):
                key = key_of[spots[0]]
                if all(key_of[i] == key for i in spots[1:]):
                    changed = False
                    for j in target_unit(key, which):
                        if j not in unit and cands[j] & b:
                            cands[j] &= ~b
                            changed = True
                    if changed:
                        return True
        return False

    def propagate(self, node: tuple[int, ...]) -> tuple[list[Event], int]:
        """Apply deductions until none applies: the fills made, and a dead-end cell or -1."""
        self.pending = []
        try:
            while self.naked_singles(node) or (
                self.techniques
                and (self.hidden_single(node) or self.naked_subsets() or self.locked_candidates())
            ):
                pass
        except _DeadEnd as dead:
            return self.pending, dead.cell
        return self.pending, -1

    # -- the DFS ------------------------------------------------------------------------------
    def choose_cell(self) -> int:
        """The empty cell with the fewest candidates (first in row-major order on ties)."""
        best, best_n = -1, self.geo.n + 1
        popcount = self.geo.popcount
        for i in range(self.geo.n_cells):
            if not self.board[i]:
                n = popcount[self.cands[i]]
                if n < best_n:
                    best, best_n = i, n
                    if n <= 2:
                        break
        return best

    def run(self, node: tuple[int, ...]) -> Generator[Event, None, _Status]:
        """Search below ``node``, yielding its events; returns how the node ended."""
        yield self.event(EventKind.EXPAND, node)
        fills, dead = self.propagate(node)
        yield from fills
        if dead >= 0:
            yield self.event(EventKind.DEAD_END, node, info=(self.geo.row_of[dead], self.geo.col_of[dead]))
            return _Status.FAILED
        cell = self.choose_cell()
        if cell < 0:
            yield self.event(EventKind.GOAL, node)
            return _Status.SOLVED
        candidates = self.geo.digits_of[self.cands[cell]]
        saved = (self.board[:], self.cands[:])
        r, c = self.geo.row_of[cell], self.geo.col_of[cell]
        for k, v in enumerate(candidates):
            if self.out_of_budget():
                return _Status.STOPPED
            if k > 0:  # the previous candidate failed: control is back at this choice point
                failed = (r, c, candidates[k - 1])
                yield self.event(
                    EventKind.BACKTRACK, node, failed, {"candidates": candidates, "exhausted": False}
                )
            self.place(cell, v)
            self.guesses += 1
            yield self.event(EventKind.GENERATE, node, (r, c, v), candidates)
            status = yield from self.run((*node, k))
            if status is not _Status.FAILED:
                return status
            self.board, self.cands = saved[0][:], saved[1][:]
        failed = (r, c, candidates[-1])
        yield self.event(EventKind.BACKTRACK, node, failed, {"candidates": candidates, "exhausted": True})
        return _Status.FAILED


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low
        mask ^= low


def _events(
    problem: SudokuProblem | str, techniques: bool, max_guesses: int | None, max_events: int | None
) -> Iterator[Event]:
    search = _Search(puzzle_of(problem), techniques, max_guesses, max_events)
    yield from search.run(())


def dfs_naive(
    problem: SudokuProblem | str, *, max_guesses: int | None = None, max_events: int | None = None
) -> Iterator[Event]:
    """DFS that fills naked singles, then guesses at the cell with the fewest candidates.

    ``max_guesses``/``max_events`` bound the run: it stops before the next guess once either is reached.
    """
    return _events(problem, False, max_guesses, max_events)


def dfs_strategy(
    problem: SudokuProblem | str, *, max_guesses: int | None = None, max_events: int | None = None
) -> Iterator[Event]:
    """Like ``dfs_naive``, but hidden singles, naked pairs/triples and locked candidates come first."""
    return _events(problem, True, max_guesses, max_events)


STRATEGIES: dict[str, Callable[..., Iterator[Event]]] = {"naive": dfs_naive, "strategy": dfs_strategy}


def search_events(
    problem: SudokuProblem | str, strategy: str = "naive", **limits: int | None
) -> Iterator[Event]:
    """The events of ``strategy`` ('naive' or 'strategy') on ``problem``."""
    try:
        run = STRATEGIES[strategy]
    except KeyError:
        raise ValueError(
            f"unknown sudoku search strategy {strategy!r} (known: {', '.join(STRATEGIES)})"
        ) from None
    return run(problem, **limits)


def propagate_guess(board: str, cell: int, value: int) -> tuple[list[tuple[int, int]], int]:
    """What ``dfs_naive`` does right after guessing ``value`` at empty ``cell`` of ``board``: the forced
    fills it makes, as (cell, digit) in order, and the cell it then finds without candidates (-1 when
    it finds none and would guess again). A dead end here is a whole failed subtree of the search."""
    search = _Search(board, False, None, None)
    search.place(cell, value)
    fills, dead = search.propagate(())
    n = search.geo.n
    return [(r * n + c, v) for r, c, v in (e.action for e in fills)], dead  # type: ignore[misc]
