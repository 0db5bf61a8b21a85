"""Exact geometry on integer triangles: rational values exactly, irrational ones as rigorous intervals.

The orthocenter is rational. The incircle radius ``2K / (a + b + c)`` (``2K`` the integer cross
product, ``a, b, c`` square roots of integers) and the angle ``atan2(|cross|, dot)`` in degrees are
irrational except in cases handled exactly (all sides integers; angles of 45, 90 and 135 degrees,
the only rational-degree angles between lattice vectors). Irrational values are enclosed in intervals
of rational endpoints whose width shrinks with ``digits``, so a comparison with a rational bound is
always decided by refining: an irrational number never equals the bound.
"""

from __future__ import annotations

import math
from fractions import Fraction

Point = tuple[int, int]
Interval = tuple[Fraction, Fraction]  # lo <= value <= hi


def sub(p: Point, q: Point) -> Point:
    return (p[0] - q[0], p[1] - q[1])


def dot(u: tuple[Fraction | int, Fraction | int], v: tuple[Fraction | int, Fraction | int]) -> Fraction:
    return Fraction(u[0] * v[0] + u[1] * v[1])


def cross(u: Point, v: Point) -> int:
    return u[0] * v[1] - u[1] * v[0]


def orthocenter(a: Point, b: Point, c: Point) -> tuple[Fraction, Fraction]:
    """Where the altitudes from A and B meet: (H - A).(C - B) = 0 and (H - B).(A - C) = 0."""
    bc, ca = sub(c, b), sub(a, c)
    r1, r2 = bc[0] * a[0] + bc[1] * a[1], ca[0] * b[0] + ca[1] * b[1]
    det = bc[0] * ca[1] - bc[1] * ca[0]
    if det == 0:
        raise ValueError("degenerate triangle")
    return Fraction(r1 * ca[1] - bc[1] * r2, det), Fraction(bc[0] * r2 - ca[0] * r1, det)


def sqrt_interval(n: int, digits: int) -> Interval:
    """sqrt(n) for an integer n >= 0, exact when n is a square."""
    root = math.isqrt(n)
    if root * root == n:
        return Fraction(root), Fraction(root)
    scale = 10**digits
    low = math.isqrt(n * scale * scale)
    return Fraction(low, scale), Fraction(low + 1, scale)


def side_squares(a: Point, b: Point, c: Point) -> tuple[int, int, int]:
    """|BC|^2, |CA|^2, |AB|^2 (the sides opposite A, B, C)."""
    return tuple(dot(u, u).numerator for u in (sub(c, b), sub(a, c), sub(b, a)))  # type: ignore[return-value]


def incircle_radius(a: Point, b: Point, c: Point, digits: int = 30) -> Interval:
    """r = 2K / (a + b + c) with 2K = |cross(B - A, C - A)|."""
    twice_area = abs(cross(sub(b, a), sub(c, a)))
    sides = [sqrt_interval(n, digits) for n in side_squares(a, b, c)]
    lo_sum, hi_sum = sum(s[0] for s in sides), sum(s[1] for s in sides)
    return Fraction(twice_area) / hi_sum, Fraction(twice_area) / lo_sum


def _atan_series(p: int, q: int, scale: int) -> tuple[int, int]:
    """Bounds on atan(p/q) * scale for 0 <= p <= q, q > 0 (Euler's series, every term positive).

    atan(x) = sum_n t_n with t_0 = x / (1 + x^2) and t_{n+1} = t_n * (2n + 2) / (2n + 3) * x^2 / (1 + x^2).
    Each term is truncated (at most one unit low each), and the tail after t_N is at most
    t_N * rho / (1 - rho) <= t_N for rho = x^2 / (1 + x^2) <= 1/2.
    """
    if p == 0:
        return 0, 0
    num, den = p * p, p * p + q * q  # rho = num / den
    term = scale * p * q // den  # t_0 = x / (1 + x^2) = p q / (p^2 + q^2)
    total, n, count = 0, 0, 0
    while term > 0:
        total += term
        count += 1
        term = term * (2 * n + 2) * num // ((2 * n + 3) * den)
        n += 1
    return total, total + count + 1  # truncation (count units) and the tail (< 1 unit once term is 0)


def _pi_interval(scale: int) -> tuple[int, int]:
    """pi * scale bounds from Machin's formula, pi = 16 atan(1/5) - 4 atan(1/239)."""
    lo5, hi5 = _atan_series(1, 5, scale)
    lo239, hi239 = _atan_series(1, 239, scale)
    return 16 * lo5 - 4 * hi239, 16 * hi5 - 4 * lo239


def angle_degrees(a: Point, b: Point, c: Point, digits: int = 30) -> Interval:
    """The angle ABC in degrees, in [0, 180]."""
    ba, bc = sub(a, b), sub(c, b)
    d, x = ba[0] * bc[0] + ba[1] * bc[1], abs(cross(ba, bc))
    if d == 0:
        return Fraction(90), Fraction(90)
    if x == abs(d):
        value = Fraction(45 if d > 0 else 135)
        return value, value
    if x == 0:
        value = Fraction(0 if d > 0 else 180)
        return value, value
    scale = 10 ** (digits + 5)
    pi_lo, pi_hi = _pi_interval(scale)
    ad = abs(d)
    if x <= ad:  # alpha = atan(x / |d|) in (0, 45)
        lo, hi = _atan_series(x, ad, scale)
        alpha = (Fraction(lo, scale), Fraction(hi, scale))
    else:  # alpha = pi/2 - atan(|d| / x)
        lo, hi = _atan_series(ad, x, scale)
        alpha = (
            Fraction(pi_lo, 2 * scale) - Fraction(hi, scale),
            Fraction(pi_hi, 2 * scale) - Fraction(lo, scale),
        )
    to_deg = (Fraction(180 * scale, pi_hi), Fraction(180 * scale, pi_lo))
    deg = (alpha[0] * to_deg[0], alpha[1] * to_deg[1])
    if d < 0:
        return 180 - deg[1], 180 - deg[0]
    return deg


def round3(value: Fraction) -> Fraction:
    """``value`` rounded to 3 decimals, halves away from zero."""
    scaled = abs(value) * 1000
    rounded = Fraction(math.floor(scaled + Fraction(1, 2)), 1000)
    return rounded if value >= 0 else -rounded


def format3(value: Fraction) -> str:
    """A rational as a decimal with exactly 3 places (``-0.000`` written ``0.000``)."""
    r = round3(value)
    sign = "-" if r < 0 else ""
    thousandths = abs(r.numerator * 1000 // r.denominator)
    return f"{sign}{thousandths // 1000}.{thousandths % 1000:03d}"
