"""CountDown's trace formats: ``dfs`` (Stream-of-Search), ``direct``, ``think``, ``compact`` and
``backtrack-k``."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from backtrack.tasks.countdown.formats import backtrack_k, compact, dfs, direct, think
from backtrack.traces.base import Format, TraceFormat

__all__ = ["bound_formats"]


@lru_cache(maxsize=2)
def bound_formats(use_all: bool) -> Mapping[str, TraceFormat]:
    """The formats with the task's number rule as their default ``use_all``. The Stream-of-Search
    formats open with the problem's ``Current State`` line, which is their prompt."""
    rule = {"use_all": use_all}
    return MappingProxyType(
        {
            "dfs": Format(dfs.render, dfs.parse, statement_first=True, defaults=rule),
            "direct": Format(direct.render, direct.parse, statement_first=True, defaults=rule),
            "think": Format(think.render, think.parse, statement_first=True, defaults=rule),
            "compact": Format(compact.render, compact.parse, statement_first=True, defaults=rule),
            "backtrack-k": Format(backtrack_k.render, backtrack_k.parse, defaults=rule),
        }
    )
