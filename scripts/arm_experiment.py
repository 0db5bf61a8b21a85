"""Train and evaluate one arm of the default study outside a recipe, every setting an environment
variable (for sweeps and seeds). The defaults are the default study's dfs arm.

The figures in docs/study.md:
    python scripts/arm_experiment.py                                  # the dfs arm, seed 0
    SEED=1 TAG=dfs-seed1 python scripts/arm_experiment.py             # other seeds
    FMT=direct ARM_STEPS=700 ARM_BS=16 ARM_LR=2e-3 WD=0 CTX=272 SEED=1 TAG=direct-seed1 \\
        python scripts/arm_experiment.py
    ARM_STEPS=1200 ARM_BS=4 ARM_LR=2e-3 WD=0 TAG=short python scripts/arm_experiment.py

Prints the held-out accuracies and trace statistics; writes ROOT/res-TAG.json.
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
from backtrack.recipes import EvalSpec, default_recipe
from backtrack.tasks import get_task
from backtrack.tokenizer import build_tokenizer
from backtrack.train.sft import SFTSettings, train_sft


def E(key, default):
    """The environment variable `key`, converted to the type of `default`."""
    return type(default)(os.environ.get(key, default))


torch.set_num_threads(E("THREADS", 2))
STUDY = default_recipe()
ROOT = Path(E("ROOT", "runs/arm-experiments"))
OPTS = json.loads(E("GAME", json.dumps(dict(STUDY.task.options))))
N = E("N", STUDY.data.n)
TEST = E("TEST", STUDY.data.test_size)
FMT = E("FMT", "compact")
FOPTS = json.loads(E("FOPTS", "{}"))
ARM_STEPS = E("ARM_STEPS", 2380)
ARM_BS = E("ARM_BS", 2)
ARM_LR = E("ARM_LR", 3e-3)
WD = E("WD", 0.1)
CTX = E("CTX", 640)
BUDGETS = [int(b) for b in E("BUDGETS", "128,256,512").split(",")]
EVAL_N = E("EVAL_N", 174)
TAG = E("TAG", "e")
SEED = E("SEED", 0)  # the arm's initial weights and data order


def data(fmt: str, fopts: dict) -> Path:
    """The arm's dataset, built once per game, size and format."""
    key = json.dumps([OPTS, N, TEST, fmt, fopts], sort_keys=True)
    out = ROOT / f"data-{fmt}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
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


t0 = time.time()
task = get_task("countdown", **OPTS)
tok = build_tokenizer("countdown", whole_numbers=E("WN", 99), n_numbers=OPTS["n_numbers"])
arm_data = data(FMT, FOPTS)
train = datasets.load_from_disk(str(arm_data))["train"]
print("train problems", len(train), flush=True)
arm_dir = ROOT / f"arm-{TAG}"
settings = SFTSettings(
    output_dir=arm_dir,
    max_steps=ARM_STEPS,
    per_device_batch_size=ARM_BS,
    max_length=CTX,
    learning_rate=ARM_LR,
    warmup_ratio=0.05,
    weight_decay=WD,
    save_steps=10**6,
    seed=SEED,
    bf16=False,
    overwrite=True,
)
t = time.time()
result = train_sft(build_model("1M", tok, CTX, seed=SEED), tok, train, settings).to_dict()
losses = {k: result[k] for k in ("train_loss", "final_loss", "useful_tokens")}
print("arm", losses, "time", round(time.time() - t), flush=True)
model, tk = load_model(arm_dir)
test = datasets.load_from_disk(str(arm_data))["test"]
rows = [test[i] for i in range(min(EVAL_N, len(test)))]
if FMT == "direct":
    specs = [STUDY.model("direct").eval[0]]  # best-of-1..16, oracle selection
else:
    specs = [EvalSpec(strategy="sequential", budgets=BUDGETS)]
t = time.time()
entry, records = evaluate_model(model, tk, task, rows, specs, fmt=FMT, seed=0)
print("eval time", round(time.time() - t))
for curve in entry["curves"]:
    print([(p["budget"], p["samples"], round(p["accuracy"], 3)) for p in curve["points"]])
print("trace_stats", json.dumps(entry.get("trace_stats", {})))
with open(ROOT / f"res-{TAG}.json", "w") as f:
    json.dump({"entry": entry, "records": records[:40]}, f, default=str)
print("total", round(time.time() - t0))
