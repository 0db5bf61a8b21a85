"""Check every registered task end to end through the command line, as a user would.

For each task: ``backtrack generate TASK --n N --seed S --format direct``, then every row's own
completion must verify through ``backtrack verify TASK --input``, and another row's completion whose
``solution`` differs must be rejected. For the tasks with a ``backtrack-k`` format, the same for
``-o k=K`` (K = 1 and 3) and every row's ``backtracks`` must be K.

    python scripts/check_tasks.py [--n 120] [--seed 11] [--tasks countdown,sudoku]

Prints one line per (task, format) and exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import datasets

from backtrack.tasks import TASK_NAMES, get_task

CLI = [sys.executable, "-c", "from backtrack.cli import main; main()"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)


def verdicts(task: str, rows: list[dict], answers: list[str], path: Path) -> list[bool]:
    """``backtrack verify TASK --input`` on the rows with ``answer`` set; one verdict per row."""
    with path.open("w") as fh:
        for row, answer in zip(rows, answers, strict=True):
            fh.write(json.dumps({**row, "answer": answer}) + "\n")
    done = run("verify", task, "--input", str(path), "--json")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if len(lines) != len(rows):
        raise RuntimeError(f"verify {task}: {len(lines)} verdicts for {len(rows)} rows\n{done.stderr[-800:]}")
    return [bool(v["ok"]) for v in lines]


def check(task: str, fmt: str, options: list[str], n: int, seed: int, tmp: Path) -> bool:
    out = tmp / f"{task}-{fmt}-{'-'.join(options) or 'plain'}"
    made = run(
        "generate", task, "--n", str(n), "--seed", str(seed), "--format", fmt, "--out", str(out), *options
    )
    if made.returncode != 0:
        print(f"{task:20} {fmt:12} {' '.join(options):8} generate failed: {made.stderr.strip()[-300:]}")
        return False
    data = datasets.load_from_disk(str(out))
    rows = [dict(r) for split in data.values() for r in split]
    own = verdicts(task, rows, [r["completion"] for r in rows], tmp / "own.jsonl")
    # another row's completion, only where the reference answers differ
    pairs = [(r, o) for r, o in zip(rows, rows[1:] + rows[:1], strict=True) if r["solution"] != o["solution"]]
    other = verdicts(task, [r for r, _ in pairs], [o["completion"] for _, o in pairs], tmp / "other.jsonl")
    want_k = next((int(o.split("=")[1]) for o in options if o.startswith("k=")), None)
    backtracks_ok = want_k is None or all(int(r["backtracks"]) == want_k for r in rows)
    rejected = (len(other) - sum(other)) / len(other) if other else 1.0
    ok = all(own) and rejected >= 0.95 and backtracks_ok
    print(
        f"{task:20} {fmt:12} {' '.join(options):8} rows {len(rows):4}  "
        f"own verified {sum(own):4}/{len(own):<4} "
        f"other rejected {len(other) - sum(other):4}/{len(other):<4} ({rejected:.1%})"
        + (f"  backtracks == {want_k}: {backtracks_ok}" if want_k is not None else "")
        + ("" if ok else "  FAIL")
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--tasks", default=",".join(TASK_NAMES))
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            ok &= check(task, "direct", [], args.n, args.seed, Path(tmp))
            if "backtrack-k" in get_task(task).formats():
                for k in (1, 3):
                    ok &= check(task, "backtrack-k", ["-o", f"k={k}"], args.n, args.seed, Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
