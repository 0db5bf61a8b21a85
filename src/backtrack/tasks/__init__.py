"""Task registry: puzzle families by name. ``get_task("countdown", n_numbers=3)`` builds one.

A task is one package ``backtrack.tasks.<name>`` (see ``backtrack.tasks.base.Task`` and docs/tasks.md);
registering it is one line below. Packages are imported only when their task is asked for.
"""

from __future__ import annotations

import dataclasses
import importlib
from functools import cache
from typing import Any

from backtrack.tasks.base import Task, TaskBase, Verdict

__all__ = [
    "DEFAULT_TASK",
    "TASK_NAMES",
    "Task",
    "TaskBase",
    "Verdict",
    "get_task",
    "task_class",
    "task_options",
]

# name -> "module:class" of the task object.
_TASKS: dict[str, str] = {
    "countdown": "backtrack.tasks.countdown:Countdown",
    "sudoku": "backtrack.tasks.sudoku:Sudoku",
    "list_functions": "backtrack.tasks.list_functions:ListFunctions",
    "zebra_puzzles": "backtrack.tasks.zebra_puzzles:ZebraPuzzles",
    "self_reference": "backtrack.tasks.self_reference:SelfReference",
    "arc_1d": "backtrack.tasks.arc_1d:Arc1D",
    "advanced_geometry": "backtrack.tasks.advanced_geometry:AdvancedGeometry",
    "color_cube_rotation": "backtrack.tasks.color_cube_rotation:ColorCubeRotation",
}
TASK_NAMES = tuple(_TASKS)
DEFAULT_TASK = "countdown"  # the task of commands and helpers that are not given one


@cache
def task_class(name: str) -> Any:
    """The class registered as ``name``; ValueError listing the known tasks for an unknown one."""
    try:
        module_name, _, class_name = _TASKS[name].partition(":")
    except KeyError:
        raise ValueError(f"unknown task {name!r} (known: {', '.join(TASK_NAMES)})") from None
    return getattr(importlib.import_module(module_name), class_name)


def get_task(name: str, **config: Any) -> Any:
    """The task ``name`` with its config fields overridden by ``config`` (validated by the config)."""
    return task_class(name).from_config(**config)


def task_options(name: str) -> list[tuple[str, Any]]:
    """The task's options as (config field, default value), in declaration order."""
    config = get_task(name).config
    return [(f.name, getattr(config, f.name)) for f in dataclasses.fields(config)]
