"""Sudoku throughput on one core: puzzle generation, trace rendering and verification.

    python benchmarks/bench_sudoku.py [--puzzles 300] [--verify-reps 20] [--seed 0]

Prints plain ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from backtrack.tasks.sudoku import Sudoku, SudokuProblem, format_fill
from backtrack.traces import render


def rate(n: int, fn: Callable[[], object]) -> float:
    """Calls of ``fn`` per second over ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def fills(problem: SudokuProblem) -> str:
    return "\n".join(format_fill(i, int(problem.solution[i])) for i in range(81) if problem.puzzle[i] == "0")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--puzzles", type=int, default=300, help="puzzles to generate (and to verify against)"
    )
    parser.add_argument(
        "--verify-reps", type=int, default=20, help="verifications per puzzle and answer kind"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    task = Sudoku()

    rng = random.Random(args.seed)
    start = time.perf_counter()
    problems = [task.generate(rng) for _ in range(args.puzzles)]
    gen_s = time.perf_counter() - start
    print(f"sudoku_generate: {args.puzzles / gen_s:.1f} puzzles/s")
    print(f"sudoku_mean_givens: {statistics.mean(p.givens for p in problems):.2f} givens")

    traces: dict[str, list[str]] = {}
    for strategy in ("naive", "strategy"):
        start = time.perf_counter()
        rendered = [render("sudoku", p, "dfs", strategy=strategy) for p in problems]
        print(f"sudoku_render_dfs_{strategy}: {len(problems) / (time.perf_counter() - start):.1f} traces/s")
        print(
            f"sudoku_dfs_{strategy}_mean_guesses: "
            f"{statistics.mean(t.text.count('guess') for t in rendered):.2f} guesses/trace"
        )
        median_chars = statistics.median(len(t.text) for t in rendered)
        print(f"sudoku_dfs_{strategy}_median_chars: {median_chars:.0f} chars")
        traces[strategy] = [t.text for t in rendered]

    answers = {
        "grid": [p.solution for p in problems],
        "steps": [fills(p) for p in problems],
        "trace_naive": traces["naive"],
        "trace_strategy": traces["strategy"],
    }
    for kind, texts in answers.items():
        pairs = list(zip(problems, texts, strict=True))
        n = len(pairs) * args.verify_reps
        start = time.perf_counter()
        for _ in range(args.verify_reps):
            for p, text in pairs:
                if not task.verify(p, text).ok:
                    raise SystemExit(f"benchmark answer rejected ({kind}): {task.verify(p, text).reason}")
        print(f"sudoku_verify_{kind}: {n / (time.perf_counter() - start):.0f} verifications/s")


if __name__ == "__main__":
    main()
