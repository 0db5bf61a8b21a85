"""Generation speed of the HF sampling backend: new tokens per second with a dynamic KV cache, a static
one, and (on CUDA) a static one with the decode step compiled, on the same greedy workload.

Every prompt runs to the full ``--new-tokens`` (EOS is suppressed until then, as with ``min_new_tokens``),
so the figures compare equal work whatever the model writes: a random model by default, or a trained one
with ``--model``. Each mode first runs one batch of the same shape untimed (allocation and, when
compiled, compilation), then the whole workload timed. The greedy outputs of all modes are compared.

Printed as ``name: value unit`` lines. The goal on a GPU (issue 11): the best mode at >= 5x the dynamic
cache's rate for 200 CountDown prompts x 4,096 new tokens with the 17M model.

Usage: ``python benchmarks/bench_generate.py`` (tiny CPU defaults, well under a minute); on a GPU:
``python benchmarks/bench_generate.py --device cuda --size 17M --prompts 200 --new-tokens 4096``.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import torch

from backtrack.device import describe, resolve_device
from backtrack.models import build_model, load_model
from backtrack.sample import HFBackend
from backtrack.tokenizer import build_tokenizer


class FullLengthBackend(HFBackend):
    """``HFBackend`` that never stops early: every row generates ``max_new_tokens`` tokens."""

    def _generation_config(self, max_new_tokens: int, temperature: float) -> Any:
        config = super()._generation_config(max_new_tokens, temperature)
        config.min_new_tokens = max_new_tokens
        return config


def countdown_prompts(count: int, numbers: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        values = [rng.randint(1, 99) for _ in range(numbers)]
        prompts.append(f"Current State: {rng.randint(10, 99)}:{values}, Operations: []\n")
    return prompts


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when present, else CPU)")
    parser.add_argument("--size", default="tiny", help="model size from backtrack.models (default tiny)")
    parser.add_argument("--model", help="a trained model directory instead of a random --size model")
    parser.add_argument("--prompts", type=int, default=8, help="prompts (default 8)")
    parser.add_argument("--new-tokens", type=int, default=64, help="new tokens per prompt (default 64)")
    parser.add_argument("--batch-size", type=int, help="sequences per batch (default: sized to memory)")
    parser.add_argument(
        "--dtype", choices=("auto", "bf16", "fp32"), default="auto", help="auto: bf16 on CUDA"
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1 is steadiest on a shared CPU)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = resolve_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    dtype = (
        torch.bfloat16 if args.dtype == "bf16" or (args.dtype == "auto" and device.type == "cuda") else None
    )
    if args.model:
        model, tok = load_model(args.model, device=device, dtype=dtype)
    else:
        tok = build_tokenizer("countdown")
        model = build_model(args.size, tok, 4096, seed=args.seed).to(device, dtype=dtype)
    prompts = countdown_prompts(args.prompts, 4, args.seed)
    modes = {"dynamic": {"cache": "dynamic"}, "static": {"cache": "static", "compile": False}}
    if device.type == "cuda":
        modes["compiled"] = {"cache": "static", "compile": True}
    print(
        f"# {describe(device)}, model {args.model or args.size} ({next(model.parameters()).dtype}), "
        f"{len(prompts)} prompts x {args.new_tokens} new tokens, greedy"
    )

    outputs, rates = {}, {}
    for name, options in modes.items():
        backend = FullLengthBackend(model, tok, batch_size=args.batch_size, **options)
        size = backend.batch_size or backend.memory_batch_size(64 + args.new_tokens)
        backend.generate(prompts[:size], max_new_tokens=args.new_tokens)  # warm-up: same batch shape
        synchronize(device)
        start = time.perf_counter()
        out = backend.generate(prompts, max_new_tokens=args.new_tokens)
        synchronize(device)
        seconds = time.perf_counter() - start
        tokens = sum(group[0].tokens for group in out)
        outputs[name] = [group[0].token_ids for group in out]
        rates[name] = tokens / seconds
        print(f"{name}.batch_size: {size} sequences")
        print(f"{name}.seconds: {seconds:.2f} s")
        print(f"{name}.new_tokens_per_s: {rates[name]:,.0f} tokens/s")
    for name in rates:
        if name != "dynamic":
            print(f"{name}_over_dynamic: {rates[name] / rates['dynamic']:.2f} x")
            same = outputs[name] == outputs["dynamic"]
            print(f"{name}.greedy_outputs_identical_to_dynamic: {'yes' if same else 'no'}")


if __name__ == "__main__":
    main()
