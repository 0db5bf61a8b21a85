"""The colour cube task: generator, solver (checked against a 3D rotation model), verifier, format."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backtrack.tasks import get_task
from backtrack.tasks.base import Verdict
from backtrack.tasks.color_cube_rotation import ColorCubeRotation, CubeProblem
from backtrack.tasks.color_cube_rotation.cube import COLORS, SIDES

TASK = ColorCubeRotation()
PROBLEMS = [TASK.generate(random.Random(seed)) for seed in range(60)]

# Outward normals of the sides; a rotation that brings side s to the top maps normal(s) to +z.
NORMAL = {"top": (0, 0, 1), "bottom": (0, 0, -1), "front": (0, -1, 0), "back": (0, 1, 0),
          "right": (1, 0, 0), "left": (-1, 0, 0)}  # fmt: skip


def _turn(v: tuple[int, int, int], side: str) -> tuple[int, int, int]:
    x, y, z = v
    if side == "front":  # about the x axis, -y goes to +z
        return (x, z, -y)
    if side == "back":
        return (x, -z, y)
    if side == "right":  # about the y axis, +x goes to +z
        return (-z, y, x)
    if side == "left":
        return (z, y, -x)
    return (x, -y, -z)  # bottom: half turn about the x (left-right) axis


def _by_vectors(problem: CubeProblem) -> str:
    """An independent model: carry each face's normal through the rotations as a 3D vector."""
    faces = {NORMAL[side]: color for side, color in problem.initial}
    for side in problem.rotations:
        faces = {_turn(v, side): color for v, color in faces.items()}
    return faces[NORMAL[problem.target]]


def test_generate_is_deterministic_in_the_rng() -> None:
    assert TASK.generate(random.Random(5)) == TASK.generate(random.Random(5))
    assert len({TASK.content_key(p) for p in PROBLEMS}) > 50


def test_solver_agrees_with_a_rotation_model() -> None:
    for problem in PROBLEMS:
        assert TASK.solve(problem) == _by_vectors(problem)


def test_rotation_counts_follow_the_config() -> None:
    task = ColorCubeRotation.from_config(min_rotations=4, max_rotations=5)
    assert all(4 <= len(task.generate(random.Random(s)).rotations) <= 5 for s in range(10))
    with pytest.raises(ValueError, match="colour"):
        ColorCubeRotation.from_config(colour=1)
    with pytest.raises(ValueError, match="min_rotations"):
        ColorCubeRotation.from_config(min_rotations=0)


def test_verify_accepts_the_reference_and_rejects_other_colours() -> None:
    for problem in PROBLEMS:
        answer = TASK.reference_answer(problem)
        assert TASK.verify(problem, f"<think>x</think>\n<answer>{answer}</answer>").ok
        assert TASK.verify(problem, f" {answer.upper()}. ").ok
        wrong = next(c for c in COLORS if c != answer)
        verdict = TASK.verify(problem, f"<answer>{wrong}</answer>")
        assert not verdict.ok and answer in verdict.reason


def test_verify_rejects_another_problems_answer() -> None:
    problems = [TASK.generate(random.Random(1000 + s)) for s in range(300)]
    pairs = list(itertools.pairwise(problems))
    rejected = sum(not TASK.verify(p, TASK.reference_answer(q)).ok for p, q in pairs)
    same = sum(TASK.reference_answer(q) == TASK.reference_answer(p) for p, q in pairs)
    assert rejected == len(pairs) - same  # exactly the answers that name another colour
    # Two problems share their answer by chance (1 in 16 colours), so about 94% are rejected.
    assert rejected >= 0.9 * len(pairs)


def test_direct_format_verifies_and_parses() -> None:
    fmt = TASK.formats()["direct"]
    for problem in PROBLEMS[:20]:
        trace = fmt.render(problem)
        assert TASK.verify(problem, trace.text).ok
        parsed = fmt.parse(problem, trace.text)
        assert parsed.valid and parsed.backtracks == trace.backtracks == 0
        assert parsed.answer == TASK.answer_key(problem, trace.text) == TASK.reference_answer(problem)
        assert TASK.well_formed(problem, trace.text)
    assert not TASK.well_formed(PROBLEMS[0], "red")
    assert not TASK.well_formed(PROBLEMS[0], "<answer>sky</answer>")


def test_problem_round_trips_and_cli_notation() -> None:
    problem = PROBLEMS[0]
    assert TASK.problem_from_dict(problem.to_dict()) == problem
    assert TASK.parse_problem(json.dumps(problem.to_dict())) == problem
    with pytest.raises(ValueError, match="expected JSON"):
        TASK.parse_problem("top red")
    with pytest.raises(ValueError, match="rotation"):
        TASK.parse_problem(json.dumps({**problem.to_dict(), "rotations": ["up"]}))
    assert isinstance(get_task("color_cube_rotation"), ColorCubeRotation)
    assert TASK.split_of(problem) in ("train", "test")


HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["1e400", "9" * 5000, "\x00" * 100, "٣", "<answer>" * 1000, "x" * 200_001]),
    st.builds(lambda s: f"<answer>{s}</answer>", st.text(max_size=100)),
    st.builds(lambda n: "(" * n + ")" * n, st.integers(0, 50_000)),
)


@given(HOSTILE)
def test_hostile_text_gets_a_verdict(text: str) -> None:
    problem = PROBLEMS[1]
    verdict = TASK.verify(problem, text)
    assert isinstance(verdict, Verdict) and verdict.reason
    TASK.answer_key(problem, text)
    TASK.well_formed(problem, text)
    assert TASK.formats()["direct"].parse(problem, text).backtracks == 0


def test_non_text_is_rejected() -> None:
    assert not TASK.verify(PROBLEMS[0], None).ok  # type: ignore[arg-type]
    assert all(isinstance(c, str) for c in SIDES)


@pytest.mark.parametrize("text", ["", "null", "[]", '"x"', "[" * 4000 + "]" * 4000, "{" * 20_000, "{}"])
def test_parse_problem_rejects_bad_notation_with_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="expected JSON"):
        TASK.parse_problem(text)
