"""Shared types for trace formats: a rendered ``Trace``, a ``ParsedTrace`` read back from text, and the
``TraceFormat`` protocol a task's formats follow (``Format`` builds one from two functions)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

# The error a parser reports for a trace that never claims the goal: an unfinished search, not a false step.
NO_GOAL = "no goal reached"


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
        return self.errors[0] if self.errors else NO_GOAL


@runtime_checkable
class TraceFormat(Protocol):
    """One way of writing a task's solutions as text, and of reading such text back.

    ``render(problem).text`` must verify (``task.verify``) whenever ``render(problem).solved``, and
    ``parse(problem, render(problem).text).backtracks == render(problem).backtracks``. ``parse`` never
    raises on bad text: model output is untrusted.
    """

    # True when the text opens with a line stating the problem (CountDown's ``Current State: ...``):
    # that line is then the dataset's prompt. Otherwise the prompt is ``task.prompt(problem)``.
    statement_first: bool
    # Options the format takes from its task's config unless the caller gives them (CountDown's
    # ``use_all``); datasets record them with the caller's options. ``{}`` for most formats.
    defaults: Mapping[str, Any]

    def render(self, problem: Any, rng: random.Random | None = None, **options: Any) -> Trace: ...

    def parse(self, problem: Any, text: str, **options: Any) -> ParsedTrace: ...


_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Format:
    """A ``TraceFormat`` from a render and a parse function.

    ``defaults`` are options given to both functions unless the caller gives them (a task binds its
    rules this way: CountDown's formats get ``use_all`` from the task's config).
    """

    render_fn: Callable[..., Trace]
    parse_fn: Callable[..., ParsedTrace]
    statement_first: bool = False
    defaults: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)

    def render(self, problem: Any, rng: random.Random | None = None, **options: Any) -> Trace:
        return self.render_fn(problem, rng=rng, **{**self.defaults, **options})

    def parse(self, problem: Any, text: str, **options: Any) -> ParsedTrace:
        return self.parse_fn(problem, text, **{**self.defaults, **options})


def wrong_branch_formats(
    render_trace: Callable[[Any, int, random.Random | None], Trace],
    parse_trace: Callable[[Any, str], ParsedTrace],
) -> dict[str, TraceFormat]:
    """``direct`` and ``backtrack-k`` for a task whose renderer writes ``k`` wrong branches, each
    abandoned, before the right one: ``render_trace(problem, k, rng)``; ``direct`` is k = 0. One
    parser reads both (it counts the branches it finds)."""

    def direct(problem: Any, rng: random.Random | None = None, **options: Any) -> Trace:
        if options:
            raise ValueError(f"direct takes no options, got {', '.join(sorted(options))}")
        return render_trace(problem, 0, rng)

    def backtrack_k(problem: Any, rng: random.Random | None = None, *, k: int = 1, **options: Any) -> Trace:
        if options:
            raise ValueError(f"backtrack-k takes only k, got {', '.join(sorted(options))}")
        return render_trace(problem, k, rng)

    def parse(problem: Any, text: str, **options: Any) -> ParsedTrace:
        return parse_trace(problem, text)

    return {"direct": Format(direct, parse), "backtrack-k": Format(backtrack_k, parse)}
