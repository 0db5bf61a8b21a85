"""Ways to compute each quantity, the right one and plausible wrong ones, and the check that tells them apart.

The ``backtrack-k`` traces try wrong methods, check their result and go back; the parser recomputes
every method and check it reads, so a wrong branch in a trace is a real, failing computation. Trace
figures are floats rounded to 3 decimals (inputs are small integers, so float error is far below
that); the final answer is checked exactly by the task's verifier, not here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from backtrack.tasks.advanced_geometry.exact import Point, format3, orthocenter, sub

Value = float | tuple[float, float]
CHECK_GAP = 0.01  # a wrong method is used only when its check misses by more than this


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    compute: Callable[[Point, Point, Point], Value]


@dataclass(frozen=True, slots=True)
class Quantity:
    """One kind of question: how to set up, the methods (first one right), and the check."""

    setup: Callable[[Point, Point, Point], str]
    methods: tuple[Method, ...]
    check: Callable[[Point, Point, Point, Value], tuple[str, float, float]]  # text, value, expected

    @property
    def correct(self) -> Method:
        return self.methods[0]

    def method(self, name: str) -> Method | None:
        return next((m for m in self.methods if m.name == name), None)


def fmt(x: float) -> str:
    return format3(Fraction(x))


def fmt_value(value: Value) -> str:
    if isinstance(value, tuple):
        return f"({fmt(value[0])}, {fmt(value[1])})"
    return fmt(value)


def _length(u: Point) -> float:
    return math.hypot(u[0], u[1])


def _sides(a: Point, b: Point, c: Point) -> tuple[float, float, float]:
    return _length(sub(c, b)), _length(sub(a, c)), _length(sub(b, a))


def _area(a: Point, b: Point, c: Point) -> float:
    u, v = sub(b, a), sub(c, a)
    return abs(u[0] * v[1] - u[1] * v[0]) / 2


# ---- orthocenter ----------------------------------------------------------------------------
def _point(x: Fraction, y: Fraction) -> tuple[float, float]:
    return float(x), float(y)


def _midpoint(p: Point, q: Point) -> tuple[float, float]:
    return (p[0] + q[0]) / 2, (p[1] + q[1]) / 2


def _circumcenter(a: Point, b: Point, c: Point) -> tuple[float, float]:
    hx, hy = orthocenter(a, b, c)  # Euler: H = A + B + C - 2 O
    return _point((a[0] + b[0] + c[0] - hx) / 2, (a[1] + b[1] + c[1] - hy) / 2)


def _incenter(a: Point, b: Point, c: Point) -> tuple[float, float]:
    la, lb, lc = _sides(a, b, c)
    total = la + lb + lc
    return (la * a[0] + lb * b[0] + lc * c[0]) / total, (la * a[1] + lb * b[1] + lc * c[1]) / total


def _ortho_check(a: Point, b: Point, c: Point, value: Value) -> tuple[str, float, float]:
    assert isinstance(value, tuple)
    bc, ca = sub(c, b), sub(a, c)
    d1 = (value[0] - a[0]) * bc[0] + (value[1] - a[1]) * bc[1]
    d2 = (value[0] - b[0]) * ca[0] + (value[1] - b[1]) * ca[1]
    text = f"(P - A).(C - B) = {fmt(d1)} and (P - B).(A - C) = {fmt(d2)}, both should be 0"
    return text, abs(d1) + abs(d2), 0.0


ORTHOCENTER = Quantity(
    setup=lambda a, b, c: f"C - B = {sub(c, b)}, A - C = {sub(a, c)}",
    methods=(
        Method(
            "the intersection of the altitudes from A and B", lambda a, b, c: _point(*orthocenter(a, b, c))
        ),
        Method(
            "the centroid (A + B + C) / 3",
            lambda a, b, c: ((a[0] + b[0] + c[0]) / 3, (a[1] + b[1] + c[1]) / 3),
        ),
        Method("the circumcenter, equally far from A, B and C", _circumcenter),
        Method("the midpoint of BC", lambda a, b, c: _midpoint(b, c)),
        Method("the midpoint of CA", lambda a, b, c: _midpoint(c, a)),
        Method("the midpoint of AB", lambda a, b, c: _midpoint(a, b)),
        Method("the incenter (aA + bB + cC) / (a + b + c)", lambda a, b, c: _incenter(a, b, c)),
    ),
    check=_ortho_check,
)


# ---- incircle radius ------------------------------------------------------------------------
def _radius_check(a: Point, b: Point, c: Point, value: Value) -> tuple[str, float, float]:
    assert not isinstance(value, tuple)
    s = sum(_sides(a, b, c)) / 2
    area = _area(a, b, c)
    return f"r * s = {fmt(value * s)}, the area is {fmt(area)}", value * s, area


def _right_formula(a: Point, b: Point, c: Point) -> float:
    x, y, z = sorted(_sides(a, b, c))
    return (x + y - z) / 2


INCIRCLE_RADIUS = Quantity(
    setup=lambda a, b, c: (
        "a = |BC| = {}, b = |CA| = {}, c = |AB| = {}, s = (a + b + c) / 2 = {}, area = {}".format(
            *map(fmt, _sides(a, b, c)), fmt(sum(_sides(a, b, c)) / 2), fmt(_area(a, b, c))
        )
    ),
    methods=(
        Method("r = area / s", lambda a, b, c: _area(a, b, c) / (sum(_sides(a, b, c)) / 2)),
        Method("r = area / (a + b + c)", lambda a, b, c: _area(a, b, c) / sum(_sides(a, b, c))),
        Method(
            "r = a * b * c / (4 * area)", lambda a, b, c: math.prod(_sides(a, b, c)) / (4 * _area(a, b, c))
        ),
        Method("r = 2 * area / (longest side)", lambda a, b, c: 2 * _area(a, b, c) / max(_sides(a, b, c))),
        Method("r = (shorter sides - longest side) / 2", _right_formula),
        Method("r = (a + b + c) / (6 * sqrt(3))", lambda a, b, c: sum(_sides(a, b, c)) / (6 * math.sqrt(3))),
        Method("r = sqrt(area / pi)", lambda a, b, c: math.sqrt(_area(a, b, c) / math.pi)),
    ),
    check=_radius_check,
)


# ---- angle ABC ------------------------------------------------------------------------------
def _angle(p: Point, q: Point, r: Point) -> float:
    u, v = sub(p, q), sub(r, q)
    return math.degrees(math.atan2(abs(u[0] * v[1] - u[1] * v[0]), u[0] * v[0] + u[1] * v[1]))


def _cos_b(a: Point, b: Point, c: Point) -> float:
    u, v = sub(a, b), sub(c, b)
    return (u[0] * v[0] + u[1] * v[1]) / (_length(u) * _length(v))


def _angle_check(a: Point, b: Point, c: Point, value: Value) -> tuple[str, float, float]:
    assert not isinstance(value, tuple)
    ba, bc, ca = _length(sub(a, b)), _length(sub(c, b)), sub(a, c)
    law = ba * ba + bc * bc - 2 * ba * bc * math.cos(math.radians(value))
    expected = ca[0] * ca[0] + ca[1] * ca[1]
    return f"|BA|^2 + |BC|^2 - 2|BA||BC|cos = {fmt(law)}, |CA|^2 = {fmt(expected)}", law, expected


ANGLE_MEASURE = Quantity(
    setup=lambda a, b, c: f"BA = A - B = {sub(a, b)}, BC = C - B = {sub(c, b)}",
    methods=(
        Method("acos(BA.BC / (|BA||BC|))", lambda a, b, c: _angle(a, b, c)),
        Method("the angle at A, between AB and AC", lambda a, b, c: _angle(b, a, c)),
        Method("the angle at C, between CA and CB", lambda a, b, c: _angle(a, c, b)),
        Method("acos(-BA.BC / (|BA||BC|))", lambda a, b, c: 180 - _angle(a, b, c)),
        Method(
            "asin(BA.BC / (|BA||BC|))",
            lambda a, b, c: math.degrees(math.asin(max(-1.0, min(1.0, _cos_b(a, b, c))))),
        ),
        Method(
            "the direction of BC from the x-axis",
            lambda a, b, c: math.degrees(math.atan2(c[1] - b[1], c[0] - b[0])),
        ),
        Method(
            "the direction of BA from the x-axis",
            lambda a, b, c: math.degrees(math.atan2(a[1] - b[1], a[0] - b[0])),
        ),
    ),
    check=_angle_check,
)

QUANTITIES = {"orthocenter": ORTHOCENTER, "incircle_radius": INCIRCLE_RADIUS, "angle_measure": ANGLE_MEASURE}


def wrong_methods(kind: str, a: Point, b: Point, c: Point) -> list[Method]:
    """The wrong methods whose check visibly fails on this triangle."""
    quantity = QUANTITIES[kind]
    out = []
    for method in quantity.methods[1:]:
        _, got, expected = quantity.check(a, b, c, method.compute(a, b, c))
        if abs(got - expected) > CHECK_GAP:
            out.append(method)
    return out
