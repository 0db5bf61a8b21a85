"""An exact, bounded constraint solver for zebra puzzles: which house holds each value.

Each value's possible houses are a bitmask. Propagation applies the clues (a value keeps a house
only if the clue's other value still has a house that fits), the one-value-per-house rule (a placed
value leaves its siblings; a house only one sibling can take goes to it), and repeats to a fixpoint;
the search then branches on the value with the fewest houses left. It counts solutions up to a
limit, so "unique" is checked, not assumed, and a node budget bounds the work on any input.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from backtrack.tasks.zebra_puzzles.problem import ZebraProblem

Domains = list[list[int]]  # domains[attribute][value]: bitmask of houses (bit h = house h + 1)
Placement = tuple[tuple[int, ...], ...]  # placement[attribute][value]: house index, 0-based

# reasoning-gym's puzzles take at most 10 nodes at 4x4 and 43 at 6x6 (uniqueness proof included), so
# this budget is far above any generated puzzle while bounding a hand-made one (a 4x4 puzzle without
# clues stops here after ~40 ms instead of enumerating its 331,776 solutions).
MAX_NODES = 1_000

RELATIONS: dict[str, Callable[[int, int], bool]] = {
    "same_house": lambda x, y: x == y,
    "consecutive": lambda x, y: y == x + 1,
    "beside": lambda x, y: abs(x - y) == 1,
    "left_of": lambda x, y: x < y,
    "right_of": lambda x, y: x > y,
    "one_between": lambda x, y: abs(x - y) == 2,
    "two_between": lambda x, y: abs(x - y) == 3,
}


class SearchBudgetExceeded(RuntimeError):
    pass


def _bits(mask: int) -> list[int]:
    return [h for h in range(mask.bit_length()) if mask >> h & 1]


def _partners(kind: str, n: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """For each house x, the mask of houses y with rel(x, y), and the same for the reverse direction."""
    rel = RELATIONS[kind]
    forward = tuple(sum(1 << y for y in range(n) if rel(x, y)) for x in range(n))
    backward = tuple(sum(1 << x for x in range(n) if rel(x, y)) for y in range(n))
    return forward, backward


def _supported(domain: int, other: int, partners: tuple[int, ...]) -> int:
    return sum(1 << x for x in _bits(domain) if other & partners[x])


class _Search:
    def __init__(self, problem: ZebraProblem, limit: int, max_nodes: int) -> None:
        self.n = problem.n_houses
        self.limit = limit
        self.max_nodes = max_nodes
        self.nodes = 0
        self.found: list[Placement] = []
        self.binary = []
        for clue in problem.clues:
            if clue.second is not None:
                forward, backward = _partners(clue.kind, self.n)
                self.binary.append((clue.first, clue.second, forward, backward))
        full = (1 << self.n) - 1
        self.start: Domains = [[full] * self.n for _ in problem.attributes]
        for clue in problem.clues:
            if clue.second is None and clue.house is not None:
                (a, v), bit = clue.first, 1 << (clue.house - 1)
                self.start[a][v] &= bit if clue.kind == "found_at" else ~bit

    def propagate(self, d: Domains) -> bool:
        """Narrow ``d`` in place to a fixpoint; False when some value has no house left."""
        changed = True
        while changed:
            changed = False
            for (a1, v1), (a2, v2), forward, backward in self.binary:
                new1 = _supported(d[a1][v1], d[a2][v2], forward)
                new2 = _supported(d[a2][v2], new1, backward)
                if new1 != d[a1][v1] or new2 != d[a2][v2]:
                    d[a1][v1], d[a2][v2] = new1, new2
                    changed = True
                if not new1 or not new2:
                    return False
            for row in d:
                for v, mask in enumerate(row):
                    if mask & (mask - 1) == 0:  # placed: no sibling may take this house
                        for w in range(self.n):
                            if w != v and row[w] & mask:
                                row[w] &= ~mask
                                changed = True
                                if not row[w]:
                                    return False
                for h in range(self.n):
                    holders = [v for v in range(self.n) if row[v] >> h & 1]
                    if not holders:
                        return False
                    if len(holders) == 1 and row[holders[0]] != 1 << h:
                        row[holders[0]] = 1 << h
                        changed = True
        return True

    def run(self, d: Domains) -> bool:
        """Search below ``d``; True once ``limit`` solutions are found."""
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise SearchBudgetExceeded(f"zebra search passed {self.max_nodes} nodes")
        if not self.propagate(d):
            return False
        best = None
        for a, row in enumerate(d):
            for v, mask in enumerate(row):
                size = mask.bit_count()
                if size > 1 and (best is None or size < best[0]):
                    best = (size, a, v)
        if best is None:
            self.found.append(tuple(tuple(mask.bit_length() - 1 for mask in row) for row in d))
            return len(self.found) >= self.limit
        _, a, v = best
        for h in _bits(d[a][v]):
            child = [list(row) for row in d]
            child[a][v] = 1 << h
            if self.run(child):
                return True
        return False


def solutions(problem: ZebraProblem, limit: int = 2, max_nodes: int = MAX_NODES) -> list[Placement]:
    """Up to ``limit`` placements satisfying every clue (raises SearchBudgetExceeded past ``max_nodes``)."""
    search = _Search(problem, limit, max_nodes)
    search.run([list(row) for row in search.start])
    return search.found


@lru_cache(maxsize=4096)
def unique_solution(problem: ZebraProblem) -> Placement | None:
    """The placement when the clues allow exactly one, else None (memoised: verifiers ask often)."""
    found = solutions(problem, limit=2)
    return found[0] if len(found) == 1 else None
