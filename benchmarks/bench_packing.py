"""Packed training rows against a bare causal training step: tokens per second side by side.

Three rates on the same model size, rows per batch, row length, dtype and device:

- ``bare``: a plain training step (forward, backward, AdamW) on unpacked rows of the same tokens: no
  ``position_ids``, so causal attention across the whole row, no Trainer. The ceiling packing is
  measured against (it is *not* a correct way to train packed rows: examples would see each other).
- ``packed``: the same loop on the rows ``train_sft`` builds (whole CountDown ``dfs`` traces packed
  best-fit decreasing, restarting ``position_ids``), through the attention ``train_sft`` picks for the
  device (``backtrack.train.packed_attention``: FlexAttention on CUDA, per-example sdpa or masked sdpa
  on the CPU). Its exactness (packed logits == examples run alone) is checked on the model first.
- ``train_sft``: ``train_sft`` itself (HF Trainer, same rows), timed from the end of the warm-up steps.

Printed as ``name: value unit`` lines, then the two ratios to the bare step. The goal on a GPU is
``packed_over_bare >= 0.85`` for 4,096-token rows.

Usage: ``python benchmarks/bench_packing.py`` (tiny CPU defaults, about a minute on 2 cores);
on a GPU: ``python benchmarks/bench_packing.py --device cuda --size 17M --rows 32 --length 4096``.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

import datasets
import torch

from backtrack.data import build_dataset
from backtrack.device import describe, resolve_device
from backtrack.models import build_model
from backtrack.tokenizer import build_tokenizer
from backtrack.train.callbacks import progress_bars
from backtrack.train.config import SFTSettings, bf16_supported
from backtrack.train.packed_attention import FLEX_PAD_MULTIPLE, choose_packed_attention, packed_attention
from backtrack.train.packing import (
    IGNORE_INDEX,
    PackedCollator,
    PackedDataset,
    column,
    pack_lengths,
    packing_max_difference,
    tokenize_examples,
)
from backtrack.train.sft import train_sft


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_steps(
    model: Any, batches: list[dict[str, Any]], warmup: int, device: torch.device, bf16: bool, pad_id: int
) -> tuple[int, float]:
    """(non-pad tokens, seconds) of the steps after ``warmup`` untimed ones."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    tokens, start = 0, time.perf_counter()
    for step, batch in enumerate(batches):
        if step == warmup:
            synchronize(device)
            start = time.perf_counter()
        inputs = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= warmup:
            tokens += int((batch["input_ids"] != pad_id).sum())
    synchronize(device)
    return tokens, time.perf_counter() - start


def unpacked(batch: dict[str, Any], pad_id: int) -> dict[str, Any]:
    """The same tokens as plain causal rows: no position_ids (one sequence per row), pads unscored."""
    ids = batch["input_ids"]
    labels = ids.masked_fill(ids == pad_id, IGNORE_INDEX)
    return {"input_ids": ids, "labels": labels, "use_cache": False}


def trainer_timer(warmup: int, device: torch.device) -> Any:
    """A callback measuring ``train_sft``'s useful tokens/s after ``warmup`` steps (compilation and
    allocator warm-up excluded, as in the loops)."""
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self) -> None:
            self.start = self.end = 0.0
            self.tokens_at_start = self.tokens = 0

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            synchronize(device)
            if state.global_step == warmup:
                self.start, self.tokens_at_start = time.perf_counter(), state.num_input_tokens_seen
            self.end, self.tokens = time.perf_counter(), state.num_input_tokens_seen

        @property
        def rate(self) -> float:
            return (self.tokens - self.tokens_at_start) / max(self.end - self.start, 1e-9)

    return Timer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when present, else CPU)")
    parser.add_argument("--size", default="250K", help="model size from backtrack.models (default 250K)")
    parser.add_argument("--rows", type=int, default=2, help="packed rows per batch (default 2)")
    parser.add_argument("--length", type=int, default=1024, help="tokens per row (default 1024)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per rate (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (compilation, allocator)")
    parser.add_argument("--numbers", type=int, default=4, help="CountDown numbers per problem (default 4)")
    parser.add_argument("--n", type=int, default=300, help="CountDown problems generated (default 300)")
    parser.add_argument(
        "--dtype", choices=("auto", "bf16", "fp32"), default="auto", help="auto: bf16 on CUDA"
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1 is steadiest on a shared CPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-trainer", dest="trainer", action="store_false", help="skip the train_sft rate")
    args = parser.parse_args()

    device = resolve_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    bf16 = args.dtype == "bf16" or (args.dtype == "auto" and device.type == "cuda" and bf16_supported(device))
    tok = build_tokenizer("countdown")
    pad = int(tok.pad_token_id)
    steps = args.warmup + args.steps

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "data"
        build_dataset(
            "countdown",
            args.n,
            args.seed,
            "dfs",
            data,
            task_config={"n_numbers": args.numbers},
            progress=False,
        )
        settings = SFTSettings(
            output_dir=work / "sft",
            max_steps=steps,
            per_device_batch_size=args.rows,
            max_length=args.length,
            loss_on="all",
            save_steps=None,
            logging_steps=steps,
            progress=False,
            seed=args.seed,
            bf16=bf16,
            device=str(device),
        )
        train = datasets.load_from_disk(str(data))["train"]
        with progress_bars(False):
            tokens = tokenize_examples(train, tok, settings, work)
        rows = pack_lengths(column(tokens, "length"), args.length, seed=args.seed)
        packed_rows = PackedDataset(tokens, rows)

        model = build_model(args.size, tok, args.length, seed=args.seed).to(device)
        path = choose_packed_attention(model, device, packing=True, max_length=args.length)
        collate = PackedCollator(pad, pad_to_multiple_of=FLEX_PAD_MULTIPLE if path == "flex" else None)
        order = itertools.cycle(range(len(packed_rows)))
        batches = [collate([packed_rows[next(order)] for _ in range(args.rows)]) for _ in range(steps)]
        fill = sum(int((b["input_ids"] != pad).sum()) for b in batches) / (steps * args.rows * args.length)
        print(
            f"# {describe(device)}, model {args.size}, {args.rows} rows x {args.length} tokens, "
            f"CountDown-{args.numbers} dfs ({len(tokens)} traces in {len(rows)} rows, {fill:.1%} full), "
            f"{'bf16 autocast' if bf16 else 'fp32'}, {args.steps} timed steps (+{args.warmup} warm-up), "
            f"packed attention: {path}"
        )

        with packed_attention(model, path):
            difference = packing_max_difference(model)
            print(f"packed.max_logit_difference_to_separate_runs: {difference:.2e} (exact: < 1e-4 fp32)")
            packed_tokens, packed_seconds = timed_steps(model, batches, args.warmup, device, bf16, pad)
        rates = {"packed": packed_tokens / packed_seconds}
        print(f"packed.tokens_per_s: {rates['packed']:,.0f} tokens/s")  # each rate as soon as it is known

        bare_model = build_model(args.size, tok, args.length, seed=args.seed).to(device)
        bare_batches = [unpacked(b, pad) for b in batches]
        bare_tokens, bare_seconds = timed_steps(bare_model, bare_batches, args.warmup, device, bf16, pad)
        rates["bare"] = bare_tokens / bare_seconds
        print(f"bare.tokens_per_s: {rates['bare']:,.0f} tokens/s")
        print(f"packed_over_bare: {rates['packed'] / rates['bare']:.2f} x")

        if args.trainer:
            timer = trainer_timer(args.warmup, device)
            net = build_model(args.size, tok, args.length, seed=args.seed)
            result = train_sft(net, tok, data, settings, callbacks=[timer])
            rates["train_sft"] = timer.rate
            print(f"train_sft.attention: {result.extra.get('attention')}")
            print(f"train_sft.tokens_per_s: {rates['train_sft']:,.0f} tokens/s")
            print(f"train_sft_over_bare: {rates['train_sft'] / rates['bare']:.2f} x")
        if device.type == "cuda":
            print(f"peak_memory: {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
