"""Sudoku's trace formats: ``dfs`` (the whole search), ``direct`` (the solution's fills) and
``backtrack-k`` (the solution with k failed guesses, in ``<think>`` with an ``<answer>`` grid)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from backtrack.tasks.sudoku.formats import backtrack_k, dfs, direct
from backtrack.traces.base import Format, TraceFormat

__all__ = ["FORMATS"]

FORMATS: Mapping[str, TraceFormat] = MappingProxyType(
    {
        "dfs": Format(dfs.render, dfs.parse),
        "direct": Format(direct.render, direct.parse),
        "backtrack-k": Format(backtrack_k.render, backtrack_k.parse),
    }
)
