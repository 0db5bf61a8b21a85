"""CountDown against other projects, on the same settings and in the same run.

(a) Stream-of-Search (kanishkg/stream-of-search): its 4-number DFS trace generation (targets 10..100,
    numbers 1..99, sum heuristic, threshold = target) against ours, and a line-by-line comparison of
    the two traces on the same problems. Its source is read from ``--sos-dir`` (its ``src/``); the
    ``tiktoken`` import it does not need here is stubbed when tiktoken is absent.
(b) reasoning-gym: its countdown ``score_answer`` against our ``task.verify`` on the same bare
    expressions. It runs in its own interpreter (``--rg-python``, e.g. a throwaway venv), fed the
    expressions as JSON.

Either comparison is skipped with a message when its project is not available. No code of either
project is part of this repository; this script only imports or runs it from where it lies.

    (a checkout of the kanishkg/stream-of-search repository in /tmp/stream-of-search, or any copy of src/)
    python3 -m venv /tmp/rgvenv && /tmp/rgvenv/bin/pip install reasoning-gym
    .venv/bin/python benchmarks/compare_external.py \\
        --sos-dir /tmp/stream-of-search/src --rg-python /tmp/rgvenv/bin/python
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import types
from pathlib import Path

from backtrack.tasks import get_task
from backtrack.traces import parse, render
from bench_countdown import FMT, TASK, best_rate, line, make_expressions, timed_cpu


# ---- (a) Stream-of-Search ----------------------------------------------------------------------------
def _import_sos(sos_dir: Path | None) -> tuple[types.ModuleType, types.ModuleType, types.ModuleType] | None:
    if sos_dir is None or not (sos_dir / "countdown_dfs.py").is_file():
        where = "no --sos-dir given" if sos_dir is None else f"no countdown_dfs.py under {sos_dir}"
        line("sos", "skipped", f"({where}; pass --sos-dir <stream-of-search checkout>/src)")
        return None
    try:
        importlib.import_module("tiktoken")
    except ImportError:
        sys.modules["tiktoken"] = types.ModuleType("tiktoken")  # imported at module level, unused here
    sys.path.insert(0, str(sos_dir))
    try:
        return tuple(importlib.import_module(m) for m in ("countdown", "countdown_dfs", "countdown_utils"))
    except Exception as exc:
        line("sos", "skipped", f"(import failed: {type(exc).__name__}: {exc})")
        return None
    finally:
        sys.path.remove(str(sos_dir))


def compare_sos(sos_dir: Path | None, n: int, seed: int) -> None:
    modules = _import_sos(sos_dir)
    if modules is None:
        return
    cd_mod, dfs_mod, utils = modules
    # Their generator: target first (uniform), then numbers 1..max_target-1 until solvable, then the
    # DFS with the sum heuristic and threshold = target (countdown_generate.py --search dfs).
    random.seed(seed)
    game = cd_mod.CountDown(max_target=100, start_size=4, min_target=10)

    def sos_generate() -> list[tuple[list[int], int]]:
        problems = []
        for _ in range(n):
            target = random.randint(10, 100)
            nums, solution = game.generate(target)
            game.convert_to_path(target, nums, solution)  # their script writes this "optimal path" too
            problems.append((nums, target))
        return problems

    problems, t_gen, c_gen = timed_cpu(sos_generate)
    sos_traces, t_dfs, c_dfs = timed_cpu(
        lambda: [dfs_mod.dfs(t, nums, heuristic=utils.sum_heuristic, threshold=t) for nums, t in problems]
    )
    sos_rate, sos_cpu_rate = n / (t_gen + t_dfs), n / (c_gen + c_dfs)
    line(
        "sos_problems_per_s",
        n / t_gen,
        f"problems/s (CountDown.generate + convert_to_path; cpu {n / c_gen:.0f}/s)",
    )
    line("sos_dfs_per_s", n / t_dfs, f"traces/s (countdown_dfs.dfs; cpu {n / c_dfs:.0f}/s)")
    line(
        "sos_dfs_traces_per_s",
        sos_rate,
        f"traces/s (generate + dfs, 1 process, n={n}; cpu {sos_cpu_rate:.0f}/s)",
    )
    sos_goal = sum("Goal Reached" in s for s in sos_traces)
    line("sos_dfs_goal_share", sos_goal / n, f"({sos_goal}/{n})")
    line("sos_dfs_mean_chars", sum(map(len, sos_traces)) / n, "chars/trace")

    # Ours, same sizes, same run.
    task = get_task(TASK)
    rng = random.Random(seed)
    # heuristic="sum": the heuristic their dfs uses (our default draws sum or mult per problem)
    ours, t_ours, c_ours = timed_cpu(
        lambda: [render(TASK, task.generate(rng), FMT, heuristic="sum") for _ in range(n)]
    )
    ours_rate, ours_cpu_rate = n / t_ours, n / c_ours
    line(
        "ours_dfs_traces_per_s",
        ours_rate,
        f"traces/s (task.generate + render, 1 process; cpu {ours_cpu_rate:.0f}/s)",
    )
    line("ours_dfs_goal_share", sum(t.solved for t in ours) / n)
    line(
        "ours_vs_sos_trace_speedup",
        ours_rate / sos_rate,
        f"x (cpu-time rates: {ours_cpu_rate / sos_cpu_rate:.1f} x)",
    )

    # Same problems through both DFS implementations: the text must be identical except where their
    # game allows a zero intermediate (a-a=0), which ours forbids (every intermediate positive).
    # Timed first: our search + text alone on their problems, against their dfs on the same problems.
    same = [task.problem(nums, target) for nums, target in problems]
    texts, t_same, c_same = timed_cpu(lambda: [render(TASK, p, FMT, heuristic="sum").text for p in same])
    line(
        "ours_dfs_render_same_problems_per_s",
        n / t_same,
        f"traces/s (render on their {n} problems; cpu {n / c_same:.0f}/s)",
    )
    line("ours_vs_sos_dfs_only_speedup", t_dfs / t_same, f"x (cpu-time rates: {c_dfs / c_same:.2f} x)")
    identical = zero = other = parser_rejects = 0
    for (nums, target), problem, text, sos_text in zip(problems, same, texts, sos_traces, strict=True):
        has_zero = re.search(r"=0,", sos_text) is not None
        if text == sos_text:
            identical += 1
        elif has_zero:
            zero += 1
        else:
            other += 1
            if other == 1:
                print(f"  first differing trace: {nums} -> {target}", file=sys.stderr)
        parsed = parse(TASK, problem, FMT, sos_text)
        reached = "Goal Reached" in sos_text
        misread = parsed.valid != reached or (not reached and parsed.errors != ["no goal reached"])
        parser_rejects += misread and not has_zero
    line("sos_same_problem_identical_traces", identical, f"of {n}")
    line("sos_same_problem_differ_zero_intermediate", zero, f"of {n} (their a-a=0 steps; our rules forbid 0)")
    line("sos_same_problem_differ_other", other, f"of {n} (must be 0)")
    line("sos_traces_misread_by_our_parser", parser_rejects, "(traces without zero intermediates; must be 0)")


# ---- (b) reasoning-gym -------------------------------------------------------------------------------
_RG_SCRIPT = r"""
import json, sys, time
import reasoning_gym
rows = json.load(open(sys.argv[1]))
repeat = int(sys.argv[2])
data = reasoning_gym.create_dataset("countdown", size=1, seed=0)
entries = [{"metadata": {"numbers": r["numbers"], "target": r["target"]}} for r in rows]
answers = [r["answer"] for r in rows]
score = data.score_answer
for a, e in zip(answers[:50], entries[:50]):
    score(a, e)  # warm-up (sympy's lazy imports)
elapsed = cpu = float("inf")
for _ in range(repeat):  # best of the passes
    start, start_cpu = time.perf_counter(), time.process_time()
    scores = [score(a, e) for a, e in zip(answers, entries)]
    elapsed = min(elapsed, time.perf_counter() - start)
    cpu = min(cpu, time.process_time() - start_cpu)
try:
    from importlib.metadata import version as dist_version
    version = dist_version("reasoning-gym")
except Exception:
    version = getattr(reasoning_gym, "__version__", "?")
result = {"seconds": elapsed, "cpu_seconds": cpu, "count": len(rows), "scores": scores, "version": version}
print(json.dumps(result))
"""


def compare_reasoning_gym(rg_python: str | None, n_problems: int, repeat: int, seed: int) -> None:
    if not rg_python or not os.access(rg_python, os.X_OK):
        where = "no --rg-python given" if rg_python is None else f"no interpreter at {rg_python}"
        line("reasoning_gym", "skipped", f"({where}; pass --rg-python <venv with reasoning-gym>/bin/python)")
        return
    answers = [a for a in make_expressions(n_problems, seed) if a.plain]
    task = get_task(TASK)

    def ours() -> tuple[float, float, list]:
        verdicts, rate, cpu_rate = best_rate(
            lambda: [task.verify(a.problem, a.text) for a in answers], len(answers), repeat
        )
        return rate, cpu_rate, verdicts

    before, before_cpu, verdicts = ours()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        rows = [
            {"numbers": list(a.problem.numbers), "target": a.problem.target, "answer": a.text}
            for a in answers
        ]
        json.dump(rows, f)
    try:
        proc = subprocess.run(
            [rg_python, "-c", _RG_SCRIPT, f.name, str(repeat)], capture_output=True, text=True, timeout=1800
        )
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        line("reasoning_gym", "skipped", f"(its interpreter failed: {tail[0][:200]})")
        return
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    after, after_cpu, _ = ours()
    ours_rate, ours_cpu_rate = (before + after) / 2, (before_cpu + after_cpu) / 2
    rg_rate = result["count"] / result["seconds"]
    rg_cpu_rate = result["count"] / max(result["cpu_seconds"], 1e-9)
    line("reasoning_gym_version", result["version"])
    line(
        "reasoning_gym_score_answer_per_s",
        rg_rate,
        f"verdicts/s ({result['count']} expressions, best of {repeat}; cpu-time rate {rg_cpu_rate:.0f}/s)",
    )
    note = f"mean of best-of-{repeat} runs before and after it: {before:.0f}, {after:.0f}"
    line(
        "ours_verify_same_expressions_per_s",
        ours_rate,
        f"verdicts/s ({note}; cpu-time rate {ours_cpu_rate:.0f}/s)",
    )
    line(
        "ours_vs_reasoning_gym_verify_speedup",
        ours_rate / rg_rate,
        f"x (cpu-time rates: {ours_cpu_rate / rg_cpu_rate:.1f} x)",
    )
    # Where the two scorers disagree (rg: 1.0 = correct), by kind of answer.
    disagree: dict[str, int] = {}
    for a, v, s in zip(answers, verdicts, result["scores"], strict=True):
        if bool(v.ok) != (s == 1.0):
            disagree[a.kind] = disagree.get(a.kind, 0) + 1
    line("reasoning_gym_disagreements", sum(disagree.values()), f"of {len(answers)} by kind: {disagree}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sos-dir", type=Path, default=None, help="stream-of-search's src/ (skipped if absent)")
    ap.add_argument("--n-sos", type=int, default=1000, help="problems for the Stream-of-Search comparison")
    ap.add_argument(
        "--rg-python", default=None, help="a python with reasoning-gym installed (skipped if absent)"
    )
    ap.add_argument("--n-expr-problems", type=int, default=1000, help="problems for verdicts (x6 answers)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the expression set (best)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    line("python", sys.version.split()[0])
    compare_sos(args.sos_dir, args.n_sos, args.seed)
    compare_reasoning_gym(args.rg_python, args.n_expr_problems, args.repeat, args.seed)


if __name__ == "__main__":
    main()
