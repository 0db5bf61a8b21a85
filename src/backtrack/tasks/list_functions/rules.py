"""Our own implementation of the list-function rule family, used to decide what an item's answer is.

reasoning-gym's list_functions draws one of 17 generators (``generate_0`` .. ``generate_16``); each
writes five (input, output) pairs of one rule and the last pair becomes the question. Its label is
the generator's own output, but nothing checks that the four shown examples single the rule out.
Here each generator's rule is written again as a function, next to a few readings that the examples
often cannot tell apart from it (duplicates counted or not, < 30 or <= 30, sorting with or without
repeats, first/last/min/max, a constant output). An item's answer is *determined* when every rule
of this family that fits all examples gives the same output on the query; otherwise it is dropped.
This is a check within the family: a rule outside it that fits the examples could still disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

IntList = tuple[int, ...]


def _third(xs: IntList) -> IntList | None:
    return (xs[2],) if len(xs) >= 3 else None


def _followed_by_even(xs: IntList) -> IntList:
    return tuple(xs[i - 1] for i in range(1, len(xs)) if xs[i] % 2 == 0)


def _index_by_last(xs: IntList) -> IntList | None:
    if not xs or not 0 <= xs[-1] < len(xs):
        return None
    return (xs[xs[-1]],)


def _successor_ends(xs: IntList) -> IntList | None:
    if not xs:
        return None
    out = list(xs)
    out[0] += 1
    out[-1] += 1  # the same element twice for a one-element list, as reasoning-gym does
    return tuple(out)


def _sorted_flag(xs: IntList) -> IntList | None:
    """[1] for a non-decreasing list, [0] for a non-increasing one; undefined when it is both or neither."""
    up = all(a <= b for a, b in pairwise(xs))
    down = all(a >= b for a, b in pairwise(xs))
    if up == down:
        return None
    return (1,) if up else (0,)


def _tens_flag(xs: IntList) -> IntList | None:
    """[1] for a multiple of 10, [0] for another multiple of 5 (one-element inputs only)."""
    if len(xs) != 1 or xs[0] % 5:
        return None
    return (1,) if xs[0] % 10 == 0 else (0,)


def _single(xs: IntList, f: Callable[[int], int]) -> IntList | None:
    return (f(xs[0]),) if len(xs) == 1 else None


def _nonempty(xs: IntList, f: Callable[[IntList], int]) -> IntList | None:
    return (f(xs),) if xs else None


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the family: ``apply`` returns None where the rule says nothing about an input."""

    name: str
    description: str  # how the direct format's reasoning states the rule
    apply: Callable[[IntList], IntList | None]
    generator: int | None  # the reasoning-gym generator it re-implements; None for an alternative reading


RULES: tuple[Rule, ...] = (
    Rule("identity", "the output is the input unchanged", lambda xs: xs, 0),
    Rule("third", "the output is the third element", _third, 1),
    Rule("reverse", "the output is the input reversed", lambda xs: xs[::-1], 2),
    Rule(
        "sum_distinct_below_30",
        "the output is the sum of the distinct elements below 30",
        lambda xs: (sum(x for x in set(xs) if x < 30),),
        3,
    ),
    Rule("count_fives", "the output is how many elements equal 5", lambda xs: (xs.count(5),), 4),
    Rule(
        "followed_by_even",
        "the output keeps each element that is followed by an even number",
        _followed_by_even,
        5,
    ),
    Rule(
        "plus_position",
        "each element is increased by its position, counting from 0",
        lambda xs: tuple(x + i for i, x in enumerate(xs)),
        6,
    ),
    Rule(
        "index_by_last",
        "the output is the element at the position given by the last element, counting from 0",
        _index_by_last,
        7,
    ),
    Rule("length", "the output is the number of elements", lambda xs: (len(xs),), 8),
    Rule("sum", "the output is the sum of the elements", lambda xs: (sum(xs),), 9),
    Rule(
        "sort_ascending",
        "the output is the input sorted in ascending order",
        lambda xs: tuple(sorted(xs)),
        10,
    ),
    Rule(
        "sort_descending",
        "the output is the input sorted in descending order",
        lambda xs: tuple(sorted(xs, reverse=True)),
        11,
    ),
    Rule("successor_ends", "the first and the last element are each increased by 1", _successor_ends, 12),
    Rule(
        "sorted_flag",
        "the output is [1] for an ascending list and [0] for a descending one",
        _sorted_flag,
        13,
    ),
    Rule(
        "tens_flag",
        "the output is [1] for a multiple of 10 and [0] for another multiple of 5",
        _tens_flag,
        14,
    ),
    Rule(
        "double_last",
        "the output is twice the last element",
        lambda xs: _nonempty(xs, lambda v: 2 * v[-1]),
        15,
    ),
    Rule(
        "two_x_minus_4",
        "the output is 2x - 4 for the input x",
        lambda xs: _single(xs, lambda x: 2 * x - 4),
        16,
    ),
    # Alternative readings the examples must rule out before an answer counts as determined.
    Rule(
        "sum_below_30",
        "the output is the sum of the elements below 30",
        lambda xs: (sum(x for x in xs if x < 30),),
        None,
    ),
    Rule(
        "sum_distinct_at_most_30",
        "the output is the sum of the distinct elements up to 30",
        lambda xs: (sum(x for x in set(xs) if x <= 30),),
        None,
    ),
    Rule(
        "sort_distinct_ascending",
        "the output is the distinct elements in ascending order",
        lambda xs: tuple(sorted(set(xs))),
        None,
    ),
    Rule(
        "sort_distinct_descending",
        "the output is the distinct elements in descending order",
        lambda xs: tuple(sorted(set(xs), reverse=True)),
        None,
    ),
    Rule("first", "the output is the first element", lambda xs: _nonempty(xs, lambda v: v[0]), None),
    Rule("last", "the output is the last element", lambda xs: _nonempty(xs, lambda v: v[-1]), None),
    Rule("maximum", "the output is the largest element", lambda xs: _nonempty(xs, max), None),
    Rule("minimum", "the output is the smallest element", lambda xs: _nonempty(xs, min), None),
)


def fitting_rules(examples: tuple[tuple[IntList, IntList], ...]) -> list[Rule]:
    """The rules of the family that give every example's output from its input."""
    return [rule for rule in RULES if all(rule.apply(i) == o for i, o in examples)]


def determined_output(
    examples: tuple[tuple[IntList, IntList], ...], query: IntList
) -> tuple[IntList | None, list[Rule]]:
    """The output on ``query`` that every fitting rule agrees on (None when they disagree, when one
    says nothing about the query, or when no rule fits), and the fitting rules.

    A constant output (all examples give the same list) is a reading too: when the examples share
    one output, the query's output must be that list for the answer to count as determined.
    """
    rules = fitting_rules(examples)
    outputs = {rule.apply(query) for rule in rules}
    if examples and len({o for _, o in examples}) == 1:
        outputs.add(examples[0][1])
    if len(outputs) != 1 or not rules:
        return None, rules
    (output,) = outputs
    return output, rules
