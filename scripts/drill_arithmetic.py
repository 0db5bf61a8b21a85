"""Can a 1M model learn the game's arithmetic from a drill, as a shared base for both arms?

Two drills on the default study's game (CountDown, 3 numbers in 1..9, targets 1..50), each a model
trained from random init on rows of short lines, then read back by teacher forcing on lines it did
not see in that order:

- ``facts``: every legal step ``a op b=c`` of the game's search trees (both levels), 40 random facts
  per row; reported: accuracy of the token after ``=``.
- ``judgement``: the think format's silent decision, ``T:[c, x] Operation`` when some step on the
  pair reaches the target T, ``T:[c, x] No Solution`` otherwise, balanced; 400 (T, c, x) triples are
  held out; reported: accuracy of the decision token on them, beside the share of positives.

    python scripts/drill_arithmetic.py facts --steps 300 --lr 2e-3
    python scripts/drill_arithmetic.py judgement --steps 200
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import datasets
import torch

from backtrack.models import build_model
from backtrack.tasks import get_task
from backtrack.tasks.countdown import combine
from backtrack.tokenizer import build_tokenizer
from backtrack.train.sft import SFTSettings, train_sft

GAME = {"n_numbers": 3, "min_number": 1, "max_number": 9, "min_target": 1, "max_target": 50}


def children(nums: tuple[int, ...]):
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            rest = [n for k, n in enumerate(nums) if k not in (i, j)]
            for step in combine(nums[i], nums[j]):
                yield step, tuple([*rest, step.result])


def fact_rows(problems, rng: random.Random) -> tuple[list[str], list[str]]:
    facts: set = set()

    def walk(nums):
        for step, child in children(nums):
            facts.add(str(step))
            if len(child) > 1:
                walk(child)

    for p in problems:
        walk(p.numbers)
    pool = sorted(facts)
    rows = ["\n".join(rng.sample(pool, 40)) + "\n" for _ in range(3000)]
    return rows, rng.sample(pool, 400)


def judgement_rows(problems, rng: random.Random) -> tuple[list[str], list[str]]:
    def line(t: int, c: int, x: int) -> str:
        reach = any(s.result == t for s in combine(x, c))
        return f"{t}:[{c}, {x}] " + ("Operation" if reach else "No Solution")

    triples = sorted({(p.target, child[0], child[1]) for p in problems for _, child in children(p.numbers)})
    rng.shuffle(triples)
    test, train = triples[:400], triples[400:]
    pos = [t for t in train if line(*t).endswith("Operation")]
    neg = [t for t in train if not line(*t).endswith("Operation")]
    rows = [
        "\n".join(line(*(rng.choice(pos) if rng.random() < 0.5 else rng.choice(neg))) for _ in range(24))
        + "\n"
        for _ in range(3000)
    ]
    return rows, [line(*t) for t in test[:200]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["facts", "judgement"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--size", default="1M")
    args = parser.parse_args()
    task = get_task("countdown", **GAME)
    tok = build_tokenizer("countdown", whole_numbers=99)
    rng = random.Random(0)
    problems = [task.generate(rng) for _ in range(4000)]
    rows, held_out = (fact_rows if args.kind == "facts" else judgement_rows)(problems, random.Random(1))
    model = build_model(args.size, tok, 512, seed=0)
    with tempfile.TemporaryDirectory() as out:
        settings = SFTSettings(
            output_dir=out, max_steps=args.steps, per_device_batch_size=8, max_length=256,
            learning_rate=args.lr, warmup_ratio=0.05, save_steps=10**6, seed=0, bf16=False, progress=False,
        )  # fmt: skip
        start = time.perf_counter()
        result = train_sft(
            model, tok, datasets.Dataset.from_dict({"prompt": [""] * len(rows), "completion": rows}), settings
        )
    print(f"trained {args.steps} steps, {result.useful_tokens:,} tokens, final loss {result.final_loss:.3f}, "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    model.eval()
    ids = tok("\n".join(held_out) + "\n")["input_ids"]
    with torch.no_grad():
        predicted = model(torch.tensor([ids])).logits[0].argmax(-1)
    marker = tok.convert_tokens_to_ids("=" if args.kind == "facts" else "]")
    hits = [int(predicted[i] == ids[i + 1]) for i in range(len(ids) - 1) if ids[i] == marker]
    print(f"held-out accuracy of the token after {'=' if args.kind == 'facts' else ']'}: "
          f"{sum(hits) / len(hits):.3f} over {len(hits)}")  # fmt: skip
    if args.kind == "judgement":
        positives = sum(t.endswith("Operation") for t in held_out) / len(held_out)
        print(f"share of positives among them: {positives:.3f}")


if __name__ == "__main__":
    main()
