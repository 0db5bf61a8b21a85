"""Worst-case verifier time of the reasoning-gym tasks (arc_1d, advanced_geometry, color_cube_rotation).

    PYTHONPATH=src python benchmarks/bench_verifiers.py [--problems 20] [--reps 3]

For each task it times ``verify`` and every format's ``parse`` on the reference answer, rendered
traces and hostile texts (200k characters, huge numbers, deep nesting, NUL bytes, unicode digits,
long legal-looking traces), keeps the best of ``reps`` runs per input (scheduler noise), and prints
the worst input's time. Every verdict must stay under 50 ms.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from backtrack.tasks import get_task
from backtrack.tasks.base import MAX_ANSWER_CHARS

TASKS = ("arc_1d", "advanced_geometry", "color_cube_rotation")


def hostile_texts(task: Any, problem: Any) -> list[str]:
    reference = task.reference_answer(problem)
    fmts = task.formats()
    traces = [fmt.render(problem, random.Random(0)).text for fmt in fmts.values()]
    longest = max(traces, key=len)
    body = longest.split("</think>")[0]
    n = MAX_ANSWER_CHARS
    return [
        reference,
        f"<answer>{reference}</answer>",
        *traces,
        "9" * n,
        "<answer>" + "1 " * (n // 2 - 10) + "</answer>",
        "<answer>1e400</answer>",
        "<answer>(" + "9" * 1000 + ", 1)</answer>",
        "(" * (n // 2) + ")" * (n // 2),
        "\x00" * n,
        "٣" * n,
        "<answer>" * (n // 8),
        (body * (n // max(1, len(body))))[:n],  # a long legal-looking trace without an answer
        ((body + "\n") * (n // (len(body) + 1)))[: n - 40] + f"<answer>{reference}</answer>",
        "Step 1: Hypothesis: " * (n // 20),
        "\n" * n,
        *repeated_lines(traces),
        *edge_claims(task, problem),
    ]


def repeated_lines(traces: list[str]) -> list[str]:
    """Each line of a rendered trace repeated up to the length limit, inside the trace: the parsers
    must not redo a costly check for every copy."""
    out = []
    for trace in traces:
        lines = trace.splitlines()
        for i in range(1, len(lines) - 2):
            copies = [lines[i]] * (MAX_ANSWER_CHARS // (len(lines[i]) + 1) - len(lines))
            out.append("\n".join(lines[: i + 1] + copies + lines[i + 1 :])[:MAX_ANSWER_CHARS])
    return out


def edge_claims(task: Any, problem: Any) -> list[str]:
    """Geometry answers 1e-12 inside and outside the tolerance edge (the slowest exact comparisons)."""
    if task.name != "advanced_geometry":
        return []
    from backtrack.tasks.advanced_geometry.task import TOLERANCE, exact_value

    out = []
    for offset in (TOLERANCE - Fraction(1, 10**12), TOLERANCE + Fraction(1, 10**12)):
        numbers = [f"{float((lo + hi) / 2 + offset):.12f}" for lo, hi in exact_value(problem)]
        out.append("<answer>(" + ", ".join(numbers) + ")</answer>" if len(numbers) == 2 else numbers[0])
    return out


def best_time(fn: Callable[[], object], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    for name in TASKS:
        task = get_task(name)
        rng = random.Random(0)
        problems = [task.generate(rng) for _ in range(args.problems)]
        worst_verify = worst_parse = 0.0
        for problem in problems:
            for text in hostile_texts(task, problem):
                worst_verify = max(
                    worst_verify, best_time(lambda t=text, p=problem, v=task.verify: v(p, t), args.reps)
                )
                for fmt in task.formats().values():
                    worst_parse = max(
                        worst_parse, best_time(lambda f=fmt, t=text, p=problem: f.parse(p, t), args.reps)
                    )
        print(f"{name}_verify_worst: {worst_verify * 1000:.2f} ms")
        print(f"{name}_parse_worst: {worst_parse * 1000:.2f} ms")


if __name__ == "__main__":
    main()
