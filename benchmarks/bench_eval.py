"""Evaluation throughput: the batched HF backend against generating one sequence at a time.

The reference study evaluated best-of-n one problem and one sample at a time (a known cost of
its evaluation code). This measures both loops on the same random-init model, the same CountDown
prompts, the same sample count and token budget, through the same ``HFBackend`` code (the
one-at-a-time loop is ``batch_size=1``), so the ratio is the gain from batching alone.
The issue's target: batched >= 10x.

Prints plain ``name: value unit`` lines. The default run takes under a minute on a 2-core CPU:

    .venv/bin/python benchmarks/bench_eval.py
    .venv/bin/python benchmarks/bench_eval.py --size 3M --problems 32 --n 16 --max-new-tokens 256
    .venv/bin/python benchmarks/bench_eval.py --device cuda --size 17M --problems 200 --n 32 --batch-size 512

A random model rarely emits EOS, so almost every sample runs to ``--max-new-tokens``: the figures are
for nearly full-length samples, the worst case for the batch (few rows finish early). Two workloads:
``parallel`` (``--n`` samples per problem at temperature 0.7, the paper's best-of-n) and
``sequential`` (one greedy run per problem, over more problems so that a batch is as full).

One torch thread by default: on a shared 2-core machine two threads make both loops erratic (the
one-at-a-time loop's tiny matrix-vector products get slower with threads, the batch faster), and one
thread gives the smaller, steadier ratio.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from backtrack.data import split_prompt
from backtrack.models import build_model
from backtrack.sample import HFBackend
from backtrack.tasks import get_task
from backtrack.tokenizer import build_tokenizer
from backtrack.traces import render


def line(name: str, value: float | int | str, unit: str = "") -> None:
    """One ``name: value unit`` line; ``name`` has no spaces."""
    if isinstance(value, float):
        value = f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    print(f"{name}: {value} {unit}".rstrip(), flush=True)


def prompts_for(count: int, seed: int) -> list[str]:
    """CountDown dfs prompts (the problem's first trace line), as a trace model sees them."""
    task = get_task("countdown")
    prompts = []
    for i in range(count):
        problem = task.generate(random.Random(f"{seed}:{i}"))
        trace = render("countdown", problem, "dfs", rng=random.Random(i))
        prompts.append(split_prompt(task, problem, "dfs", trace.text)[0])
    return prompts


def measure(backend: HFBackend, prompts: list[str], n: int, max_new_tokens: int, temperature: float) -> dict:
    start = time.perf_counter()
    out = backend.generate(prompts, n=n, max_new_tokens=max_new_tokens, temperature=temperature, seed=0)
    seconds = time.perf_counter() - start
    samples = sum(len(group) for group in out)
    tokens = sum(c.tokens for group in out for c in group)
    return {"seconds": seconds, "samples": samples, "tokens": tokens}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="1M", help="model size name from backtrack.models (default 1M)")
    parser.add_argument("--problems", type=int, default=8, help="problems of the parallel workload")
    parser.add_argument("--n", type=int, default=16, help="samples per problem (parallel)")
    parser.add_argument(
        "--sequential-problems", type=int, default=64, help="problems of the sequential (greedy) workload"
    )
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128, help="sequences per generate call (batched)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1; 0: torch's default)"
    )
    return parser.parse_args()


def compare(label: str, batched: HFBackend, one: HFBackend, prompts: list[str], n: int, args: Any) -> None:
    """Both loops on the same workload; ``label`` names the lines."""
    temperature = 0.0 if n == 1 else 0.7
    fast = measure(batched, prompts, n, args.max_new_tokens, temperature)
    slow = measure(one, prompts, n, args.max_new_tokens, temperature)
    line(f"{label}_workload", f"{len(prompts)} problems x {n} samples x {args.max_new_tokens} max tokens")
    for name, result in (("batched", fast), ("one_at_a_time", slow)):
        line(f"{label}_{name}_samples_per_s", result["samples"] / result["seconds"], "samples/s")
        line(f"{label}_{name}_tokens_per_s", result["tokens"] / result["seconds"], "tokens/s")
    speedup = (fast["samples"] / fast["seconds"]) / (slow["samples"] / slow["seconds"])
    line(f"{label}_batched_speedup", speedup, "x")


def main() -> None:
    args = parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = build_tokenizer("countdown")
    context = max(512, args.max_new_tokens + 64)
    model = build_model(args.size, tokenizer, context, seed=0, dtype=getattr(torch, args.dtype))
    prompts = prompts_for(max(args.problems, args.sequential_problems), seed=0)
    batched = HFBackend(model, tokenizer, batch_size=args.batch_size, device=args.device)
    one = HFBackend(model, tokenizer, batch_size=1, device=args.device)
    params = sum(p.numel() for p in model.parameters())
    line("eval_model", f"{args.size} on {args.device} ({args.dtype}, {params} parameters)")

    measure(batched, prompts[:2], 2, 8, 0.7)  # warm-up: kernels, allocator, tokenizer caches
    compare("eval_parallel", batched, one, prompts[: args.problems], args.n, args)  # best-of-n, t=0.7
    compare("eval_sequential", batched, one, prompts[: args.sequential_problems], 1, args)  # greedy


if __name__ == "__main__":
    main()
