"""CountDown's rules: legal steps, applying them, solvability, and the rule text.

Rules (the game of Qin et al. 2025): an operation takes two available numbers and replaces them
with its result; subtraction is larger - smaller, division only when exact, so every intermediate is
a positive integer. ``use_all`` chooses the one rule for how many numbers must be used: exactly
once each (the paper) or at most once each. The prompt states the rule and every verifier enforces it.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from backtrack.tasks.countdown.problem import CountdownProblem

OPS = "+-*/"


class Step(NamedTuple):
    """One operation ``a op b = result`` as written in traces (``70-62=8``)."""

    a: int
    op: str
    b: int
    result: int

    def __str__(self) -> str:
        return f"{self.a}{self.op}{self.b}={self.result}"


def combine(a: int, b: int) -> list[Step]:
    """The legal steps on a pair, in the Stream-of-Search order: +, *, larger-smaller, exact division.

    ``a`` is the number that comes first in the state; only positive results are legal.
    """
    steps = [Step(a, "+", b, a + b), Step(a, "*", b, a * b)]
    hi, lo = (b, a) if a <= b else (a, b)
    if hi != lo:
        steps.append(Step(hi, "-", lo, hi - lo))
    if lo > 0 and hi % lo == 0:
        steps.append(Step(hi, "/", lo, hi // lo))
    return steps


def check_step(numbers: tuple[int, ...], step: Step) -> str | None:
    """Why ``step`` is illegal on the state ``numbers``, or None when it is legal."""
    a, op, b, result = step
    if op == "+":
        value = a + b
    elif op == "*":
        value = a * b
    elif op == "-":
        if a <= b:
            return f"{step}: subtraction must be larger minus smaller and positive"
        value = a - b
    elif op == "/":
        if b == 0 or a % b:
            return f"{step}: division must be exact"
        value = a // b
    else:
        return f"{step}: unknown operation {op!r}"
    if value != result:
        return f"{step}: {a}{op}{b} is {value}, not {result}"
    available = list(numbers)
    for operand in (a, b):
        if operand in available:
            available.remove(operand)
        else:
            return f"{step}: {operand} is not available in {list(numbers)}"
    return None


def _steps_on(nums: tuple[int, ...]) -> list[Step]:
    return [step for i, j in combinations(range(len(nums)), 2) for step in combine(nums[i], nums[j])]


def _keeps_goal(nums: tuple[int, ...], step: Step, target: int) -> bool:
    """Whether the target is still reachable, using every number, after ``step``."""
    if len(nums) == 2:
        return step.result == target
    return reaches(apply_step(nums, step), target)


def apply_step(numbers: tuple[int, ...], step: Step) -> tuple[int, ...]:
    """The state after a legal ``step``: the untouched numbers in order, then the result."""
    rest = list(numbers)
    rest.remove(step.a)
    rest.remove(step.b)
    rest.append(step.result)
    return tuple(rest)


def _results(x: int, y: int) -> tuple[int, ...]:
    """The values of the legal steps on a pair (the hot path of solvability checks)."""
    hi, lo = (x, y) if x >= y else (y, x)
    if hi == lo:
        return (hi + lo, hi * lo, 1)
    if hi % lo == 0:
        return (hi + lo, hi * lo, hi - lo, hi // lo)
    return (hi + lo, hi * lo, hi - lo)


@lru_cache(maxsize=1 << 18)
def reachable_values(numbers: tuple[int, ...]) -> frozenset[int]:
    """Every value reachable by legal steps that use all of ``numbers`` (a sorted tuple)."""
    n = len(numbers)
    if n == 1:
        return frozenset(numbers)
    if n == 2:
        return frozenset(_results(*numbers))
    out: set[int] = set()
    if n == 3:  # the hot case of 4-number solvability checks: one number with the pair of the others
        a, b, c = numbers
        for x, y, z in ((a, b, c), (b, a, c), (c, a, b)):
            for v in _results(y, z):
                out.update(_results(x, v))
        return frozenset(out)
    # Split into (part holding numbers[0], the rest) so each unordered split is visited once.
    for size in range(n - 1):
        for picked in combinations(range(1, n), size):
            left = (numbers[0], *(numbers[i] for i in picked))
            right = tuple(numbers[i] for i in range(1, n) if i not in picked)
            right_values = reachable_values(right)
            for x in reachable_values(left):
                for y in right_values:
                    out.update(_results(x, y))
    return frozenset(out)


def _completes(x: int, target: int, values: frozenset[int]) -> bool:
    """Whether one legal step on ``x`` and some ``w`` in ``values`` gives ``target``: each operation
    is inverted and its partner looked up, instead of combining ``x`` with every ``w``."""
    return (
        target - x in values  # x + w
        or (target % x == 0 and target // x in values)  # x * w
        or x + target in values  # w - x
        or x - target in values  # x - w
        or target * x in values  # w / x
        or (x % target == 0 and x // target in values)  # x / w
    )


def reaches(numbers: tuple[int, ...], target: int) -> bool:
    """Whether ``target`` is reachable using all ``numbers`` (at least one operation), without
    building the full value set of ``numbers``."""
    n = len(numbers)
    if n < 2:
        return False
    if n == 2:
        return target in _results(*numbers)
    if n == 4:  # the paper's game, and the hot path of generation: the general loop unrolled
        a, b, c, d = sorted(numbers)
        values = reachable_values
        if (
            _completes(a, target, values((b, c, d)))
            or _completes(b, target, values((a, c, d)))
            or _completes(c, target, values((a, b, d)))
            or _completes(d, target, values((a, b, c)))
        ):
            return True
        for left, right in (((a, b), (c, d)), ((a, c), (b, d)), ((a, d), (b, c))):
            right_values = values(right)
            for x in values(left):
                if _completes(x, target, right_values):
                    return True
        return False
    nums = sorted(numbers)
    # One number against the rest.
    for i in range(n):
        if _completes(nums[i], target, reachable_values(tuple(nums[:i] + nums[i + 1 :]))):
            return True
    # Larger splits (2+2 for four numbers, ...), each unordered split once.
    first = nums[0]
    for size in range(1, n - 2):
        for picked in combinations(range(1, n), size):
            left = reachable_values((first, *(nums[i] for i in picked)))
            right = reachable_values(tuple(nums[i] for i in range(1, n) if i not in picked))
            if any(_completes(x, target, right) for x in left):
                return True
    return False


def rule_text(use_all: bool) -> str:
    return "each number exactly once" if use_all else "each number at most once"


def numbers_error(problem: CountdownProblem, used: list[int], use_all: bool) -> str | None:
    """Why the multiset ``used`` breaks the rule for the problem's numbers (ints, never strings)."""
    if len(used) == len(problem.numbers) and sorted(used) == sorted(problem.numbers):
        return None  # the common case, without building Counters
    have = Counter(problem.numbers)
    want = Counter(used)
    extra = want - have
    if extra:
        n = next(iter(extra))
        if n in have:
            return f"number {n} used {want[n]} times but given {have[n]} times"
        return f"number {n} is not one of the given numbers {list(problem.numbers)}"
    if use_all and want != have:
        missing = sorted((have - want).elements())
        return f"numbers {missing} not used; the rule is {rule_text(use_all)}"
    return None


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def steps_to_expression(numbers: tuple[int, ...], steps: list[Step]) -> str:
    """An expression equivalent to a legal step sequence, with only the brackets it needs."""
    pool: list[tuple[int, str, int]] = [(n, str(n), 3) for n in numbers]  # value, text, precedence

    def take(value: int) -> tuple[str, int]:
        for i, (v, text, prec) in enumerate(pool):
            if v == value:
                del pool[i]
                return text, prec
        raise ValueError(f"{value} is not available")

    for step in steps:
        prec = _PRECEDENCE[step.op]
        left, left_prec = take(step.a)
        right, right_prec = take(step.b)
        if left_prec < prec:
            left = f"({left})"
        # a - (b + c) and a / (b * c) need their brackets; a + (b + c) and a * (b * c) do not
        if right_prec < prec or (right_prec == prec and step.op in "-/"):
            right = f"({right})"
        pool.append((step.result, f"{left}{step.op}{right}", prec))
    return pool[-1][1] if steps else " ".join(text for _, text, _ in pool)
