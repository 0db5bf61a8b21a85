"""Useful (non-pad) tokens per second: packed SFT rows against the reference's padded rows.

The reference trainer padded every example to the context length and cut longer traces into
independent chunks of ``context`` tokens, one chunk per row. ``backtrack.train.sft`` packs whole
examples into rows of ``context`` tokens (best-fit decreasing) and keeps them apart with restarting
``position_ids``; rows of 2,048 tokens or more train with one fused causal attention per example
(``backtrack.train.segment_attention``), as ``train_sft`` does. Both layouts run here through the
*same* loop (forward, backward, AdamW step) on the same CountDown ``dfs`` data and identically
initialised models, for the same number of optimizer steps with the same rows per batch, so the
difference is the layout (and the attention it allows). One end-to-end figure of
``train_sft`` (HF Trainer, the packed layout) shows what the Trainer adds on top.

Printed as ``name: value unit`` lines. Scenarios (``--scenario``, repeatable; default: paper, small):

- ``paper``: 4-number CountDown DFS traces at the reference's 4096-token trace context;
- ``small``: 3-number CountDown DFS traces at a 1024-token context (the CPU study's scale);
- ``small-4096``: 3-number traces at the 4096-token context (opt-in: the padded rows are ~90% pad).

Two rates per layout: over the few timed batches (measured), and for a whole epoch (the mean useful
tokens of a batch over all rows, at the measured step time). Padded rows vary widely in fill, so the
timed sample can be far from the epoch figure; the epoch ratio is the one to quote.

Two things make the gain: row fill (the reference's chunking already fills ~60% of a 4096-token row
with 4-number traces, so fill alone gives ~1.7x there) and the step itself (per-example attention on
long packed rows computes only the diagonal blocks, with the fused kernel; the padded rows pay for a
masked square).

Usage: ``python benchmarks/bench_sft.py`` (about 1.5 minutes on 2 CPU cores), ``--steps 4`` for a quick
run, ``--size 3M`` for the reference's smallest model (slow on CPU).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import torch

from backtrack.data import build_dataset
from backtrack.models import build_model
from backtrack.tokenizer import build_tokenizer
from backtrack.train.config import SEGMENT_ATTENTION_MIN_LENGTH, SFTSettings
from backtrack.train.packing import IGNORE_INDEX, PackedCollator, encode_example, pack_lengths
from backtrack.train.segment_attention import segment_attention
from backtrack.train.sft import train_sft


@dataclass(frozen=True)
class Scenario:
    name: str
    task_config: dict[str, Any]
    context: int
    rows_per_batch: int
    steps: int  # timed optimizer steps per layout by default


SCENARIOS = {
    "paper": Scenario("paper", {}, 4096, 2, 6),
    "small": Scenario("small", {"n_numbers": 3}, 1024, 4, 12),
    # Opt-in (not in the default run): the CPU study's short traces at the reference's trace context.
    "small-4096": Scenario("small-4096", {"n_numbers": 3}, 4096, 2, 6),
}
DEFAULT_SCENARIOS = ("paper", "small")


def padded_rows(examples: list[list[int]], context: int) -> list[dict[str, list[int]]]:
    """The reference layout: each example cut into chunks of at most ``context`` tokens, one per row."""
    rows = []
    for ids in examples:
        for start in range(0, len(ids), context):
            chunk = ids[start : start + context]
            rows.append({"input_ids": chunk, "labels": [IGNORE_INDEX, *chunk[1:]]})
    return rows


def collate_padded(rows: list[dict[str, list[int]]], context: int, pad_id: int) -> dict[str, torch.Tensor]:
    """Every row padded to the full context, with an attention mask, as a padded trainer feeds them."""
    input_ids = torch.full((len(rows), context), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), context), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), context), dtype=torch.long)
    for r, row in enumerate(rows):
        n = len(row["input_ids"])
        input_ids[r, :n] = torch.tensor(row["input_ids"])
        labels[r, :n] = torch.tensor(row["labels"])
        attention_mask[r, :n] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask, "use_cache": False}


def packed_rows(examples: list[list[int]], context: int, seed: int) -> list[dict[str, list[int]]]:
    """Our layout: whole examples (overlong ones truncated, as ``train_sft`` does) packed into rows."""
    examples = [ids[:context] for ids in examples]
    rows = []
    for members in pack_lengths([len(ids) for ids in examples], context, seed=seed):
        row: dict[str, list[int]] = {"input_ids": [], "labels": [], "position_ids": []}
        for i in members:
            ids = examples[i]
            row["input_ids"] += ids
            row["labels"] += [IGNORE_INDEX, *ids[1:]]
            row["position_ids"] += list(range(len(ids)))
        rows.append(row)
    return rows


def run_steps(
    model: Any, batches: list[dict[str, torch.Tensor]], warmup: int, pad_id: int, bf16: bool = False
) -> tuple[int, float]:
    """(useful tokens, seconds) over ``batches`` after ``warmup`` untimed steps."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    useful, start = 0, 0.0
    for step, batch in enumerate(batches):
        if step == warmup:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= warmup:
            useful += int((batch["input_ids"] != pad_id).sum())
    return useful, time.perf_counter() - start


def bench(scenario: Scenario, args: argparse.Namespace, work: Path) -> None:
    tok = build_tokenizer("countdown")
    pad = tok.pad_token_id
    data = work / scenario.name
    build_dataset(
        "countdown",
        args.n,
        args.seed,
        "dfs",
        data,
        task_config=scenario.task_config,
        progress=False,
        workers=1,
    )
    train = datasets.load_from_disk(str(data))["train"]
    examples = [
        encode_example(tok, p, c, max_length=10**9, loss_on="all")["input_ids"]
        for p, c in zip(train["prompt"], train["completion"], strict=True)
    ]
    lengths = sorted(len(e) for e in examples)
    context, per_batch = scenario.context, scenario.rows_per_batch
    n_timed = args.steps or scenario.steps
    steps = args.warmup + n_timed
    print(
        f"# scenario {scenario.name}: {len(examples)} dfs traces, context {context}, {per_batch} rows/batch, "
        f"model {args.size}, {n_timed} timed steps (+{args.warmup} warm-up), "
        f"{torch.get_num_threads()} thread(s), {'bf16 autocast' if args.bf16 else 'fp32'}"
    )
    print(f"{scenario.name}.trace_tokens_median: {lengths[len(lengths) // 2]} tokens")
    print(f"{scenario.name}.trace_tokens_max: {lengths[-1]} tokens")

    rng = random.Random(args.seed)
    measured, epoch = {}, {}
    for layout in ("padded", "packed"):
        if layout == "padded":
            rows = padded_rows(examples, context)
        else:
            rows = packed_rows(examples, context, args.seed)
        fill = sum(len(r["input_ids"]) for r in rows) / (len(rows) * context)
        rng.shuffle(rows)
        if len(rows) < steps * per_batch:
            raise SystemExit(f"only {len(rows)} {layout} rows for {steps * per_batch}; raise --n")
        collate = PackedCollator(pad) if layout == "packed" else (lambda b: collate_padded(b, context, pad))
        batches = [collate(rows[i * per_batch : (i + 1) * per_batch]) for i in range(steps)]
        model = build_model(args.size, tok, context, seed=args.seed)
        # The packed layout trains as train_sft does: per-example attention on long rows.
        segments = layout == "packed" and context >= SEGMENT_ATTENTION_MIN_LENGTH
        with segment_attention(model, segments):
            useful, seconds = run_steps(model, batches, args.warmup, pad, args.bf16)
        per_step = seconds / n_timed
        measured[layout] = useful / seconds
        # A whole epoch's rate: the mean useful tokens of a batch over *all* rows, at the measured step
        # time (the few timed batches are a small sample of rows whose fill varies widely when padded).
        epoch[layout] = fill * context * per_batch / per_step
        name = f"{scenario.name}.{layout}"
        print(f"{name}_row_fill: {fill:.3f} fraction (all rows)")
        print(f"{name}_timed_row_fill: {useful / (n_timed * per_batch * context):.3f} fraction (timed rows)")
        print(f"{name}_seconds_per_step: {per_step:.3f} s")
        print(f"{name}_useful_tokens_per_s: {measured[layout]:.0f} tokens/s (timed batches)")
        print(
            f"{name}_epoch_useful_tokens_per_s: {epoch[layout]:.0f} tokens/s (all rows at measured step time)"
        )
    print(
        f"{scenario.name}.packed_over_padded: {measured['packed'] / measured['padded']:.2f} x (timed batches)"
    )
    print(f"{scenario.name}.packed_over_padded_epoch: {epoch['packed'] / epoch['padded']:.2f} x (all rows)")

    if args.trainer:
        settings = SFTSettings(
            output_dir=work / f"{scenario.name}-sft",
            max_steps=steps,
            per_device_batch_size=per_batch,
            max_length=context,
            loss_on="all",
            logging_steps=steps,
            save_steps=None,
            progress=False,
            seed=args.seed,
            bf16=args.bf16,
        )
        result = train_sft(build_model(args.size, tok, context, seed=args.seed), tok, data, settings)
        print(f"{scenario.name}.train_sft_useful_tokens_per_s: {result.tokens_per_second:.0f} tokens/s")
        print(f"{scenario.name}.train_sft_row_fill: {result.fill:.3f} fraction")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="default: paper, small"
    )
    parser.add_argument("--size", default="250K", help="model size from backtrack.models (default 250K)")
    parser.add_argument("--n", type=int, default=400, help="CountDown problems generated per scenario")
    parser.add_argument("--steps", type=int, help="timed steps per layout (default: 6 paper, 12 small)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (allocator, kernels)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is steadiest on a shared CPU)"
    )
    parser.add_argument("--bf16", action="store_true", help="both layouts under bf16 autocast (AMX CPUs)")
    parser.add_argument(
        "--no-trainer", dest="trainer", action="store_false", help="skip the train_sft figure"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenario or DEFAULT_SCENARIOS:
            bench(SCENARIOS[name], args, Path(tmp))


if __name__ == "__main__":
    main()
