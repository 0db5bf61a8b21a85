#!/usr/bin/env bash
# Fill wheels/ with the Python packages the GPU machine lacks, for scripts/gpu_check.sh to install there
# (that machine cannot download). Run here, where pip reaches the package index:
#   scripts/gpu_wheels.sh            # for the GPU image's Python 3.12
#   scripts/gpu_wheels.sh 3.11       # another Python version
# The GPU image already holds torch, transformers, accelerate, tokenizers, pandas, pyarrow, matplotlib,
# typer, rich, xxhash and fsspec (see docs/gpu.md); it lacks datasets, trl, pydantic and their own
# needs below. Versions are those of this project's .venv, so the GPU runs what the tests ran.
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${1:-3.12}
PY=${PYTHON:-.venv/bin/python}
PACKAGES=(datasets trl pydantic pydantic-core annotated-types typing-inspection dill multiprocess)
pins=()
for name in "${PACKAGES[@]}"; do
  version=$("$PY" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
  pins+=("$name${version:+==$version}")
done
rm -rf wheels && mkdir -p wheels
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d wheels "${pins[@]}"
du -sh wheels
ls wheels
