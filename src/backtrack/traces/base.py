"""Shared types for trace formats: a rendered ``Trace`` and a ``ParsedTrace`` read back from text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Trace:
    """Text written from a search, with the counts the renderer put into it."""

    text: str
    solved: bool  # the text reaches the goal
    backtracks: int  # returns to an already visited state
    dead_ends: int  # branches that ended without the goal
    steps: int  # actions written (explored operations / cell fills)
    answer: Any = None  # the solution the text reaches (CountDown steps), when it reaches one

    def stats(self) -> dict[str, Any]:
        return {
            "solved": self.solved,
            "backtracks": self.backtracks,
            "dead_ends": self.dead_ends,
            "steps": self.steps,
            "chars": len(self.text),
        }


@dataclass(frozen=True, slots=True)
class ParsedTrace:
    """What a parser read from (possibly model-written) text; never raises on bad text."""

    goal_claimed: bool  # the text says it reached the goal
    valid: bool  # the claimed path to the goal replays legally from the problem
    backtracks: int
    dead_ends: int
    steps: int
    answer: Any = None  # the task's answer along the goal path (ops list, grid string), if any
    errors: list[str] = field(default_factory=list)  # every problem found, first one first

    @property
    def reason(self) -> str:
        if self.valid:
            return "valid path to the goal"
        return self.errors[0] if self.errors else "no goal reached"
