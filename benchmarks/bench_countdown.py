"""CountDown throughput: DFS trace generation, the ``generate`` dataset path, and verdicts.

Prints plain ``name: value unit`` lines (anything after the unit is a note). The default sizes take
about a minute on a 2-core machine; docs/benchmarks.md gives the larger sizes its figures used.

    .venv/bin/python benchmarks/bench_countdown.py
    .venv/bin/python benchmarks/bench_countdown.py --n-traces 5000 --n-dataset 20000

All figures come from one process run (the dataset builds start their own worker processes, as
``backtrack generate`` does), so ratios between lines are comparable even on a shared machine;
absolute figures move with the load.
"""

from __future__ import annotations

import argparse
import inspect
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backtrack.tasks import get_task
from backtrack.tasks.countdown import CountdownProblem, steps_to_expression
from backtrack.traces import parse, render

TASK = "countdown"
FMT = "dfs"


def line(name: str, value: float | int | str, unit: str = "") -> None:
    """One ``name: value unit`` line; ``name`` has no spaces."""
    if isinstance(value, float):
        value = f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    print(f"{name}: {value} {unit}".rstrip(), flush=True)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def timed_cpu(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, wall seconds, and CPU seconds of this process and its finished children.

    On a shared machine the CPU-time rate estimates what an idle machine would give (one process).
    """
    before = os.times()
    start = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - start
    after = os.times()
    fields = ("user", "system", "children_user", "children_system")
    return out, wall, sum(getattr(after, f) - getattr(before, f) for f in fields)


# ---- shared inputs (compare_external.py uses the same ones) ----------------------------------------
@dataclass(frozen=True)
class Answer:
    problem: CountdownProblem
    text: str
    kind: str
    expected: bool  # the right verdict, known by construction
    plain: bool  # a bare expression (no "= target", no tags): what any scorer should accept as input


def make_expressions(n_problems: int, seed: int) -> list[Answer]:
    """Eight answers per solvable problem, half of them correct.

    Correct: the solver's solution as a bracketed expression (``correct``), the same with ``= target``
    (``correct_eq``), after some text inside ``<answer></answer>`` (``correct_tagged``), with spaces
    around the operators (``correct_spaced``). Wrong: the first number's literal replaced by the
    second number, so that number is used twice (``reused``); all numbers joined with ``+``
    (``wrong_value``: legal, rarely the target); the first step alone (``unused``); a missing bracket
    (``malformed``). ``expected`` accounts for the rare cases where a "wrong" answer is right.
    """
    task = get_task(TASK)
    rng = random.Random(seed)
    out: list[Answer] = []
    while len(out) < 8 * n_problems:
        p = task.generate(rng)
        steps = task.solve(p)
        if not steps:
            continue
        expr = steps_to_expression(p.numbers, steps)
        first = steps[0]
        a, b = p.numbers[0], p.numbers[1]
        spaced = "".join(f" {ch} " if ch in "+-*/" else ch for ch in expr)
        out += [
            Answer(p, expr, "correct", True, True),
            Answer(p, f"{expr} = {p.target}", "correct_eq", True, False),
            Answer(p, f"Let me think.\n<answer>{expr}</answer>", "correct_tagged", True, False),
            Answer(p, spaced, "correct_spaced", True, True),
            Answer(p, re.sub(rf"\b{a}\b", str(b), expr, count=1), "reused", a == b, True),
            Answer(p, " + ".join(map(str, p.numbers)), "wrong_value", sum(p.numbers) == p.target, True),
            Answer(p, f"{first.a}{first.op}{first.b}", "unused", False, True),
            Answer(p, f"({expr}", "malformed", False, True),
        ]
    return out


def make_problems(n: int, seed: int) -> list[CountdownProblem]:
    task = get_task(TASK)
    rng = random.Random(seed)
    return [task.generate(rng) for _ in range(n)]


# ---- 1a: in-memory generation loop -----------------------------------------------------------------
def bench_traces(n: int, seed: int) -> None:
    task = get_task(TASK)
    rng = random.Random(seed)
    problems, t_gen, c_gen = timed_cpu(lambda: [task.generate(rng) for _ in range(n)])
    traces, t_render, c_render = timed_cpu(lambda: [render(TASK, p, FMT) for p in problems])
    line(
        "countdown_problems_per_s", n / t_gen, f"problems/s (task.generate; cpu-time rate {n / c_gen:.0f}/s)"
    )
    line(
        "countdown_dfs_render_per_s",
        n / t_render,
        f"traces/s (search + text; cpu-time rate {n / c_render:.0f}/s)",
    )
    line(
        "countdown_dfs_traces_per_s",
        n / (t_gen + t_render),
        f"traces/s (generate + render, 1 process, n={n}; cpu-time rate {n / (c_gen + c_render):.0f}/s)",
    )
    _, t_solve, c_solve = timed_cpu(lambda: [task.solve(p) for p in problems])
    line(
        "countdown_solve_per_s",
        n / t_solve,
        f"problems/s (task.solve, which build_dataset runs per row; cpu-time rate {n / c_solve:.0f}/s)",
    )
    solved = sum(t.solved for t in traces)
    line("countdown_dfs_goal_share", solved / n, f"({solved}/{n} traces reach the goal)")
    line("countdown_dfs_mean_chars", sum(len(t.text) for t in traces) / n, "chars/trace")
    line("countdown_dfs_mean_lines", sum(t.text.count("\n") for t in traces) / n, "lines/trace")
    line("countdown_dfs_mean_backtracks", sum(t.backtracks for t in traces) / n, "backtracks/trace")

    # The parser must read back exactly what the renderer wrote.
    parsed, t_parse = timed(
        lambda: [parse(TASK, p, FMT, t.text) for p, t in zip(problems, traces, strict=True)]
    )
    mismatches = 0
    for p, t, r in zip(problems, traces, parsed, strict=True):
        same = (
            r.goal_claimed == t.solved
            and r.valid == t.solved
            and (r.backtracks, r.dead_ends, r.steps) == (t.backtracks, t.dead_ends, t.steps)
            and (t.solved or r.errors == ["no goal reached"])
        )
        if not same:
            if not mismatches:
                print(f"  first parser mismatch: {p} rendered={t.stats()} parsed={r}", file=sys.stderr)
            mismatches += 1
    line("countdown_dfs_parse_per_s", n / t_parse, "traces/s")
    line("countdown_dfs_parser_mismatches", mismatches, f"of {n} traces (must be 0)")


# ---- 1b: the real ``backtrack generate`` path ------------------------------------------------------
def bench_dataset(n: int, seed: int, workers: list[int]) -> None:
    try:
        from backtrack.data import build_dataset
    except ImportError as exc:
        line("countdown_generate_dataset", "skipped", f"(backtrack.data not importable: {exc})")
        return
    params = inspect.signature(build_dataset).parameters
    for w in workers:
        with tempfile.TemporaryDirectory(prefix="bench_cd_") as tmp:
            kwargs: dict[str, Any] = {"workers": w}
            if "progress" in params:
                kwargs["progress"] = False
            out = f"{tmp}/data"
            info, elapsed, cpu = timed_cpu(
                lambda kwargs=kwargs, out=out: build_dataset(TASK, n, seed, FMT, out, **kwargs)
            )
        rows = sum(getattr(info, "splits", {}).values())
        line(
            f"countdown_generate_workers{w}_per_s",
            n / elapsed,
            f"traces/s ({n} items, {rows} rows, in {elapsed:.1f} s; {cpu:.1f} cpu-s, {n / cpu:.0f}/cpu-s)",
        )


# ---- 2: verdicts -----------------------------------------------------------------------------------
def best_rate(fn: Callable[[], Any], count: int, passes: int) -> tuple[Any, float, float]:
    """Result, best wall-clock rate and best CPU-time rate over ``passes`` runs of ``fn``.

    The best pass is the one least disturbed by other load (the usual ``timeit`` practice).
    """
    out, wall, cpu = None, float("inf"), float("inf")
    for _ in range(passes):
        out, w, c = timed_cpu(fn)
        wall, cpu = min(wall, w), min(cpu, c)
    return out, count / wall, count / max(cpu, 1e-9)


def bench_verify(n_problems: int, passes: int, seed: int) -> None:
    task = get_task(TASK)
    answers = make_expressions(n_problems, seed)
    plain = [a for a in answers if a.plain]
    verdicts, rate, cpu_rate = best_rate(
        lambda: [task.verify(a.problem, a.text) for a in answers], len(answers), passes
    )
    line(
        "countdown_expression_verdicts_per_s",
        rate,
        f"verdicts/s (task.verify, {len(answers)} answers, best of {passes}; cpu-time rate {cpu_rate:.0f}/s)",
    )
    _, rate, cpu_rate = best_rate(lambda: [task.verify(a.problem, a.text) for a in plain], len(plain), passes)
    line(
        "countdown_plain_expression_verdicts_per_s",
        rate,
        f"verdicts/s (task.verify, the {len(plain)} bare expressions; cpu-time rate {cpu_rate:.0f}/s)",
    )
    _, rate, cpu_rate = best_rate(
        lambda: [task.verify_expression(a.problem, a.text) for a in plain], len(plain), passes
    )
    line(
        "countdown_verify_expression_per_s",
        rate,
        f"verdicts/s (task.verify_expression on them, no kind detection; cpu-time rate {cpu_rate:.0f}/s)",
    )
    wrong = [a for a, v in zip(answers, verdicts, strict=True) if bool(v.ok) != a.expected]
    line("countdown_expression_accepted_share", sum(a.expected for a in answers) / len(answers))
    line("countdown_expression_wrong_verdicts", len(wrong), f"of {len(answers)} (must be 0)")
    for a in wrong[:3]:
        print(f"  wrong verdict: {a}", file=sys.stderr)


def bench_trace_verify(n: int, seed: int) -> None:
    task = get_task(TASK)
    problems = make_problems(n, seed + 1)
    traces = [render(TASK, p, FMT) for p in problems]
    pairs = list(zip(problems, traces, strict=True))
    verdicts, rate, cpu_rate = best_rate(lambda: [task.verify(p, t.text) for p, t in pairs], n, 2)
    chars = sum(len(t.text) for t in traces) / n
    line(
        "countdown_trace_verdicts_per_s",
        rate,
        f"verdicts/s (task.verify on {n} dfs traces, best of 2; cpu-time rate {cpu_rate:.0f}/s)",
    )
    line("countdown_trace_verify_chars_per_s", rate * chars, "chars/s")
    wrong = sum(bool(v.ok) != t.solved for v, t in zip(verdicts, traces, strict=True))
    line("countdown_trace_wrong_verdicts", wrong, f"of {n} (verdict != rendered 'solved'; must be 0)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-traces", type=int, default=3000, help="in-memory generate+render loop size")
    ap.add_argument("--n-dataset", type=int, default=4000, help="traces per build_dataset run (0: skip)")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts for build_dataset")
    ap.add_argument("--n-expr-problems", type=int, default=2000, help="problems for expression verdicts (x8)")
    ap.add_argument("--passes", type=int, default=5, help="timed passes over the expression set (best)")
    ap.add_argument("--n-trace-verify", type=int, default=1000, help="traces for trace verdicts")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    line("python", sys.version.split()[0])
    bench_traces(args.n_traces, args.seed)
    if args.n_dataset > 0:
        bench_dataset(args.n_dataset, args.seed, [int(w) for w in args.workers.split(",") if w])
    bench_verify(args.n_expr_problems, args.passes, args.seed)
    bench_trace_verify(args.n_trace_verify, args.seed)


if __name__ == "__main__":
    main()
