#!/usr/bin/env bash
# The prepared GPU check (docs/gpu.md), for one lent H200-class GPU, in at most 8 minutes:
#   1. benchmarks/bench_packing.py   packed 4,096-token rows vs a bare causal step (17M, 32 rows)
#   2. benchmarks/bench_generate.py  dynamic vs static vs compiled KV cache (17M, 200 x 4,096 tokens)
#   3. backtrack run recipes/gpu-quick.toml
# each under a timeout, all output in $OUT (default ./gpu-out): env.txt, bench_packing.txt,
# bench_generate.txt, run.txt, summary.txt, results.json and report.html. Run directories go to
# $RUNS (default ./gpu-runs, outside $OUT): a run cut by its timeout resumes from its cached stages
# with `scripts/gpu_check.sh --run-only` while the machine is still warm.
#
#   scripts/gpu_check.sh             the GPU check
#   scripts/gpu_check.sh --run-only  step 3 only
#   scripts/gpu_check.sh --tiny      the same steps on the CPU at tiny size (this script's own test)
#
# Packages: the GPU image lacks datasets, trl and pydantic; when they do not import, the wheels in
# wheels/ (made here by scripts/gpu_wheels.sh; name `wheels` in the device call's carry) are installed
# into /tmp/backtrack-site first.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-gpu}
case "$MODE" in gpu | --run-only | --tiny) ;; *) echo "usage: $0 [--run-only|--tiny]" >&2; exit 2 ;; esac
OUT=${OUT:-./gpu-out}
RUNS=${RUNS:-./gpu-runs}
mkdir -p "$OUT" "$RUNS"
OUT=$(cd "$OUT" && pwd)
RUNS=$(cd "$RUNS" && pwd)
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_SECONDS:-480} # the whole script, install included
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"

if ! "$PY" -c "import datasets, trl, pydantic" 2>/dev/null; then
  if ! ls wheels/*.whl >/dev/null 2>&1; then
    echo "error: datasets, trl or pydantic is missing and wheels/ holds no wheels (scripts/gpu_wheels.sh)" | tee -a "$SUMMARY"
    exit 3
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/backtrack-site wheels/*.whl || exit 3
  export PYTHONPATH=/tmp/backtrack-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
BACKTRACK=("$PY" -c 'from backtrack.cli import main; main()')

{
  date -u
  nvidia-smi 2>&1 || echo "no nvidia-smi"
  "$PY" - <<'EOF'
import importlib, platform
import torch
print("python", platform.python_version(), "| cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
for name in ("torch", "transformers", "accelerate", "datasets", "trl", "pydantic", "tokenizers"):
    print(name, getattr(importlib.import_module(name), "__version__", "?"))
EOF
} >"$OUT/env.txt" 2>&1

# step NAME SECONDS COMMAND...: run COMMAND into $OUT/NAME.txt under min(SECONDS, what the budget leaves)
step() {
  local name=$1 limit=$2 left start rc
  shift 2
  left=$((BUDGET - SECONDS - 5))
  ((limit > left)) && limit=$left
  if ((limit < 20)); then
    echo "$name: skipped (budget spent)" | tee -a "$SUMMARY"
    return
  fi
  start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.txt" 2>&1
  rc=$?
  echo "$name: exit $rc in $((SECONDS - start)) s (limit $limit s)$( ((rc == 124)) && echo ', timed out')" | tee -a "$SUMMARY"
}

if [ "$MODE" = --tiny ]; then
  PACKING=(--device cpu --size tiny --numbers 3 --n 120 --length 256 --steps 2 --no-trainer)
  GENERATE=(--device cpu --size tiny --prompts 4 --new-tokens 16)
  RECIPE="$RUNS/gpu-quick-tiny.toml"
  cat >"$RECIPE" <<'EOF'
name = "gpu-quick-tiny"
description = "scripts/gpu_check.sh --tiny: gpu-quick's shape at CPU size"
seed = 0
device = "cpu"
[task]
name = "countdown"
options = { n_numbers = 3, min_number = 1, max_number = 9, min_target = 1, max_target = 30 }
[data]
n = 200
test_size = 4
[[models]]
name = "dfs-tiny"
format = "dfs"
size = "tiny"
context = 320
train = { max_steps = 2, batch_size = 2, max_length = 256, loss_on = "all", save_steps = 2 }
eval = [{ strategy = "sequential", budgets = [32, 64, 256] }]
[[models]]
name = "direct-tiny"
format = "direct"
size = "tiny"
context = 128
train = { max_steps = 2, batch_size = 4, loss_on = "all", save_steps = 2 }
eval = [{ strategy = "parallel", samples = [1, 2, 4], max_new_tokens = 32, temperature = 0.7 }]
EOF
else
  PACKING=(--device cuda --size 17M --rows 32 --length 4096 --steps 10 --warmup 2)
  GENERATE=(--device cuda --size 17M --prompts 200 --new-tokens 4096)
  RECIPE=recipes/gpu-quick.toml
fi

if [ "$MODE" != --run-only ]; then
  step bench_packing 130 "$PY" benchmarks/bench_packing.py "${PACKING[@]}"
  step bench_generate 130 "$PY" benchmarks/bench_generate.py "${GENERATE[@]}"
fi
step run 600 "${BACKTRACK[@]}" run "$RECIPE" --runs-dir "$RUNS"
name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$RECIPE" | head -1)
for file in results.json report.html; do
  [ -f "$RUNS/$name/$file" ] && cp "$RUNS/$name/$file" "$OUT/"
done
grep -h -E "^#|_over_|tokens_per_s|identical|difference" "$OUT"/bench_*.txt >>"$SUMMARY" 2>/dev/null
echo "== $SUMMARY"
cat "$SUMMARY"
! grep -q "exit [^0]" "$SUMMARY"
