"""Task registry: puzzle families by name. ``get_task("countdown", n_numbers=3)`` builds one."""

from __future__ import annotations

import importlib
from typing import Any

from backtrack.tasks.base import Task, Verdict

__all__ = ["TASK_NAMES", "Task", "Verdict", "get_task"]

# name -> (module, task class name); each module also defines the task's config dataclass.
_TASKS: dict[str, tuple[str, str]] = {
    "countdown": ("backtrack.tasks.countdown", "Countdown"),
    "sudoku": ("backtrack.tasks.sudoku", "Sudoku"),
}
TASK_NAMES = tuple(_TASKS)


def get_task(name: str, **config: Any) -> Any:
    """The task ``name`` with its config fields overridden by ``config`` (validated by the config)."""
    try:
        module_name, class_name = _TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r} (known: {', '.join(TASK_NAMES)})") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.from_config(**config)
