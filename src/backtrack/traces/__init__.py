"""Trace formats: renderers from search events to text, and parsers from text back to claimed steps.

Formats are registered per task by name (``countdown/dfs``, ``sudoku/direct``, ...). Modules are
imported lazily so that importing ``backtrack.traces`` stays cheap.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from typing import Any

from backtrack.traces.base import ParsedTrace, Trace

__all__ = ["ParsedTrace", "Trace", "formats", "parse", "render"]

# (task, format) -> module that defines ``render(problem, rng=..., **options) -> Trace`` and
# ``parse(problem, text) -> ParsedTrace`` for that format.
_FORMAT_MODULES: dict[tuple[str, str], str] = {
    ("countdown", "dfs"): "backtrack.traces.countdown_dfs",
    ("countdown", "direct"): "backtrack.traces.countdown_direct",
    ("countdown", "think"): "backtrack.traces.countdown_think",
    ("countdown", "backtrack-k"): "backtrack.traces.countdown_backtrack_k",
    ("sudoku", "dfs"): "backtrack.traces.sudoku_dfs",
    ("sudoku", "direct"): "backtrack.traces.sudoku_direct",
}


def formats(task: str | None = None) -> list[str]:
    """Format names, for one task or as ``task/format`` for all."""
    if task is None:
        return [f"{t}/{f}" for t, f in _FORMAT_MODULES]
    return [f for t, f in _FORMAT_MODULES if t == task]


def _module(task: str, fmt: str) -> Any:
    try:
        name = _FORMAT_MODULES[(task, fmt)]
    except KeyError:
        known = ", ".join(formats(task)) or "none"
        raise ValueError(f"unknown format {fmt!r} for task {task!r} (known: {known})") from None
    return importlib.import_module(name)


def renderer(task: str, fmt: str) -> Callable[..., Trace]:
    return _module(task, fmt).render


def render(task: str, problem: Any, fmt: str, *, rng: random.Random | None = None, **options: Any) -> Trace:
    """Run the format's search on ``problem`` and write it as text."""
    return _module(task, fmt).render(problem, rng=rng, **options)


def parse(task: str, problem: Any, fmt: str, text: str, **options: Any) -> ParsedTrace:
    """Read ``text`` in ``fmt`` back into claimed steps, checking each against the problem.

    ``text`` is the model's output (the completion); CountDown parsers also accept the prompt line in
    front of it. ``options`` carry rules such as CountDown's ``use_all``.
    """
    return _module(task, fmt).parse(problem, text, **options)
