"""The ``direct`` format of the colour cube: the states after each rotation, then the colour.

<think>Start: top red, right blue, ...
Rotation 1 (front to top): top green, ...
The left side is gold.</think>
<answer>gold</answer>
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from backtrack.traces.base import ParsedTrace, Trace


class DirectFormat:
    statement_first = False  # the dataset prompt is task.prompt(problem)
    defaults: Mapping[str, Any] = MappingProxyType({})  # no options taken from the task's config

    def render(self, problem: Any, rng: random.Random | None = None, **options: Any) -> Trace:
        from backtrack.tasks.color_cube_rotation.task import ColorCubeRotation

        if options:
            raise ValueError(f"direct takes no options, got {', '.join(sorted(options))}")
        task = ColorCubeRotation()
        color = task.solve(problem)
        lines = [*task.trace_steps(problem), f"The {problem.target} side is {color}."]
        text = "<think>" + "\n".join(lines) + "</think>\n<answer>" + color + "</answer>\n"
        return Trace(text, True, 0, 0, len(problem.rotations), color)

    def parse(self, problem: Any, text: str, **options: Any) -> ParsedTrace:
        from backtrack.tasks.color_cube_rotation.task import ColorCubeRotation

        task = ColorCubeRotation()
        verdict = task.verify(problem, text)
        answer = task.answer_key(problem, text)
        steps = text.count("\nRotation ") if isinstance(text, str) and len(text) < 200_001 else 0
        errors = [] if verdict.ok else [verdict.reason]
        return ParsedTrace(answer is not None, verdict.ok, 0, 0, steps, answer, errors)


FORMATS = {"direct": DirectFormat()}
