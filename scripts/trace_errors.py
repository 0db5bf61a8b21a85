"""Tally the errors the format's parser finds in a study's evaluated traces, per model.

Reads a finished run directory (`backtrack run` output): its recipe, each model's held-out data and
`eval/<model>/samples.jsonl`, and parses every sequential (greedy search) sample with the model's
trace format. Numbers in the error messages are masked, so errors of one kind count together; a
trace counts once per kind. The figures behind docs/grpo.md's account of what GRPO changed:

    PYTHONPATH=src python scripts/trace_errors.py runs/cpu-rl dfs dfs-grpo
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import datasets

from backtrack.tasks import get_task


def model_format(recipe: dict, name: str) -> str:
    """A model's trace format; ``<model>-grpo`` has its SFT model's."""
    formats = {m["name"]: m["format"] for m in recipe["models"]}
    base = name.removesuffix("-grpo")
    if base not in formats:
        raise SystemExit(f"no model {base!r} in the recipe (models: {', '.join(formats)})")
    return formats[base]


def error_kinds(run: Path, name: str, strategy: str) -> tuple[int, Counter[str]]:
    recipe = json.loads((run / "recipe.json").read_text())
    fmt = model_format(recipe, name)
    task = get_task(recipe["task"]["name"], **recipe["task"]["options"])
    data_dirs = sorted((run / "data").glob(f"{fmt}-*"))
    if len(data_dirs) != 1:  # the eval's indices point into one data set; guessing could misparse
        found = ", ".join(d.name for d in data_dirs) or "none"
        raise SystemExit(f"expected one {fmt} data set under {run / 'data'}, found: {found}")
    test = datasets.load_from_disk(str(data_dirs[0]))["test"]
    parse = task.formats()[fmt].parse
    kinds: Counter[str] = Counter()
    traces = 0
    with open(run / "eval" / name / "samples.jsonl") as f:
        for line in f:
            record = json.loads(line)
            if record["strategy"] != strategy:
                continue
            traces += 1
            problem = task.problem_from_dict(test[record["index"]])
            found = {re.sub(r"\d+", "N", e)[:70] for e in parse(problem, record["text"]).errors}
            kinds.update(found)
    return traces, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a run directory, e.g. runs/cpu-rl")
    parser.add_argument("models", nargs="+", help="model names (eval/<name>/samples.jsonl)")
    parser.add_argument("--strategy", default="sequential", help="which samples to parse")
    parser.add_argument("--top", type=int, default=10, help="error kinds shown per model")
    args = parser.parse_args()
    for name in args.models:
        traces, kinds = error_kinds(args.run, name, args.strategy)
        print(f"{name}: {traces} traces")
        for kind, count in kinds.most_common(args.top):
            print(f"  {count:5d}  {kind}")


if __name__ == "__main__":
    main()
