"""One arm of the default study outside a recipe, every setting an environment variable (for sweeps).

Examples (the figures in docs/study.md):
    FMT=compact BASE_STEPS=0 ARM_STEPS=1200 ARM_BS=4 ARM_LR=2e-3 CTX=640 \
        BUDGETS=64,128,256,512 EVAL_N=174 python scripts/arm_experiment.py
    FMT=compact BASE_STEPS=0 ARM_STEPS=2400 ARM_BS=2 ARM_LR=2e-3 WD=0.1 CTX=640 \
        BUDGETS=64,128,256,512 EVAL_N=174 python scripts/arm_experiment.py
"""

import hashlib
import json
import os
import time
from pathlib import Path

import datasets
import torch

from backtrack.data import build_dataset
from backtrack.evaluate import evaluate_model
from backtrack.models import build_model, load_model
from backtrack.recipes import EvalSpec
from backtrack.tasks import get_task
from backtrack.tasks.countdown import combine
from backtrack.tokenizer import build_tokenizer
from backtrack.train.sft import SFTSettings, train_sft

torch.set_num_threads(int(os.environ.get("THREADS", "2")))


def E(key, default):
    """The environment variable `key`, converted to the type of `default`."""
    return type(default)(os.environ.get(key, default))


GAME = {"n_numbers": 3, "min_number": 1, "max_number": 9, "min_target": 1, "max_target": 50}
ROOT = Path(E("ROOT", "runs/arm-experiments"))
OPTS = json.loads(E("GAME", json.dumps({**GAME, "split_by": "problem"})))
N = E("N", 20000)
TEST = E("TEST", 200)
SIZE = E("SIZE", "1M")
FMT = E("FMT", "dfs")
FOPTS = json.loads(E("FOPTS", "{}"))
BASE_STEPS = E("BASE_STEPS", 300)
BASE_BS = E("BASE_BS", 16)
BASE_LR = E("BASE_LR", 2e-3)
ARM_STEPS = E("ARM_STEPS", 400)
ARM_BS = E("ARM_BS", 2)
ARM_LR = E("ARM_LR", 1e-3)
CTX = E("CTX", 1088)
BUDGETS = [int(b) for b in E("BUDGETS", "256,512,1024").split(",")]
EVAL_N = E("EVAL_N", 100)
TAG = E("TAG", "e")
SEED = E("SEED", 0)  # the arm's initial weights and data order
task = get_task("countdown", **OPTS)
tok = build_tokenizer(
    "countdown", whole_numbers=E("WN", 99), **{k: v for k, v in OPTS.items() if k == "n_numbers"}
)
gkey = json.dumps(OPTS, sort_keys=True)
gh = hashlib.sha1((gkey + str(N)).encode()).hexdigest()[:8]


def data(fmt, fopts):
    out = ROOT / f"data-{gh}-{fmt}-{hashlib.sha1(json.dumps(fopts, sort_keys=True).encode()).hexdigest()[:6]}"
    if not out.exists():
        build_dataset(
            "countdown",
            N,
            0,
            fmt,
            out,
            task_config=OPTS,
            format_options=fopts,
            test_size=TEST,
            progress=False,
            workers=1,
        )
    return out


def arith_rows(ds):
    rows = []
    for r in ds:
        nums = tuple(r["numbers"])
        T = r["target"]
        lines = []
        for i in range(len(nums)):
            for j in range(i + 1, len(nums)):
                rest = [n for k, n in enumerate(nums) if k not in (i, j)]
                for s in combine(nums[i], nums[j]):
                    lines.append(f"{s}")
                    new = [*rest, s.result]
                    if len(new) == 2:
                        lines.append("  " + " ".join(str(t) for t in combine(new[0], new[1])))
        rows.append(
            {
                "prompt": f"Current State: {T}:{list(nums)}, Operations: []\n",
                "completion": "\n".join(lines) + "\n",
            }
        )
    return datasets.Dataset.from_list(rows)


def settings(out, steps, bs, lr, ml):
    return SFTSettings(
        output_dir=out,
        max_steps=steps,
        per_device_batch_size=bs,
        max_length=ml,
        learning_rate=lr,
        warmup_ratio=0.05,
        weight_decay=E("WD", 0.0),
        save_steps=10**6,
        seed=SEED,
        bf16=False,
        overwrite=True,
    )


t0 = time.time()
arm_data = data(FMT, FOPTS)
train = datasets.load_from_disk(str(arm_data))["train"]
print("train problems", len(train), flush=True)
base_dir = ROOT / f"base-{gh}-{SIZE}-{BASE_STEPS}-{BASE_BS}-{BASE_LR}-{E('BASE_KIND', 'arith')}"
if BASE_STEPS > 0 and not (base_dir / "sft_result.json").exists():
    kind = E("BASE_KIND", "arith")
    ds = arith_rows(train) if kind == "arith" else datasets.load_from_disk(str(data(kind, {})))["train"]
    if kind == "arith":
        print("arith example:\n" + ds[0]["prompt"] + ds[0]["completion"][:400])
    m = build_model(SIZE, tok, CTX, seed=0)
    t = time.time()
    r = train_sft(m, tok, ds, settings(base_dir, BASE_STEPS, BASE_BS, BASE_LR, E("BASE_ML", 512)))
    print("base", r.to_dict().get("final_loss", r.to_dict()), "time", round(time.time() - t), flush=True)
arm_dir = ROOT / f"arm-{TAG}"
if BASE_STEPS > 0:
    m, _ = load_model(base_dir)
    m.config.max_position_embeddings = CTX
else:
    m = build_model(SIZE, tok, CTX, seed=SEED)
t = time.time()
r = train_sft(m, tok, train, settings(arm_dir, ARM_STEPS, ARM_BS, ARM_LR, CTX))
d = r.to_dict()
print("arm", {k: d[k] for k in d if "loss" in k or "tokens" in k}, "time", round(time.time() - t), flush=True)
m, tk = load_model(arm_dir)
test = datasets.load_from_disk(str(arm_data))["test"]
rows = [test[i] for i in range(min(EVAL_N, len(test)))]
if FMT == "direct":
    specs = [EvalSpec(strategy="parallel", samples=[1, 2, 4, 8, 16], max_new_tokens=160, temperature=0.7)]
else:
    specs = [EvalSpec(strategy="sequential", budgets=BUDGETS)]
t = time.time()
entry, recs = evaluate_model(m, tk, task, rows, specs, fmt=FMT, seed=0)
print("eval time", round(time.time() - t))
for c in entry["curves"]:
    print([(p["budget"], p["samples"], round(p["accuracy"], 3)) for p in c["points"]])
print("trace_stats", json.dumps(entry.get("trace_stats", {})))
with open(ROOT / f"res-{TAG}.json", "w") as f:
    json.dump({"entry": entry, "recs": recs[:40]}, f, default=str)
print("total", round(time.time() - t0))
