"""The advanced geometry task: exact solver, toleranced verifier, direct and backtrack-k formats."""

from __future__ import annotations

import itertools
import json
import math
import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backtrack.tasks import get_task
from backtrack.tasks.advanced_geometry import AdvancedGeometry, GeometryProblem
from backtrack.tasks.advanced_geometry.exact import angle_degrees, format3, incircle_radius, round3
from backtrack.tasks.advanced_geometry.methods import QUANTITIES
from backtrack.tasks.advanced_geometry.task import KINDS
from backtrack.tasks.base import Verdict

TASK = AdvancedGeometry()
PROBLEMS = [TASK.generate(random.Random(seed)) for seed in range(90)]
BACKTRACK = TASK.formats()["backtrack-k"]


def _float_answer(p: GeometryProblem) -> tuple[float, ...]:
    """An independent float computation (side lengths, Heron, law of cosines)."""
    (ax, ay), (bx, by), (cx, cy) = p.a, p.b, p.c
    a, b, c = math.dist(p.b, p.c), math.dist(p.c, p.a), math.dist(p.a, p.b)
    if p.kind == "incircle_radius":
        s = (a + b + c) / 2
        return (math.sqrt(s * (s - a) * (s - b) * (s - c)) / s,)
    if p.kind == "angle_measure":
        return (math.degrees(math.acos(max(-1.0, min(1.0, (a * a + c * c - b * b) / (2 * a * c))))),)
    # orthocenter: H = A + B + C - 2 O with O the circumcenter
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    ux = ((ax**2 + ay**2) * (by - cy) + (bx**2 + by**2) * (cy - ay) + (cx**2 + cy**2) * (ay - by)) / d
    uy = ((ax**2 + ay**2) * (cx - bx) + (bx**2 + by**2) * (ax - cx) + (cx**2 + cy**2) * (bx - ax)) / d
    return (ax + bx + cx - 2 * ux, ay + by + cy - 2 * uy)


def test_generate_is_deterministic_and_covers_every_kind() -> None:
    assert TASK.generate(random.Random(7)) == TASK.generate(random.Random(7))
    assert {p.kind for p in PROBLEMS} == set(KINDS)
    only = AdvancedGeometry.from_config(kinds=["orthocenter"])
    assert {only.generate(random.Random(s)).kind for s in range(10)} == {"orthocenter"}
    with pytest.raises(ValueError, match="kinds"):
        AdvancedGeometry.from_config(kinds=["area"])
    with pytest.raises(ValueError, match="unknown"):
        AdvancedGeometry.from_config(sides=3)


def test_solver_matches_an_independent_float_computation() -> None:
    for problem in PROBLEMS:
        exact = [float(x) for x in TASK.solve(problem)]
        assert all(abs(e - f) <= 0.0005 + 1e-9 for e, f in zip(exact, _float_answer(problem), strict=True))


def test_exact_cases_and_intervals() -> None:
    assert angle_degrees((1, 0), (0, 0), (0, 1)) == (90, 90)
    assert angle_degrees((1, 1), (0, 0), (1, 0)) == (45, 45)
    assert incircle_radius((0, 0), (3, 0), (0, 4)) == (1, 1)  # the 3-4-5 triangle
    lo, hi = angle_degrees((2, 1), (0, 0), (1, 4))  # irrational: a narrow interval around it
    assert 0 < hi - lo < Fraction(1, 10**25) and abs(float(lo) - math.degrees(math.atan2(7, 6))) < 1e-9
    assert format3(Fraction(-1, 10**5)) == "0.000" and format3(Fraction(1, 2000)) == "0.001"
    assert round3(Fraction(-2345, 1000)) == Fraction(-2345, 1000)


def test_verify_tolerance_is_half_a_thousandth() -> None:
    problem = GeometryProblem("incircle_radius", (0, 0), (3, 0), (0, 4))  # r = 1 exactly
    assert TASK.verify(problem, "<answer>1.0005</answer>").ok
    assert TASK.verify(problem, "0.9995").ok
    assert not TASK.verify(problem, "1.000500001").ok
    assert not TASK.verify(problem, "1.001").ok
    angle = GeometryProblem("angle_measure", (2, 1), (0, 0), (1, 3))  # 45 degrees exactly
    assert TASK.verify(angle, "45°").ok and TASK.verify(angle, "45.000 degrees").ok
    assert not TASK.verify(angle, "45.01").ok
    irrational = GeometryProblem("angle_measure", (2, 1), (0, 0), (1, 4))
    lo, _ = angle_degrees(irrational.a, irrational.b, irrational.c)
    for offset, ok in (
        (Fraction(1, 2000) - Fraction(1, 10**12), True),
        (Fraction(1, 2000) + Fraction(1, 10**12), False),
    ):
        for claimed in (lo + offset, lo - offset):
            assert TASK.verify(irrational, f"{float(claimed):.12f}").ok is ok


def test_verify_accepts_references_and_rejects_mutations() -> None:
    for problem in PROBLEMS:
        reference = TASK.reference_answer(problem)
        assert TASK.verify(problem, f"<think>...</think>\n<answer>{reference}</answer>").ok, problem
        numbers = TASK.solve(problem)
        bumped = tuple(format3(Fraction(n) + Fraction(2, 1000)) for n in numbers)
        mutated = f"({bumped[0]}, {bumped[1]})" if problem.kind == "orthocenter" else bumped[0]
        verdict = TASK.verify(problem, mutated)
        assert not verdict.ok and "0.0005" in verdict.reason


def test_verify_rejects_another_problems_answer() -> None:
    pairs = [(p, q) for p, q in itertools.pairwise(PROBLEMS) if p.kind == q.kind]
    rejected = sum(not TASK.verify(p, TASK.reference_answer(q)).ok for p, q in pairs)
    assert rejected >= 0.95 * len(pairs) and len(pairs) > 20


@pytest.mark.parametrize("k", [0, 1, 3])
def test_backtrack_k_renders_k_distinct_failing_methods(k: int) -> None:
    done = 0
    for problem in PROBLEMS[:30]:
        try:
            trace = BACKTRACK.render(problem, random.Random(1), k=k)
        except ValueError as exc:  # too few wrong methods fail their check on this triangle
            assert "fewer than k" in str(exc)
            continue
        done += 1
        tried = [line.split(": ", 2)[1] for line in trace.text.splitlines() if ": Try " in line]
        assert len(tried) == len(set(tried)) == k + 1
        assert tried[-1].startswith("Try " + QUANTITIES[problem.kind].correct.name)
        assert trace.text.count("They differ.") == k and trace.text.count("They agree.") == 1
        parsed = BACKTRACK.parse(problem, trace.text)
        assert parsed.valid, parsed.errors
        assert parsed.backtracks == trace.backtracks == k
        assert TASK.verify(problem, trace.text).ok
    assert done >= 25


def test_direct_is_the_right_method_only() -> None:
    fmt = TASK.formats()["direct"]
    for problem in PROBLEMS[:15]:
        trace = fmt.render(problem)
        assert trace.backtracks == 0 and "Wait" not in trace.text
        assert trace.text.startswith("<think>") and trace.text.rstrip().endswith("</answer>")
        assert fmt.parse(problem, trace.text).valid
        assert TASK.well_formed(problem, trace.text)


def test_parser_catches_illegal_branches() -> None:
    problem = next(p for p in PROBLEMS if p.kind == "incircle_radius")
    text = BACKTRACK.render(problem, random.Random(0), k=2).text
    lines = text.splitlines()
    first_try = next(i for i, line in enumerate(lines) if ": Try " in line)
    wrong_claim = text.replace("They differ.", "They agree.", 1)
    assert not BACKTRACK.parse(problem, wrong_claim).valid
    repeated = "\n".join(lines[: first_try + 3] + lines[first_try : first_try + 3] + lines[first_try + 3 :])
    parsed = BACKTRACK.parse(problem, repeated)
    assert not parsed.valid and any("already tried" in e for e in parsed.errors)
    made_up = text.replace("Try r = ", "Try r = 2 * ", 1)
    assert not BACKTRACK.parse(problem, made_up).valid
    check_line = next(line for line in lines if "Check: r * s = " in line)
    figure = check_line.split("r * s = ")[1].split(",")[0]
    tampered = text.replace(check_line, check_line.replace(figure, f"{float(figure) + 1:.3f}", 1), 1)
    parsed = BACKTRACK.parse(problem, tampered)
    assert not parsed.valid and any("reads" in e for e in parsed.errors)


def test_problem_round_trips_and_cli_notation() -> None:
    for problem in PROBLEMS[:5]:
        assert TASK.problem_from_dict(problem.to_dict()) == problem
        assert TASK.parse_problem(json.dumps(problem.to_dict())) == problem
    with pytest.raises(ValueError, match="expected JSON"):
        TASK.parse_problem("orthocenter of (0,0) (1,0) (0,1)")
    with pytest.raises(ValueError, match="collinear"):
        TASK.parse_problem('{"kind": "orthocenter", "A": [0, 0], "B": [1, 1], "C": [2, 2]}')
    assert isinstance(get_task("advanced_geometry", kinds=["angle_measure"]), AdvancedGeometry)
    answer = TASK.reference_answer(PROBLEMS[0])
    assert TASK.answer_key(PROBLEMS[0], f"<answer>{answer}</answer>") == answer


NUMBERISH = st.one_of(
    st.sampled_from(
        ["1e400", "-1e400", "nan", "inf", "9" * 100_000, "٣.١٤١", "１.０", "0x1p3", "1_000", "+-1"]
    ),
    st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{0,30})?", fullmatch=True),
)
HOSTILE = st.one_of(
    st.text(max_size=300),
    NUMBERISH,
    st.builds(lambda a, b: f"<answer>({a}, {b})</answer>", NUMBERISH, NUMBERISH),
    st.builds(lambda n: "(" * n + "1" + ")" * n, st.integers(0, 50_000)),
    st.sampled_from(["\x00" * 1000, "x" * 200_001, "<answer>" * 5000, "Step 2: Try " * 5000]),
)


@given(HOSTILE, st.sampled_from(range(6)))
def test_hostile_text_gets_a_verdict(text: str, index: int) -> None:
    problem = PROBLEMS[index]
    verdict = TASK.verify(problem, text)
    assert isinstance(verdict, Verdict) and verdict.reason
    TASK.answer_key(problem, text)
    TASK.well_formed(problem, text)
    parsed = BACKTRACK.parse(problem, text)
    assert not parsed.valid or verdict.ok


def test_well_formed_accepts_a_point_or_a_number_in_an_answer_block() -> None:
    point = next(p for p in PROBLEMS if p.kind == "orthocenter")
    assert TASK.well_formed(point, "<answer>(1.5, -2)</answer>") and TASK.well_formed(
        point, "<answer>3.25</answer>"
    )
    assert not TASK.well_formed(point, "(1.5, -2)")  # no answer block
    assert not TASK.well_formed(point, "<answer>x = 1.5</answer>")
    assert not TASK.well_formed(point, "<answer>1e400</answer>")


@pytest.mark.parametrize("text", ["", "null", "[]", '"x"', "[" * 4000 + "]" * 4000, "{" * 20_000, "{}"])
def test_parse_problem_rejects_bad_notation_with_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="expected JSON"):
        TASK.parse_problem(text)


def test_config_dict_survives_json() -> None:
    config = AdvancedGeometry.from_config(kinds=["angle_measure"]).config_dict()
    assert json.loads(json.dumps(config)) == config
    assert AdvancedGeometry.from_config(**config).config.kinds == ("angle_measure",)
