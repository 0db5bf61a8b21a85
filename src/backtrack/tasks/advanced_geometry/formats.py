"""Geometry trace formats: ``backtrack-k`` (k wrong methods tried, checked and abandoned) and ``direct``.

    <think>
    Step 1: a = |BC| = 15.232, b = |CA| = 6.708, c = |AB| = 8.544, s = (a + b + c) / 2 = 15.242, area = 3.000
    Step 2: Try r = a * b * c / (4 * area): 72.578
    Step 3: Check: r * s = 1106.227, the area is 3.000. They differ.
    Wait, this doesn't lead to the correct solution. Let me go back to step 1.
    Step 2: Try r = area / s: 0.197
    Step 3: Check: r * s = 3.000, the area is 3.000. They agree.
    </think>
    <answer>0.197</answer>

Every wrong branch uses a different method from ``methods.py`` whose check visibly fails on the
triangle; ``direct`` is the same trace with no wrong branch. The parser recomputes each method and
check it reads (figures within 0.0015 of the recomputed ones, the agree/differ claim true), requires
distinct methods, and checks the final answer with the task's exact verifier.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction
from typing import Any

from backtrack.tasks.advanced_geometry.methods import QUANTITIES, Method, fmt_value, wrong_methods
from backtrack.tasks.base import MAX_ANSWER_CHARS
from backtrack.traces.base import ParsedTrace, Trace, wrong_branch_formats

MAX_LINES = 2_000
MAX_ERRORS = 20
FIGURE_SLACK = Fraction(3, 2000)  # figures are written to 3 decimals; allow rounding on both sides
AGREE = 0.001
RETURN = "Wait, this doesn't lead to the correct solution. Let me go back to step 1."
_FIGURE = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,12})?")
_STEP = re.compile(r"Step ([0-9]{1,4}): (.{0,400})")


def _task() -> Any:
    from backtrack.tasks.advanced_geometry.task import AdvancedGeometry

    return AdvancedGeometry()


def _branch_lines(problem: Any, method: Method) -> list[str]:
    quantity = QUANTITIES[problem.kind]
    value = method.compute(problem.a, problem.b, problem.c)
    text, got, expected = quantity.check(problem.a, problem.b, problem.c, value)
    verdict = "They agree." if abs(got - expected) <= AGREE else "They differ."
    return [f"Step 2: Try {method.name}: {fmt_value(value)}", f"Step 3: Check: {text}. {verdict}"]


def render_trace(problem: Any, k: int, rng: random.Random | None) -> Trace:
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    rng = rng or random.Random(0)
    quantity = QUANTITIES[problem.kind]
    wrong = wrong_methods(problem.kind, problem.a, problem.b, problem.c)
    if len(wrong) < k:
        raise ValueError(f"{problem} has only {len(wrong)} wrong methods whose check fails, fewer than k={k}")
    chosen = rng.sample(wrong, k)
    lines = ["<think>", f"Step 1: {quantity.setup(problem.a, problem.b, problem.c)}"]
    for method in chosen:
        lines += [*_branch_lines(problem, method), RETURN]
    lines += _branch_lines(problem, quantity.correct)
    answer = _task().reference_answer(problem)
    lines += ["</think>", f"<answer>{answer}</answer>"]
    return Trace("\n".join(lines) + "\n", True, k, k, 1 + 2 * (k + 1), answer)


def _figures(text: str) -> list[Fraction]:
    return [Fraction(f) for f in _FIGURE.findall(text)[:8]]


def _close(written: list[Fraction], true: list[float]) -> bool:
    return len(written) == len(true) and all(
        abs(w - Fraction(t)) <= FIGURE_SLACK for w, t in zip(written, true, strict=False)
    )


def parse_trace(problem: Any, text: str) -> ParsedTrace:
    """Replay the tries and checks; never raises on bad text."""
    if not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS:
        return ParsedTrace(False, False, 0, 0, 0, None, ["text missing or over the length limit"])
    quantity = QUANTITIES[problem.kind]
    errors: list[str] = []
    backtracks = steps = 0
    tried: set[str] = set()
    current: tuple[Method, Any] | None = None  # the method on trial and its value
    check_failed: bool | None = None
    solved_by: str | None = None
    for n, raw in enumerate(text.split("\n", MAX_LINES)[:MAX_LINES], 1):
        if len(errors) >= MAX_ERRORS:
            break
        line = raw.strip()
        if line.startswith("Wait"):
            backtracks += 1
            if check_failed is not True:
                errors.append(f"line {n}: going back without a failed check")
            if not line.endswith("go back to step 1."):
                errors.append(f"line {n}: a wrong method is abandoned by going back to step 1")
            current, check_failed = None, None
            continue
        match = _STEP.fullmatch(line)
        if match is None:
            continue
        steps += 1
        body = match.group(2)
        if body.startswith("Try "):
            name, _, figures = body[4:].rpartition(": ")
            method = quantity.method(name)
            if method is None:
                errors.append(f"line {n}: unknown method {name[:60]!r}")
                current = None
                continue
            if name in tried:
                errors.append(f"line {n}: {name} was already tried")
            tried.add(name)
            value = method.compute(problem.a, problem.b, problem.c)
            true = list(value) if isinstance(value, tuple) else [value]
            if not _close(_figures(figures), true):
                errors.append(f"line {n}: {name} gives {fmt_value(value)}")
            current, check_failed = (method, value), None
        elif body.startswith("Check: "):
            if current is None or check_failed is not None:
                # One check per method: a repeated check is an error, so its cost counts to MAX_ERRORS.
                errors.append(f"line {n}: a check without a method, or a second check of one")
                continue
            method, value = current
            check_text, got, expected = quantity.check(problem.a, problem.b, problem.c, value)
            fails = abs(got - expected) > AGREE
            true_figures = [float(f) for f in _figures(check_text)]
            if not _close(_figures(body.removeprefix("Check: ")), true_figures):
                errors.append(f"line {n}: the check of {method.name} reads {check_text}")
            claims_fail = body.endswith("They differ.")
            if claims_fail != fails or not (claims_fail or body.endswith("They agree.")):
                errors.append(f"line {n}: the check of {method.name} {'fails' if fails else 'holds'}")
            check_failed = fails
            if not fails:
                solved_by = method.name
    task = _task()
    answer = task.answer_key(problem, text)
    if "<answer>" not in text:
        return ParsedTrace(False, False, backtracks, backtracks, steps, None, ["no <answer> given", *errors])
    verdict = task.verify(problem, text)
    if not verdict.ok:
        errors.insert(0, f"answer: {verdict.reason}")
    if solved_by is None:
        errors.append("no method passed its check")
    return ParsedTrace(True, verdict.ok and not errors, backtracks, backtracks, steps, answer, errors)


FORMATS = wrong_branch_formats(render_trace, parse_trace)
