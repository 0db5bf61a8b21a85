"""scripts/gpu_check.sh, the prepared GPU check, run through its CPU path at tiny size (--tiny): the same
three steps (packing benchmark, generation benchmark, `backtrack run`) and the same files in $OUT."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None, reason="needs bash")
def test_the_gpu_check_runs_end_to_end_on_the_cpu_at_tiny_size(tmp_path: Path) -> None:
    out, runs = tmp_path / "out", tmp_path / "runs"
    env = {**os.environ, "OUT": str(out), "RUNS": str(runs), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--tiny"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = (out / "summary.txt").read_text()
    for step in ("bench_packing", "bench_generate", "run"):
        assert f"{step}: exit 0" in summary
    assert "packed_over_bare:" in summary and "greedy_outputs_identical_to_dynamic: yes" in summary
    results = json.loads((out / "results.json").read_text())
    assert set(results["models"]) == {"dfs-tiny", "direct-tiny"}
    assert (out / "report.html").is_file() and (out / "env.txt").is_file()
