"""CountDown ``direct`` format: the Stream-of-Search lines along the solution path only.

Same vocabulary as the ``dfs`` trace, no dead ends and no backtracks (the paper's direct-solution
data, about 200 tokens). The ``dfs`` parser reads it.
"""

from __future__ import annotations

import random

from backtrack.search.events import Event, EventKind
from backtrack.tasks.countdown.formats import dfs as countdown_dfs
from backtrack.tasks.countdown.problem import CountdownProblem
from backtrack.tasks.countdown.rules import Step, apply_step
from backtrack.tasks.countdown.search import solution_path
from backtrack.traces.base import ParsedTrace, Trace


def path_events(problem: CountdownProblem, path: tuple[Step, ...]) -> list[Event]:
    """Events that walk straight down ``path``: each state stated, each step explored once."""
    events = [Event(EventKind.EXPAND, (), problem.numbers, None, ())]
    nums, node = problem.numbers, ()
    for i, step in enumerate(path):
        nums, node = apply_step(nums, step), (*node, 0)
        ops = path[: i + 1]
        events.append(Event(EventKind.GENERATE, node, nums, step, ops))
        if i == len(path) - 1:
            events.append(Event(EventKind.GOAL, node, nums, None, ops))
        else:
            events.append(Event(EventKind.EXPAND, node, nums, None, ops))
    return events


def render(problem: CountdownProblem, rng: random.Random | None = None, *, use_all: bool = True) -> Trace:
    path = solution_path(problem, use_all)
    if path is None:
        raise ValueError(f"{problem} has no solution, so it has no direct trace")
    return countdown_dfs.render_events(problem, path_events(problem, path))


def parse(problem: CountdownProblem, text: str, *, use_all: bool = True) -> ParsedTrace:
    return countdown_dfs.parse(problem, text, use_all=use_all)
