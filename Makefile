# The two commands a newcomer needs: `make run` (the main job) and `make test` (the tests).
# Each installs what it needs into .venv first (scripts/setup.sh; fast when already installed).
.PHONY: setup run test lint format bench

setup:
	bash scripts/setup.sh

run: setup
	.venv/bin/backtrack run

test: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/python -m pytest -n 2 tests

lint: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks

format:
	.venv/bin/ruff format src tests benchmarks
	.venv/bin/ruff check --fix src tests benchmarks

bench: setup
	.venv/bin/python benchmarks/bench_countdown.py
	.venv/bin/python benchmarks/bench_sudoku.py
	.venv/bin/python benchmarks/bench_verifiers.py
