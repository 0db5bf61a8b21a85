"""Worst-case verify time of the list_functions, zebra_puzzles and self_reference verifiers.

Each verifier gets its reference answer, the direct trace, wrong answers and hostile text (huge
numbers, 1e400, deep brackets, unicode digits, 200k characters, NUL bytes, code); the time of an
input is its best of ``--reps`` calls, and the figure printed is the worst input's. Zebra verifiers
solve the puzzle on the first call for a problem (then memoise), so that cold call is timed too,
for reasoning-gym's default 4x4 puzzles and its largest, 7x7. The target is < 50 ms.

    PYTHONPATH=src python benchmarks/bench_verifiers_b.py [--problems 10] [--reps 3]

Prints plain ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from backtrack.tasks import get_task
from backtrack.tasks.base import MAX_ANSWER_CHARS
from backtrack.tasks.zebra_puzzles.solver import unique_solution


def hostile_texts() -> list[str]:
    return [
        "9" * 200_000,
        "<answer>" + "9" * 5_000 + "</answer>",
        "<answer>1e400</answer>",
        "<answer>[1e400]</answer>",
        "[" * 100_000 + "]" * 99_990,
        "<answer>" + "[" * 50_000 + "]" * 50_000 + "</answer>",
        "<answer>[" + ", ".join(["9" * 12] * 5_000) + "]</answer>",
        "<answer>[" + ", ".join(["7"] * 200) + "]</answer>",
        "<answer>" + "1," * 60_000 + "</answer>",
        "<answer>[١٢, ٣]</answer>",
        "x" * (MAX_ANSWER_CHARS + 1),
        "<answer>" + "a" * (MAX_ANSWER_CHARS - 20) + "</answer>",
        "<answer> " + " " * (MAX_ANSWER_CHARS - 30) + "carol</answer>",
        "\x00" * MAX_ANSWER_CHARS,
        "<answer>" * 12_000 + "</answer>" * 12_000,
        "<answer>__import__('os').system('true')</answer>",
    ]


def best_time(task: Any, problem: Any, text: str, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        task.verify(problem, text)
        best = min(best, time.perf_counter() - start)
    return best


def inputs(task: Any, problem: Any) -> list[str]:
    reference = task.reference_answer(problem)
    direct = task.formats()["direct"].render(problem).text
    return [reference, direct, reference + "0", f"<answer>[{reference}]</answer>", *hostile_texts()]


def worst(task: Any, problems: list[Any], reps: int) -> tuple[float, str]:
    worst_s, worst_text = 0.0, ""
    for problem in problems:
        for text in inputs(task, problem):
            took = best_time(task, problem, text, reps)
            if took > worst_s:
                worst_s, worst_text = took, text
    return worst_s, worst_text


def cold_zebra(task: Any, problems: list[Any]) -> float:
    """The first verify of each problem, with the solver's memo cleared."""
    slowest = 0.0
    for problem in problems:
        unique_solution.cache_clear()
        start = time.perf_counter()
        task.verify(problem, "<answer>nobody</answer>")
        slowest = max(slowest, time.perf_counter() - start)
    return slowest


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", type=int, default=10, help="problems per task (7x7 zebra: 1)")
    parser.add_argument("--reps", type=int, default=3, help="calls per input; the best one counts")
    args = parser.parse_args()
    rng = random.Random(0)
    for name, options, count in (
        ("list_functions", {}, args.problems),
        ("self_reference", {}, args.problems),
        ("zebra_puzzles", {}, args.problems),
        ("zebra_puzzles", {"num_people": 7, "num_characteristics": 7}, 1),
    ):
        task = get_task(name, **options)
        problems = [task.generate(rng) for _ in range(count)]
        label = name + "".join(f"_{v}" for v in options.values())
        if name == "zebra_puzzles":
            print(f"{label}_verify_cold_max: {cold_zebra(task, problems) * 1000:.2f} ms")
        worst_s, text = worst(task, problems, args.reps)
        shown = text[:30].replace("\n", " ") + ("..." if len(text) > 30 else "")
        print(f"{label}_verify_max: {worst_s * 1000:.2f} ms  ({len(text)} chars: {shown!r})")


if __name__ == "__main__":
    main()
