"""Data-parallel SFT: two CPU processes (gloo DDP, started by PyTorch's launcher as torchrun and
``accelerate launch`` start them) train one model together, with no change to the training code.

Also the detection behind ``accelerate launch --cpu --num_processes N`` (which accelerate itself starts
as a single process; ``backtrack.launch``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backtrack.data import build_dataset
from backtrack.launch import accelerate_cpu_processes
from backtrack.recipes import parse_recipe
from backtrack.run import Study

SRC = Path(__file__).resolve().parents[1] / "src"

# Every rank runs this same call, as under `accelerate launch`; each then writes a hash of its weights.
RANK_SCRIPT = """
import hashlib, json, os, sys
import torch
from backtrack.models import build_model
from backtrack.tokenizer import build_tokenizer
from backtrack.train import SFTSettings, train_sft

data, out = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
tok = build_tokenizer("countdown")
model = build_model("tiny", tok, 256, seed=0)
settings = SFTSettings(
    output_dir=out, max_steps=2, per_device_batch_size=2, max_length=256, save_steps=2,
    progress=False, device="cpu", seed=0,
)
train_sft(model, tok, data, settings)
digest = hashlib.sha256()
for name, tensor in sorted(model.state_dict().items()):
    digest.update(name.encode())
    digest.update(tensor.detach().float().cpu().numpy().tobytes())
rank = os.environ["RANK"]
with open(os.path.join(out, f"weights-rank{rank}.sha256"), "w") as fh:
    fh.write(digest.hexdigest())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_cpu_processes_train_one_model_together(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = {"n_numbers": 3, "max_number": 9, "min_target": 1, "max_target": 30}
    build_dataset("countdown", 120, 0, "direct", data, task_config=config, progress=False, workers=1)
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    out = tmp_path / "model"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "ACCELERATE_USE_CPU": "true",  # as `accelerate launch --cpu` sets it: CPU even where CUDA exists
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
        f"--master_port={_free_port()}", str(script), str(data), str(out),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    result = json.loads((out / "sft_result.json").read_text())
    assert result["extra"]["world_size"] == 2
    assert result["steps"] == 2
    hashes = {p.name: p.read_text() for p in out.glob("weights-rank*.sha256")}
    assert sorted(hashes) == ["weights-rank0.sha256", "weights-rank1.sha256"]
    assert len(set(hashes.values())) == 1  # DDP kept the two replicas identical
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-2"]  # one checkpoint, written once
    assert (out / "model.safetensors").is_file()


def test_an_accelerate_cpu_launch_that_started_one_process_is_recognised() -> None:
    parent = ["/venv/bin/python", "/venv/bin/accelerate", "launch", "--cpu", "--num_processes", "2"]
    parent += ["--num_machines", "1", "/venv/bin/backtrack", "train", "sft"]
    env = {"ACCELERATE_USE_CPU": "True", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert accelerate_cpu_processes(env, parent) == 2
    assert accelerate_cpu_processes({**env, "RANK": "0"}, parent) == 1  # ranks set: already launched
    assert accelerate_cpu_processes({k: v for k, v in env.items() if k != "MASTER_ADDR"}, parent) == 1
    assert accelerate_cpu_processes({**env, "ACCELERATE_USE_CPU": "False"}, parent) == 1
    assert accelerate_cpu_processes(env, ["/usr/bin/bash", "run.sh"]) == 1  # not started by accelerate
    two_machines = [*parent[:6], "--num_machines=2", *parent[8:]]
    assert accelerate_cpu_processes(env, two_machines) == 1


class _OtherRank:
    """A non-main process of a launch (what accelerate's PartialState says on rank 1)."""

    is_main_process = False
    num_processes = 2

    def __init__(self) -> None:
        self.waits = 0

    def wait_for_everyone(self) -> None:
        self.waits += 1

    def main_process_first(self) -> Any:
        return contextlib.nullcontext()


def test_stages_that_must_happen_once_are_left_to_the_main_process(tmp_path: Path, monkeypatch) -> None:
    recipe = parse_recipe(
        {
            "name": "once",
            "task": {"name": "countdown", "options": {"n_numbers": 3, "max_number": 9, "max_target": 30}},
            "data": {"n": 50, "test_size": 4},
            "models": [
                {
                    "name": "direct", "format": "direct", "size": "tiny", "context": 128,
                    "train": {"max_steps": 1},
                    "eval": [{"strategy": "parallel", "samples": [1], "max_new_tokens": 16}],
                }
            ],
        }
    )  # fmt: skip
    study = Study(recipe, tmp_path, log=lambda _: None, device="cpu")
    rank = _OtherRank()
    study.state = rank
    assert study.tokenizer() is not None
    assert not (tmp_path / "once" / "tokenizer").exists()  # built in memory, written by the main process
    study._write_stage(tmp_path, {"hash": "h", "done": True})
    assert not (tmp_path / "stage.json").exists() and rank.waits == 1
    monkeypatch.setattr(study, "evaluate", lambda *a, **k: pytest.fail("a non-main process evaluated"))
    assert study._evaluate_once(recipe.models[0]) == {} and rank.waits == 2
