"""Sweeps in a recipe: one ``[[models]]`` table that stands for several models differing in one format
option, e.g. the number of backtracks ``k`` of the second reference study.

``sweep = { k = [0, 1, 3] }`` in a model table named ``cd`` becomes three models ``cd-k0``, ``cd-k1``
and ``cd-k3``, each a copy of the table with ``format_options.k`` set, and with ``sweep_of = "cd"`` and
``sweep_key = "k"`` recorded so that the report can draw solved share against ``k``. The expansion is
plain data in, plain data out, before validation: every expanded model is then validated like a model
written out by hand, and a bad sweep is refused with the table's index before anything runs.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["expand_sweeps", "sweep_value_label"]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")  # what may follow NAME-key in a model name


def sweep_value_label(value: Any) -> str:
    """How a swept value is written in a model name: ``3``, ``true``, ``sum``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def expand_sweeps(models: Any) -> Any:
    """The model tables with every ``sweep`` table expanded (anything else is returned unchanged, for
    the validator to report)."""
    if not isinstance(models, list):
        return models
    out: list[Any] = []
    for i, table in enumerate(models):
        if not isinstance(table, dict) or "sweep" not in table:
            out.append(table)
            continue
        out.extend(_expand(i, table))
    return out


def _expand(i: int, table: dict[str, Any]) -> list[dict[str, Any]]:
    where = f"models[{i}].sweep"
    sweep = table["sweep"]
    if not isinstance(sweep, dict) or len(sweep) != 1:
        raise ValueError(
            f"{where}: must name one format option and its values, e.g. sweep = {{ k = [0, 1, 3] }}"
        )
    ((key, values),) = sweep.items()
    if not _KEY.match(key):
        raise ValueError(f"{where}: {key!r} is not a format option name")
    if not isinstance(values, list) or not values:
        raise ValueError(f"{where}.{key}: must be a non-empty list of values")
    for value in values:
        if isinstance(value, float) or not isinstance(value, (int, str, bool)):
            raise ValueError(f"{where}.{key}: values must be integers, strings or booleans, got {value!r}")
        if not _VALUE.match(sweep_value_label(value)):
            raise ValueError(
                f"{where}.{key}: {value!r} cannot be part of a model name (letters, digits, _ . -)"
            )
    labels = [sweep_value_label(v) for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{where}.{key}: values repeat: {values}")
    options = table.get("format_options") or {}
    if not isinstance(options, dict):
        return [table]  # the validator reports the bad format_options
    if key in options:
        raise ValueError(f"{where}: {key!r} is swept and also set in format_options; set it in one place")
    name = table.get("name")
    if not isinstance(name, str):
        raise ValueError(f"models[{i}]: a swept model needs a name")
    base = {k: v for k, v in table.items() if k != "sweep"}
    return [
        {
            **base,
            "name": f"{name}-{key}{label}",
            "format_options": {**options, key: value},
            "sweep_of": name,
            "sweep_key": key,
        }
        for value, label in zip(values, labels, strict=True)
    ]
