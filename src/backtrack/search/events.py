"""Search events: what a symbolic search did, independent of how it is written as text.

A strategy yields events in the order it performs them; a renderer in ``backtrack.traces`` turns
the sequence into text, and trace statistics are counted from the same sequence, so the numbers a
renderer puts in a trace are the numbers a parser must find back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple


class EventKind(StrEnum):
    EXPAND = "expand"  # a node becomes the current node (its state is stated)
    GENERATE = "generate"  # an action is tried from the current node, producing a child
    STEP = "step"  # a forced deduction that needs no choice (e.g. a Sudoku single)
    DEAD_END = "dead_end"  # a node proved to have no solution below it
    BACKTRACK = "backtrack"  # control returns to an already visited ancestor
    GOAL = "goal"  # a goal state was reached


class Event(NamedTuple):
    """One search event. A NamedTuple rather than a dataclass: searches emit hundreds of thousands
    per second and tuple construction is several times cheaper than a frozen dataclass's."""

    kind: EventKind
    node: tuple[int, ...] = ()  # path of child indices from the root; the root is ()
    state: Any = None  # the task's (immutable) state at ``node`` after the event
    action: Any = None  # the task's action for GENERATE / STEP events
    info: Any = None  # anything else a renderer needs (e.g. the candidates of a guess)


@dataclass(frozen=True, slots=True)
class SearchStats:
    expanded: int
    generated: int
    dead_ends: int
    backtracks: int
    solved: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "expanded": self.expanded,
            "generated": self.generated,
            "dead_ends": self.dead_ends,
            "backtracks": self.backtracks,
            "solved": self.solved,
        }


def search_stats(events: Iterable[Event]) -> SearchStats:
    counts = Counter(e.kind for e in events)
    return SearchStats(
        expanded=counts[EventKind.EXPAND],
        generated=counts[EventKind.GENERATE],
        dead_ends=counts[EventKind.DEAD_END],
        backtracks=counts[EventKind.BACKTRACK],
        solved=counts[EventKind.GOAL] > 0,
    )
