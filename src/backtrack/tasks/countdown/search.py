"""Symbolic search over CountDown states, emitting events (see ``backtrack.search.events``).

The DFS follows the Stream-of-Search generator that the reference study used: at each node every
(pair, operation) child is generated, children whose heuristic exceeds the threshold (the target) are
pruned, the rest are sorted by heuristic and expanded depth-first. Because of that pruning the DFS
misses some solvable problems (~70% solved for 4 numbers in the paper); failed searches are kept.

Event conventions (the renderers in ``backtrack.traces`` rely on them):
- ``EXPAND(node, state=numbers, info=ops)``: first visit of an inner node (state stated);
- ``GENERATE(child, state=child numbers, action=Step, info=ops to the child)``: an operation tried;
- ``GOAL(child)`` / ``DEAD_END(child)`` right after the GENERATE of a final state (or, in ``think``
  mode, of a two-number state known to miss the target);
- ``BACKTRACK(node, state, info=ops)``: return to an already visited node before its next child.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

from backtrack.search.events import Event, EventKind
from backtrack.tasks.countdown.problem import CountdownProblem
from backtrack.tasks.countdown.rules import Step, combine, reachable_values

EXPAND, GENERATE, BACKTRACK = EventKind.EXPAND, EventKind.GENERATE, EventKind.BACKTRACK
GOAL, DEAD_END = EventKind.GOAL, EventKind.DEAD_END

HEURISTICS = ("sum", "mult")
# How a node's surviving children are ordered: by heuristic (the paper's DFS), in the order they are
# generated (pairs left to right, then + * - /), or shuffled. "heuristic" ties the order of the explored
# results to the target; the other two do not, though pruning still keeps only results near it.
ORDERS = ("heuristic", "generation", "random")


@dataclass(frozen=True, slots=True)
class Heuristic:
    """A state's score as a sum of per-number costs (optionally averaged); lower is more promising.

    Kept in this additive form so that children, which share all numbers but one with their
    parent's other numbers, are scored without re-walking the whole state.
    """

    cost: Callable[[int], int]
    mean: bool
    distance_to: int | None = None  # set when cost(n) is |n - distance_to|, inlined in the hot loop

    def __call__(self, nums: tuple[int, ...]) -> float:
        total = sum(map(self.cost, nums))
        return total / len(nums) if self.mean else float(total)


def sum_heuristic(target: int) -> Heuristic:
    """Mean distance of the numbers to the target: small when additive steps can finish."""
    return Heuristic(lambda n: abs(n - target), mean=True, distance_to=target)


def mult_heuristic(target: int) -> Heuristic:
    """Summed distance of each number to its nearest factor of the target (2..target)."""
    factors = tuple(f for f in range(2, target + 1) if target % f == 0) or (target,)

    @lru_cache(maxsize=4096)
    def cost(n: int) -> int:
        return min(abs(n - f) for f in factors)

    return Heuristic(cost, mean=False)


def make_heuristic(name: str, target: int) -> Heuristic:
    if name == "sum":
        return sum_heuristic(target)
    if name == "mult":
        return mult_heuristic(target)
    raise ValueError(f"unknown heuristic {name!r} (known: {', '.join(HEURISTICS)})")


@dataclass(frozen=True, slots=True)
class SearchLimits:
    """Bounds on one search. ``threshold`` prunes children whose heuristic exceeds it; None means the
    target (the paper's choice); ``prune=False`` keeps every child (exhaustive)."""

    heuristic: str = "sum"
    threshold: float | None = None
    prune: bool = True
    use_all: bool = True
    order: str = "heuristic"

    def __post_init__(self) -> None:
        if self.heuristic not in HEURISTICS and self.heuristic != "random":
            raise ValueError(f"unknown heuristic {self.heuristic!r} (known: sum, mult, random)")
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r} (known: {', '.join(ORDERS)})")


def resolve_heuristic(limits: SearchLimits, rng: random.Random | None, problem: CountdownProblem) -> str:
    """The heuristic to use; ``random`` draws one with ``rng``, or from the problem itself when no
    rng is given (so a problem always gets the same trace, and a sample gets both heuristics)."""
    if limits.heuristic != "random":
        return limits.heuristic
    return (rng or random.Random(f"{problem.target}:{problem.numbers}")).choice(HEURISTICS)


def _children(
    nums: tuple[int, ...], h: Heuristic, threshold: float | None, *, sort: bool = True
) -> list[tuple[float, Step, tuple[int, ...]]]:
    """Every legal child, pruned by heuristic, sorted by heuristic (stable: generation order on ties)
    unless ``sort`` is False.

    The hot loop of trace generation: each child's score is the parent's other costs plus the new
    number's cost, and a ``Step`` is only built for children that survive pruning.
    """
    out: list[tuple[float, Step, tuple[int, ...]]] = []
    append = out.append
    n, t, cost = len(nums), h.distance_to, h.cost
    divisor = n - 1 if h.mean else 1
    costs = [cost(x) for x in nums] if t is None else [x - t if x > t else t - x for x in nums]
    total = sum(costs)
    limit = float("inf") if threshold is None else threshold * divisor  # on the summed cost
    for i in range(n - 1):
        a = nums[i]
        for j in range(i + 1, n):
            b = nums[j]
            rest_cost = total - costs[i] - costs[j]
            budget = limit - rest_cost  # the new number's cost must not exceed this
            if budget < 0:
                continue
            rest = nums[:i] + nums[i + 1 : j] + nums[j + 1 :]
            hi, lo = (a, b) if a > b else (b, a)
            # the Stream-of-Search order: +, *, larger-smaller, exact division
            candidates = [(a, "+", b, a + b), (a, "*", b, a * b)]
            if hi != lo:
                candidates.append((hi, "-", lo, hi - lo))
            if hi % lo == 0:
                candidates.append((hi, "/", lo, hi // lo))
            for x, op, y, r in candidates:
                c = cost(r) if t is None else (r - t if r > t else t - r)
                if c <= budget:
                    append(((rest_cost + c) / divisor, Step(x, op, y, r), (*rest, r)))
    if sort:
        out.sort(key=_score)
    return out


def _ordered_children(
    nums: tuple[int, ...], h: Heuristic, threshold: float | None, order: str, rng: random.Random | None
) -> list[tuple[float, Step, tuple[int, ...]]]:
    out = _children(nums, h, threshold, sort=order == "heuristic")
    if rng is not None:  # given for order == "random" only
        rng.shuffle(out)
    return out


def _score(child: tuple[float, Step, tuple[int, ...]]) -> float:
    return child[0]


def _is_goal(new: tuple[int, ...], step: Step, target: int, use_all: bool) -> bool:
    return step.result == target and (len(new) == 1 or not use_all)


def dfs(
    problem: CountdownProblem,
    limits: SearchLimits = SearchLimits(),
    *,
    think: bool = False,
    rng: random.Random | None = None,
) -> Iterator[Event]:
    """Depth-first search, children in ``limits.order`` (``rng`` draws the random heuristic and
    order). With ``think`` the last level is decided without writing it out: a two-number state that
    cannot reach the target becomes one dead end."""
    target = problem.target
    h = make_heuristic(resolve_heuristic(limits, rng, problem), target)
    threshold = (target if limits.threshold is None else limits.threshold) if limits.prune else None
    order = limits.order
    # Seeding a Random from a string costs more than a small search: only the random order needs one.
    shuffle_rng = (
        (rng or random.Random(f"order:{problem.target}:{problem.numbers}")) if order == "random" else None
    )

    events: list[Event] = []
    emit = events.append
    # Built into a list by plain recursion rather than nested generators: ``yield from`` through
    # every level costs more than the search itself on 4-number problems.

    def visit(node: tuple[int, ...], nums: tuple[int, ...], ops: tuple[Step, ...]) -> bool:
        emit(Event(EXPAND, node, nums, None, ops))
        for k, (_, step, new) in enumerate(_ordered_children(nums, h, threshold, order, shuffle_rng)):
            if k:
                emit(Event(BACKTRACK, node, nums, None, ops))
            child = (*node, k)
            path = (*ops, step)
            emit(Event(GENERATE, child, new, step, path))
            if step.result == target and (len(new) == 1 or not use_all):
                emit(Event(GOAL, child, new, None, path))
                return True
            if len(new) == 1:
                emit(Event(DEAD_END, child, new, None, path))
            elif think and len(new) == 2:
                win = next((s for s in combine(new[0], new[1]) if s.result == target), None)
                if win is None:
                    emit(Event(DEAD_END, child, new, None, path))
                    continue
                emit(Event(EXPAND, child, new, None, path))
                emit(Event(GENERATE, (*child, 0), (target,), win, (*path, win)))
                emit(Event(GOAL, (*child, 0), (target,), None, (*path, win)))
                return True
            elif visit(child, new, path):
                return True
        return False

    use_all = limits.use_all
    visit((), problem.numbers, ())
    return iter(events)


def beam(
    problem: CountdownProblem,
    width: int = 3,
    limits: SearchLimits = SearchLimits(),
    *,
    rng: random.Random | None = None,
) -> Iterator[Event]:
    """Beam search (BFS keeping the ``width`` best nodes of each level by heuristic)."""
    if not 1 <= width <= 64:
        raise ValueError(f"beam width must be in 1..64, got {width}")
    if limits.order != "heuristic":
        raise ValueError(
            f"beam search keeps the best children by heuristic; order={limits.order!r} is DFS only"
        )
    target = problem.target
    h = make_heuristic(resolve_heuristic(limits, rng, problem), target)
    threshold = (target if limits.threshold is None else limits.threshold) if limits.prune else None
    level: list[tuple[tuple[int, ...], tuple[int, ...], tuple[Step, ...]]] = [((), problem.numbers, ())]
    while level:
        candidates: list[tuple[float, tuple[int, ...], tuple[int, ...], tuple[Step, ...]]] = []
        for node, nums, ops in level:
            yield Event(EventKind.EXPAND, node, nums, None, ops)
            for k, (value, step, new) in enumerate(_children(nums, h, threshold)):
                child, path = (*node, k), (*ops, step)
                yield Event(EventKind.GENERATE, child, new, step, path)
                if _is_goal(new, step, target, limits.use_all):
                    yield Event(EventKind.GOAL, child, new, None, path)
                    return
                if len(new) == 1:
                    yield Event(EventKind.DEAD_END, child, new, None, path)
                else:
                    candidates.append((value, child, new, path))
        candidates.sort(key=lambda c: c[0])
        level = [(child, new, path) for _, child, new, path in candidates[:width]]


def exhaustive(problem: CountdownProblem, use_all: bool = True) -> Iterator[Event]:
    """Depth-first search with no pruning, in heuristic order: finds a solution whenever one exists."""
    return dfs(problem, SearchLimits(prune=False, use_all=use_all))


def solution_path(problem: CountdownProblem, use_all: bool = True) -> tuple[Step, ...] | None:
    """The steps of the first solution the unpruned heuristic DFS finds (None if unsolvable)."""
    if len(problem.numbers) > 1 and problem.target not in _reachable_hint(problem, use_all):
        return None
    for event in exhaustive(problem, use_all):
        if event.kind is EventKind.GOAL:
            return event.info
    return None


def _reachable_hint(problem: CountdownProblem, use_all: bool) -> frozenset[int] | set[int]:
    """Values reachable from the problem (a fast check so unsolvable problems skip the full DFS)."""
    nums = tuple(sorted(problem.numbers))
    if use_all:
        return reachable_values(nums)
    out: set[int] = set()
    for size in range(1, len(nums) + 1):
        for subset in combinations(nums, size):
            out |= reachable_values(subset)
    return out
