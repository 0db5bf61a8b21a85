"""Sudoku's trace formats: ``dfs`` (the whole search) and ``direct`` (the solution's fills)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from backtrack.tasks.sudoku.formats import dfs, direct
from backtrack.traces.base import Format, TraceFormat

__all__ = ["FORMATS"]

FORMATS: Mapping[str, TraceFormat] = MappingProxyType(
    {"dfs": Format(dfs.render, dfs.parse), "direct": Format(direct.render, direct.parse)}
)
