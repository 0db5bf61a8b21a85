"""CountDown ``think`` (think-backtrack) format: the DFS trace with the last level decided silently.

A two-number state that cannot reach the target is written ``[a, b] No Solution`` instead of
expanding its final operations; a two-number state that can is finished with its winning operation.
The ``dfs`` parser reads it.
"""

from __future__ import annotations

import random

from backtrack.tasks.countdown.formats import dfs as countdown_dfs
from backtrack.tasks.countdown.problem import CountdownProblem
from backtrack.traces.base import ParsedTrace, Trace


def render(
    problem: CountdownProblem,
    rng: random.Random | None = None,
    *,
    heuristic: str = "random",
    use_all: bool = True,
    order: str = "heuristic",
    prune: bool = True,
) -> Trace:
    return countdown_dfs.render(
        problem, rng, heuristic=heuristic, use_all=use_all, think=True, order=order, prune=prune
    )


def parse(problem: CountdownProblem, text: str, *, use_all: bool = True) -> ParsedTrace:
    return countdown_dfs.parse(problem, text, use_all=use_all)
