"""Trace formats: renderers from search events to text, and parsers from text back to claimed steps.

Each task owns its formats (``task.formats()``, e.g. ``backtrack.tasks.countdown.formats``); this
registry only asks the task. ``task`` is a task object (its formats follow its config, such as
CountDown's ``use_all``) or a registered name (the task with its default config).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from backtrack.traces.base import Format, ParsedTrace, Trace, TraceFormat

__all__ = [
    "Format",
    "ParsedTrace",
    "Trace",
    "TraceFormat",
    "format_of",
    "formats",
    "parse",
    "render",
    "renderer",
]


def _task(task: Any) -> Any:
    if isinstance(task, str):
        from backtrack.tasks import get_task

        return get_task(task)
    return task


def formats(task: Any = None) -> list[str]:
    """Format names, for one task or as ``task/format`` for all registered tasks."""
    if task is None:
        from backtrack.tasks import TASK_NAMES

        return [f"{name}/{fmt}" for name in TASK_NAMES for fmt in _task(name).formats()]
    return list(_task(task).formats())


def format_of(task: Any, fmt: str) -> TraceFormat:
    """The format ``fmt`` of ``task``; ValueError listing the task's formats for an unknown one."""
    task = _task(task)
    known = task.formats()
    try:
        return known[fmt]
    except KeyError:
        raise ValueError(
            f"unknown format {fmt!r} for task {task.name!r} (known: {', '.join(known) or 'none'})"
        ) from None


def renderer(task: Any, fmt: str) -> Callable[..., Trace]:
    return format_of(task, fmt).render


def render(task: Any, problem: Any, fmt: str, *, rng: random.Random | None = None, **options: Any) -> Trace:
    """Run the format's search on ``problem`` and write it as text."""
    return format_of(task, fmt).render(problem, rng=rng, **options)


def parse(task: Any, problem: Any, fmt: str, text: str, **options: Any) -> ParsedTrace:
    """Read ``text`` in ``fmt`` back into claimed steps, checking each against the problem.

    ``text`` is the model's output (the completion); formats that open with the problem statement
    also accept that line in front of it. ``options`` override the task's rules (CountDown's
    ``use_all``).
    """
    return format_of(task, fmt).parse(problem, text, **options)
