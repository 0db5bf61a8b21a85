"""Advanced geometry: the orthocenter, incircle radius or an angle of a triangle with integer vertices.

Triangles and question kinds come from reasoning-gym's ``advanced_geometry`` generator (one item per
seed drawn from the caller's rng); the problem, prompt, exact solver and verifier are ours. Answers
are decimals rounded to 3 places, and the verifier accepts a number within ``TOLERANCE`` (0.0005, half
a unit in the third decimal, stated in the prompt) of the exact value, decided exactly (rationals, or
rigorous intervals refined until the comparison is certain; see ``exact.py``).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

from backtrack.tasks.advanced_geometry.exact import (
    Interval,
    Point,
    angle_degrees,
    cross,
    format3,
    incircle_radius,
    orthocenter,
    sub,
)
from backtrack.tasks.base import MAX_ANSWER_CHARS, TaskBase, Verdict, accept, extract_answer, reject

KINDS = ("orthocenter", "incircle_radius", "angle_measure")
TOLERANCE = Fraction(1, 2000)
MAX_FINAL_CHARS = 80  # the final answer itself: two numbers, brackets and a unit fit easily
MAX_COORD = 10_000
_NUMBER = r"(-?[0-9]{1,9}(?:\.[0-9]{1,12})?)"  # ASCII digits only, bounded length
_POINT_RE = re.compile(rf"\(?\s*{_NUMBER}\s*,\s*{_NUMBER}\s*\)?")
_SCALAR_RE = re.compile(rf"{_NUMBER}\s*(?:°|degrees?|deg)?")
_QUESTIONS = {
    "orthocenter": "Find the coordinates of its orthocenter, the point where the altitudes meet. "
    "Answer as (x, y) with each coordinate rounded to 3 decimal places.",
    "incircle_radius": "Find the radius of its incircle, rounded to 3 decimal places.",
    "angle_measure": "Find the measure of angle ABC (the angle at B) in degrees, "
    "rounded to 3 decimal places.",
}


@dataclass(frozen=True, slots=True)
class GeometryConfig:
    min_coord: int = -10
    max_coord: int = 10
    kinds: tuple[str, ...] = KINDS
    test_fraction: float = 0.1  # share of problems in the test split, by a hash of the content

    def __post_init__(self) -> None:
        for name in ("min_coord", "max_coord"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or abs(value) > MAX_COORD:
                raise ValueError(f"{name} must be an integer in -{MAX_COORD}..{MAX_COORD}, got {value!r}")
        if self.min_coord >= self.max_coord:
            raise ValueError(f"min_coord ({self.min_coord}) must be < max_coord ({self.max_coord})")
        kinds = (self.kinds,) if isinstance(self.kinds, str) else tuple(self.kinds)
        if not kinds or any(k not in KINDS for k in kinds):
            raise ValueError(f"kinds must be a non-empty list of {', '.join(KINDS)}, got {self.kinds!r}")
        object.__setattr__(self, "kinds", kinds)
        if not isinstance(self.test_fraction, int | float) or not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction!r}")


@dataclass(frozen=True, slots=True)
class GeometryProblem:
    kind: str  # one of KINDS
    a: Point
    b: Point
    c: Point

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "A": list(self.a), "B": list(self.b), "C": list(self.c)}


def _coord_point(value: Any, name: str) -> Point:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and abs(v) <= MAX_COORD for v in value)
    ):
        raise ValueError(f"{name} must be a pair of integers in -{MAX_COORD}..{MAX_COORD}, got {value!r}")
    return (value[0], value[1])


def make_problem(kind: Any, a: Any, b: Any, c: Any) -> GeometryProblem:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    pa, pb, pc = _coord_point(a, "A"), _coord_point(b, "B"), _coord_point(c, "C")
    if cross(sub(pb, pa), sub(pc, pa)) == 0:
        raise ValueError(f"A, B and C are collinear: {pa}, {pb}, {pc}")
    return GeometryProblem(kind, pa, pb, pc)


# ---- exact answers --------------------------------------------------------------------------
def exact_value(problem: GeometryProblem, digits: int = 30) -> tuple[Interval, ...]:
    """Intervals enclosing each coordinate of the answer (one for a scalar, two for a point)."""
    a, b, c = problem.a, problem.b, problem.c
    if problem.kind == "orthocenter":
        return tuple((v, v) for v in orthocenter(a, b, c))
    if problem.kind == "incircle_radius":
        return (incircle_radius(a, b, c, digits),)
    return (angle_degrees(a, b, c, digits),)


def _within(claimed: Fraction, problem: GeometryProblem, index: int) -> bool | None:
    """Whether |claimed - exact| <= TOLERANCE, refining the interval until it is certain."""
    for digits in (30, 60, 120):
        lo, hi = exact_value(problem, digits)[index]
        if claimed - TOLERANCE <= lo and hi <= claimed + TOLERANCE:
            return True
        if hi < claimed - TOLERANCE or lo > claimed + TOLERANCE:
            return False
    return None  # only a claim within 10^-120 of the tolerance edge gets here


def reference_numbers(problem: GeometryProblem) -> tuple[str, ...]:
    return tuple(format3((lo + hi) / 2) for lo, hi in exact_value(problem))


def format_answer(problem: GeometryProblem, numbers: tuple[str, ...]) -> str:
    if problem.kind == "orthocenter":
        return f"({numbers[0]}, {numbers[1]})"
    return numbers[0]  # angles in degrees without the sign, so the text stays ASCII


def read_numbers(problem: GeometryProblem, final: str) -> tuple[Fraction, ...] | str:
    """The claimed numbers of a final answer, or why it cannot be read. ``final`` is short (checked)."""
    pattern = _POINT_RE if problem.kind == "orthocenter" else _SCALAR_RE
    match = pattern.fullmatch(final.strip())
    if match is None:
        shape = "(x, y)" if problem.kind == "orthocenter" else "a decimal number"
        return f"expected {shape} with ASCII digits, got {final[:40]!r}"
    return tuple(Fraction(g) for g in match.groups())


@dataclass
class AdvancedGeometry(TaskBase):
    """The advanced geometry task: reasoning-gym generator, our exact solver, prompt and verifier."""

    name: ClassVar[str] = "advanced_geometry"
    config_class: ClassVar[type] = GeometryConfig
    config: GeometryConfig = field(default_factory=GeometryConfig)

    def config_dict(self) -> dict[str, Any]:
        # kinds as a list: the dict is stored as JSON (dataset metadata, tokenizer config) and compared
        return {**asdict(self.config), "kinds": list(self.config.kinds)}

    # ---- problems -----------------------------------------------------------------------------
    def generate(self, rng: random.Random) -> GeometryProblem:
        import reasoning_gym  # imported here: it loads many generators

        item = reasoning_gym.create_dataset(
            "advanced_geometry",
            size=1,
            seed=rng.randrange(2**31),
            min_coord=self.config.min_coord,
            max_coord=self.config.max_coord,
            task_types=list(self.config.kinds),
        )[0]
        meta = item["metadata"]
        a, b, c = ([int(v) for v in meta[k]] for k in "ABC")
        return make_problem(meta["task_type"], a, b, c)

    def problem_from_dict(self, row: dict[str, Any]) -> GeometryProblem:
        return make_problem(row["kind"], row["A"], row["B"], row["C"])

    def parse_problem(self, text: str) -> GeometryProblem:
        """JSON: ``{"kind": "orthocenter", "A": [1, 3], "B": [-7, 0], "C": [7, 6]}``."""
        form = (
            'expected JSON like {"kind": "orthocenter", "A": [1, 3], "B": [-7, 0], "C": [7, 6]}; '
            f"kinds: {', '.join(KINDS)}"
        )
        if len(text) > 10_000:
            raise ValueError(f"problem text too long; {form}")
        try:
            row = json.loads(text)
            return make_problem(row["kind"], row["A"], row["B"], row["C"])
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise ValueError(f"cannot read the problem ({exc}); {form}") from None
        except ValueError as exc:
            raise ValueError(f"{exc}; {form}") from None

    def content_key(self, problem: GeometryProblem) -> str:
        return f"{problem.kind}:{problem.a}{problem.b}{problem.c}".replace(" ", "")

    # ---- solving ------------------------------------------------------------------------------
    def solve(self, problem: GeometryProblem) -> tuple[str, ...]:
        """The exact answer rounded to 3 decimals: (x, y) for the orthocenter, (value,) otherwise."""
        return reference_numbers(problem)

    def reference_answer(self, problem: GeometryProblem, trace: Any = None) -> str:
        return format_answer(problem, self.solve(problem))

    # ---- text ---------------------------------------------------------------------------------
    def prompt(self, problem: GeometryProblem) -> str:
        return (
            f"Triangle ABC has vertices A = {problem.a}, B = {problem.b} and C = {problem.c}. "
            f"{_QUESTIONS[problem.kind]} An answer within 0.0005 of the exact value is accepted. "
            "Give only the final answer inside <answer></answer>."
        )

    def output_kind(self, text: str = "") -> str:
        return "answer"  # the kind of every verdict: one final answer (a point or a number)

    def vocabulary(self) -> list[str] | None:
        return None

    # ---- verifying ----------------------------------------------------------------------------
    def verify(self, problem: GeometryProblem, text: str) -> Verdict:
        try:
            return self._verify(problem, text)
        except Exception as exc:  # a verifier bug must not crash a reward worker
            return reject(f"verifier error: {type(exc).__name__}: {exc}", "error")

    def _verify(self, problem: GeometryProblem, text: str) -> Verdict:
        kind = self.output_kind()
        if not isinstance(text, str):
            return reject(f"answer must be text, got {type(text).__name__}", kind)
        if len(text) > MAX_ANSWER_CHARS:
            return reject(f"answer is {len(text)} characters, over the {MAX_ANSWER_CHARS} limit", kind)
        final = extract_answer(text)
        if len(final) > MAX_FINAL_CHARS:
            return reject(f"the final answer is {len(final)} characters, over {MAX_FINAL_CHARS}", kind)
        numbers = read_numbers(problem, final)
        if isinstance(numbers, str):
            return reject(numbers, kind)
        expected = self.reference_answer(problem)
        for index, claimed in enumerate(numbers):
            ok = _within(claimed, problem, index)
            if ok is None:
                return reject("the answer is too close to the tolerance edge to decide", kind)
            if not ok:
                return reject(f"{final} is not within 0.0005 of the exact answer {expected}", kind)
        return accept(f"within 0.0005 of {expected}", kind)

    def answer_key(self, problem: GeometryProblem, text: str) -> str | None:
        """The claimed answer rounded to 3 decimals, written like the reference answer."""
        if not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS:
            return None
        final = extract_answer(text)
        if len(final) > MAX_FINAL_CHARS:
            return None
        numbers = read_numbers(problem, final)
        if isinstance(numbers, str):
            return None
        return format_answer(problem, tuple(format3(n) for n in numbers))

    def well_formed(self, problem: GeometryProblem, text: str) -> bool:
        """An ``<answer>`` block holding a point or a number (either shape: the format reward gives a
        well-formed wrong answer, such as another problem's, its small share)."""
        if not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS or "<answer>" not in text:
            return False
        final = extract_answer(text).strip()
        return len(final) <= MAX_FINAL_CHARS and bool(
            _POINT_RE.fullmatch(final) or _SCALAR_RE.fullmatch(final)
        )

    def formats(self) -> dict[str, Any]:
        from backtrack.tasks.advanced_geometry.formats import FORMATS

        return dict(FORMATS)
