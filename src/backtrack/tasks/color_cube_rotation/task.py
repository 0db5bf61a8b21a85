"""Color cube rotation: a cube with six coloured sides is turned a few times; name one side's colour.

Problems come from reasoning-gym's ``color_cube_rotation`` generator (one item per seed drawn from
the caller's rng); the problem, prompt, solver and verifier are ours. The prompt states how each
rotation turns the cube, including the half turn that brings the bottom to the top, which the
generator's own question leaves open.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from backtrack.tasks.base import MAX_ANSWER_CHARS, TaskBase, Verdict, accept, extract_answer, reject
from backtrack.tasks.color_cube_rotation.cube import COLORS, ROTATIONS, SIDES, describe, rotate

MAX_COLOR_CHARS = 40  # longer than any colour name with spaces and a full stop


@dataclass(frozen=True, slots=True)
class ColorCubeConfig:
    min_rotations: int = 1
    max_rotations: int = 3
    test_fraction: float = 0.1  # share of problems in the test split, by a hash of the content

    def __post_init__(self) -> None:
        for name in ("min_rotations", "max_rotations"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
                raise ValueError(f"{name} must be an integer in 1..100, got {value!r}")
        if self.min_rotations > self.max_rotations:
            raise ValueError(
                f"min_rotations ({self.min_rotations}) must be <= max_rotations ({self.max_rotations})"
            )
        if not isinstance(self.test_fraction, int | float) or not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction!r}")


@dataclass(frozen=True, slots=True)
class CubeProblem:
    initial: tuple[tuple[str, str], ...]  # (side, colour) in SIDES order
    rotations: tuple[str, ...]  # sides brought to the top, in order
    target: str  # the side whose final colour is asked

    def to_dict(self) -> dict[str, Any]:
        return {"initial": dict(self.initial), "rotations": list(self.rotations), "target": self.target}


def make_problem(initial: Any, rotations: Any, target: Any) -> CubeProblem:
    """A validated problem (ValueError naming the bad field)."""
    if not isinstance(initial, dict) or set(initial) != set(SIDES):
        raise ValueError(f"initial must map each of {', '.join(SIDES)} to a colour")
    colors = [initial[s] for s in SIDES]
    if any(c not in COLORS for c in colors) or len(set(colors)) != len(SIDES):
        raise ValueError(f"initial colours must be six different colours from: {', '.join(COLORS)}")
    if not isinstance(rotations, list | tuple) or not 1 <= len(rotations) <= 100:
        raise ValueError("rotations must be a list of 1..100 sides")
    if any(r not in ROTATIONS for r in rotations):
        raise ValueError(f"each rotation must be one of: {', '.join(ROTATIONS)}")
    if target not in SIDES:
        raise ValueError(f"target must be one of: {', '.join(SIDES)}")
    return CubeProblem(tuple((s, initial[s]) for s in SIDES), tuple(rotations), target)


def final_state(problem: CubeProblem) -> dict[str, str]:
    state = dict(problem.initial)
    for side in problem.rotations:
        state = rotate(state, side)
    return state


def _normalize(answer: str) -> str:
    return " ".join(answer.strip().rstrip(".").split()).lower()


@dataclass
class ColorCubeRotation(TaskBase):
    """The colour cube task: reasoning-gym generator, our prompt, solver and verifier."""

    name: ClassVar[str] = "color_cube_rotation"
    config_class: ClassVar[type] = ColorCubeConfig
    config: ColorCubeConfig = field(default_factory=ColorCubeConfig)

    # ---- problems -----------------------------------------------------------------------------
    def generate(self, rng: random.Random) -> CubeProblem:
        import reasoning_gym  # imported here: it loads many generators

        seed = rng.randrange(2**31)
        item = reasoning_gym.create_dataset(
            "color_cube_rotation",
            size=1,
            seed=seed,
            min_rotations=self.config.min_rotations,
            max_rotations=self.config.max_rotations,
        )[0]
        meta = item["metadata"]
        return make_problem(meta["initial_state"], meta["rotations"], meta["target_side"])

    def problem_from_dict(self, row: dict[str, Any]) -> CubeProblem:
        return make_problem(row["initial"], row["rotations"], row["target"])

    def parse_problem(self, text: str) -> CubeProblem:
        """JSON: ``{"initial": {"top": "red", ...}, "rotations": ["front", ...], "target": "left"}``.

        ``initial`` names the colour of all six sides.
        """
        form = (
            'expected JSON like {"initial": {"top": "red", "right": "blue", "front": "green", '
            '"left": "gold", '
            '"back": "pink", "bottom": "gray"}, "rotations": ["front", "bottom"], "target": "left"}'
        )
        if len(text) > 10_000:
            raise ValueError(f"problem text too long; {form}")
        try:
            row = json.loads(text)
            return make_problem(row["initial"], row["rotations"], row["target"])
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise ValueError(f"cannot read the problem ({exc}); {form}") from None
        except ValueError as exc:
            raise ValueError(f"{exc}; {form}") from None

    def content_key(self, problem: CubeProblem) -> str:
        initial = ",".join(f"{s}={c}" for s, c in problem.initial)
        return f"{initial}|{','.join(problem.rotations)}|{problem.target}"

    # ---- solving ------------------------------------------------------------------------------
    def solve(self, problem: CubeProblem) -> str:
        return final_state(problem)[problem.target]

    def reference_answer(self, problem: CubeProblem, trace: Any = None) -> str:
        return self.solve(problem)

    # ---- text ---------------------------------------------------------------------------------
    def prompt(self, problem: CubeProblem) -> str:
        sides = "\n".join(f"- a {color} {side} side" for side, color in problem.initial)
        turns = "\n".join(
            f"{i}. The cube is rotated so that the side which is now at the {side} comes to the top."
            for i, side in enumerate(problem.rotations, 1)
        )
        return (
            f"A cube has:\n{sides}\n\n"
            "Each rotation turns the whole cube. Bringing the front, back, left or right side to the top "
            "is a quarter turn that tips that side up; bringing the bottom to the top is a half turn "
            "about the left-right axis, so front and back swap places and left and right stay.\n\n"
            f"{turns}\n\n"
            f"What is now the color of the {problem.target} side of the cube? "
            "Give only the color inside <answer></answer>."
        )

    def output_kind(self, text: str = "") -> str:
        return "color"  # the kind of every verdict: the only answer form is a colour name

    def vocabulary(self) -> list[str] | None:
        return None

    # ---- verifying ----------------------------------------------------------------------------
    def verify(self, problem: CubeProblem, text: str) -> Verdict:
        if not isinstance(text, str):
            return reject(f"answer must be text, got {type(text).__name__}", "color")
        if len(text) > MAX_ANSWER_CHARS:
            return reject(f"answer is {len(text)} characters, over the {MAX_ANSWER_CHARS} limit", "color")
        claimed = extract_answer(text)
        if len(claimed) > MAX_COLOR_CHARS:
            return reject(f"the answer is {len(claimed)} characters, longer than any colour name", "color")
        color = _normalize(claimed)
        if not color:
            return reject("empty answer", "color")
        if color not in COLORS:
            return reject(f"{color[:20]!r} is not one of the colours", "color")
        expected = self.solve(problem)
        if color != expected:
            return reject(f"the {problem.target} side is {expected}, not {color}", "color")
        return accept(f"the {problem.target} side is {expected}", "color")

    def answer_key(self, problem: CubeProblem, text: str) -> str | None:
        if not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS:
            return None
        claimed = extract_answer(text)
        color = _normalize(claimed) if len(claimed) <= MAX_COLOR_CHARS else ""
        return color if color in COLORS else None

    def well_formed(self, problem: CubeProblem, text: str) -> bool:
        if not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS or "<answer>" not in text:
            return False
        return self.answer_key(problem, text) is not None

    def formats(self) -> dict[str, Any]:
        from backtrack.tasks.color_cube_rotation.formats import FORMATS

        return dict(FORMATS)

    def trace_steps(self, problem: CubeProblem) -> list[str]:
        """The states after each rotation, for the reasoning of the ``direct`` format."""
        state = dict(problem.initial)
        lines = [f"Start: {describe(state)}."]
        for i, side in enumerate(problem.rotations, 1):
            state = rotate(state, side)
            lines.append(f"Rotation {i} ({side} to top): {describe(state)}.")
        return lines
