"""Figures of a Sudoku configuration: how much search its puzzles need, trace lengths, generation speed.

    PYTHONPATH=src python scripts/sudoku_stats.py --box 2x3 --min-givens 9 --max-givens 9 --puzzles 2000

For N generated puzzles it prints: the share solved by propagation alone (the naive DFS of the
``dfs`` format makes no guess), the share with at least one failed guess (a backtrack), the mean and
largest number of guesses, tokens of the ``dfs`` and ``direct`` completions (as a dataset row holds
them, without EOS; the task's own tokenizer) and of the prompt (without BOS), the share of dfs
completions within each budget, and generation speed in puzzles per second (one process).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from backtrack.tasks import get_task
from backtrack.tokenizer import build_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--box", default="2x3", help="box shape: 3x3 (9x9), 2x3 (6x6) or 2x2 (4x4)")
    parser.add_argument("--min-givens", type=int, default=None)
    parser.add_argument("--max-givens", type=int, default=None)
    parser.add_argument("--puzzles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", default="naive", help="search of the dfs format: naive or strategy")
    parser.add_argument(
        "--budgets", type=int, nargs="*", default=[128, 256, 512], help="token budgets to report"
    )
    args = parser.parse_args()

    options = {"box": args.box, "min_givens": args.min_givens, "max_givens": args.max_givens}
    task = get_task("sudoku", **{k: v for k, v in options.items() if v is not None})
    tokenizer = build_tokenizer("sudoku", **task.config_dict())
    rng = random.Random(args.seed)
    start = time.perf_counter()
    problems = [task.generate(rng) for _ in range(args.puzzles)]
    generate_s = time.perf_counter() - start
    formats = task.formats()

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    dfs = [formats["dfs"].render(p, strategy=args.strategy) for p in problems]
    direct = [formats["direct"].render(p, strategy=args.strategy) for p in problems]
    guesses = [t.text.count("guess:") for t in dfs]
    dfs_tokens = [tokens(t.text) for t in dfs]
    direct_tokens = [tokens(t.text) for t in direct]
    prompt_tokens = [tokens(task.prompt(p)) for p in problems]
    n = len(problems)
    c = task.config
    print(f"config: box={c.box} givens {c.min_givens}-{c.max_givens}, {n} puzzles, seed {args.seed}")
    print(f"mean givens: {statistics.mean(p.givens for p in problems):.2f}")
    print(f"all unique (count_solutions == 1): {all(task.count_solutions(p) == 1 for p in problems)}")
    print(f"solved by propagation alone (no guess): {sum(g == 0 for g in guesses) / n:.1%}")
    print(f"with >= 1 failed guess (backtrack): {sum(t.backtracks > 0 for t in dfs) / n:.1%}")
    print(f"guesses: mean {statistics.mean(guesses):.2f}, max {max(guesses)}")
    backtracks = [t.backtracks for t in dfs]
    print(f"backtracks: mean {statistics.mean(backtracks):.2f}, max {max(backtracks)}")
    print(f"prompt tokens: max {max(prompt_tokens)}")
    ranked = sorted(dfs_tokens)
    p90, p99 = ranked[int(0.9 * n)], ranked[min(n - 1, int(0.99 * n))]
    mean = statistics.mean(dfs_tokens)
    print(f"dfs completion tokens: mean {mean:.1f}, p90 {p90}, p99 {p99}, max {max(dfs_tokens)}")
    for budget in args.budgets:
        print(f"dfs completions within {budget} tokens: {sum(t <= budget for t in dfs_tokens) / n:.1%}")
    print(f"direct completion tokens: mean {statistics.mean(direct_tokens):.1f}, max {max(direct_tokens)}")
    print(f"generation: {n / generate_s:.0f} puzzles/s")


if __name__ == "__main__":
    main()
