"""Sudoku on 6x6 (2x3 boxes) and 4x4 (2x2 boxes) boards: geometry, config, generator, formats,
vocabulary and a verifier that stays a safe boundary. The 9x9 default is covered by test_sudoku*.py
(its output is unchanged); the task contract runs on 6x6 and 4x4 too (tests/test_task_contract.py)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtrack.tasks import get_task
from backtrack.tasks.base import Verdict
from backtrack.tasks.sudoku import (
    CELL_NAMES,
    Sudoku,
    SudokuConfig,
    SudokuProblem,
    count_solutions,
    geometry,
    geometry_of,
    grid_lines,
    vocabulary,
)
from backtrack.tasks.sudoku.lines import THINK_LITERALS, THINK_WORDS
from backtrack.tokenizer import build_tokenizer

SIZES = {"2x3": 6, "2x2": 4}


def puzzles(box: str, count: int = 12) -> list[SudokuProblem]:
    task = get_task("sudoku", box=box)
    return [task.generate(random.Random(seed)) for seed in range(count)]


# ---- geometry --------------------------------------------------------------------------------
@pytest.mark.parametrize(("box", "n"), [("3x3", 9), *SIZES.items()])
def test_units_are_rows_columns_and_boxes_of_the_shape(box: str, n: int) -> None:
    geo = geometry(box)
    assert (geo.n, geo.n_cells, len(geo.units)) == (n, n * n, 3 * n)
    assert all(sorted(unit) == sorted(set(unit)) and len(unit) == n for unit in geo.units)
    box_rows, box_cols = geo.box_rows, geo.box_cols
    for unit in geo.units[2 * n :]:
        rows = {geo.row_of[i] for i in unit}
        cols = {geo.col_of[i] for i in unit}
        assert len(rows) == box_rows and len(cols) == box_cols  # a box_rows x box_cols block
        assert min(rows) % box_rows == 0 and min(cols) % box_cols == 0
    assert all(len(peers) == 3 * n - box_rows - box_cols - 1 for peers in geo.peers)
    assert geometry_of("0" * n * n) is geo


def test_six_by_six_box_zero_is_two_rows_of_three_columns() -> None:
    geo = geometry("2x3")
    assert geo.units[12] == (0, 1, 2, 6, 7, 8)
    assert geo.units[13] == (3, 4, 5, 9, 10, 11)  # boxes are numbered row-major
    assert geo.cell_names[7] == "(1, 1)"


def test_unknown_box_and_grid_sizes_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="box must be one of"):
        SudokuConfig(box="3x2")
    with pytest.raises(ValueError, match="got 25"):
        geometry_of("0" * 25)


# ---- config ----------------------------------------------------------------------------------
def test_givens_default_by_size() -> None:
    assert (SudokuConfig().min_givens, SudokuConfig().max_givens) == (22, 26)  # the 9x9 default
    assert (SudokuConfig(box="2x3").min_givens, SudokuConfig(box="2x3").max_givens) == (9, 9)
    assert (SudokuConfig(box="2x2").min_givens, SudokuConfig(box="2x2").max_givens) == (4, 6)
    one_bound = SudokuConfig(box="2x3", min_givens=11)
    assert (one_bound.min_givens, one_bound.max_givens) == (11, 11)  # not an empty range
    task = get_task("sudoku", box="2x3")
    assert get_task("sudoku", **task.config_dict()).config == task.config


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"box": "2x3", "min_givens": 7}, "in 8..35 on a 6x6 board"),
        ({"box": "2x3", "max_givens": 36}, "in 8..35 on a 6x6 board"),
        ({"box": "2x2", "min_givens": 3}, "in 4..15 on a 4x4 board"),
        ({"box": "3x3", "min_givens": 16}, "in 17..80 on a 9x9 board"),
        ({"box": "2x3", "min_givens": 12, "max_givens": 10}, "must be <= max_givens"),
        ({"box": "2x3", "min_givens": 9.5}, "must be an integer"),
    ],
)
def test_givens_are_validated_per_size(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_task("sudoku", **options)


# ---- generator, search, formats -------------------------------------------------------------
@pytest.mark.parametrize("box", SIZES)
def test_generated_puzzles_are_unique_within_the_givens_and_deterministic(box: str) -> None:
    task = get_task("sudoku", box=box)
    n = SIZES[box]
    for p in puzzles(box):
        assert len(p.puzzle) == len(p.solution) == n * n
        assert task.config.min_givens <= p.givens <= task.config.max_givens
        assert count_solutions(p.puzzle) == 1
        assert task.solve(p) == p.solution and task.verify(p, p.solution).ok
        assert set(p.solution) == set("123456789"[:n])
    assert puzzles(box, 3) == puzzles(box, 3)


@pytest.mark.parametrize("box", SIZES)
@pytest.mark.parametrize(
    ("fmt", "options"),
    [("dfs", {}), ("dfs", {"strategy": "strategy"}), ("direct", {}), ("backtrack-k", {"k": 2})],
)
def test_render_parse_verify_round_trip(box: str, fmt: str, options: dict) -> None:
    task = get_task("sudoku", box=box)
    n = SIZES[box]
    for p in puzzles(box):
        trace = task.formats()[fmt].render(p, **options)
        assert trace.solved
        parsed = task.formats()[fmt].parse(p, trace.text)
        assert parsed.valid and parsed.answer == p.solution and parsed.backtracks == trace.backtracks
        assert task.verify(p, trace.text).ok and task.verify(p, task.prompt(p) + trace.text).ok
        assert task.answer_key(p, trace.text) == p.solution
        assert task.well_formed(p, trace.text)
        lines = [line for line in trace.text.splitlines() if line[:1] in "(gnr"]
        cells = {line.split(" = ")[0].split(": ")[-1].split(" [")[0] for line in lines}
        assert cells <= set(geometry(box).cell_names)
        # The problem round-trips through a dataset row and through its prompt text.
        assert task.problem_from_dict(p.to_dict()) == p
        assert task.parse_problem(task.prompt(p)) == p
        assert task.prompt(p).count("\n") == n


def test_some_six_by_six_puzzles_need_a_backtrack_and_the_trace_shows_it() -> None:
    task = get_task("sudoku", box="2x3")
    traces = [task.formats()["dfs"].render(p) for p in puzzles("2x3", 30)]
    searched = [t for t in traces if t.backtracks]
    assert searched and all("guess:" in t.text and "nocand:" in t.text for t in searched)


def test_six_by_six_task_reads_only_six_by_six_puzzles() -> None:
    six, nine = get_task("sudoku", box="2x3"), Sudoku()
    p6 = puzzles("2x3", 1)[0]
    p9 = nine.generate(random.Random(0))
    with pytest.raises(ValueError, match="a 6x6 grid has 36 cells, got 81"):
        six.parse_problem(p9.puzzle)
    with pytest.raises(ValueError, match="a 9x9 grid has 81 cells, got 36"):
        nine.parse_problem(p6.puzzle)
    with pytest.raises(ValueError, match="use digits 1-6"):
        six.parse_problem("7" + p6.puzzle[1:])
    with pytest.raises(ValueError, match="36-character grid"):
        six.parse_problem(" \n")
    assert six.parse_problem(grid_lines(p6.puzzle).replace("0", ".")) == p6


# ---- vocabulary ------------------------------------------------------------------------------
def test_nine_by_nine_vocabulary_is_unchanged() -> None:
    words = vocabulary()
    assert words == Sudoku().vocabulary()
    assert words[:81] == list(CELL_NAMES) and words[81:91] == list("0123456789")
    assert words[91:102] == ["guess", "nocand", "revert", "none", ": ", " = ", "[", "]", ", ", " ", "\n"]
    assert words[102:] == [*THINK_LITERALS, *THINK_WORDS]  # backtrack-k's tags and sentence


def test_six_by_six_vocabulary_has_its_cells_and_digits_only() -> None:
    words = get_task("sudoku", box="2x3").vocabulary()
    assert "(5, 5)" in words and "(6, 0)" not in words and "(0, 6)" not in words
    assert "6" in words and "7" not in words and "Wait" in words  # backtrack-k reads on 6x6 too
    tokenizer = build_tokenizer("sudoku", box="2x3")
    p = puzzles("2x3", 1)[0]
    text = get_task("sudoku", box="2x3").formats()["dfs"].render(p).text
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids and tokenizer.decode(ids, skip_special_tokens=True) == text
    assert tokenizer.tokenize("(5, 5) = 6\n") == ["(5, 5)", " = ", "6", "\n"]  # one token per cell


# ---- the 6x6 verifier is a security boundary -------------------------------------------------
SIX = get_task("sudoku", box="2x3")
P6 = SIX.generate(random.Random(3))


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Sudoku().generate(random.Random(0)).solution, "a 6x6 grid has 36 cells, got 81"),  # a 9x9 grid
        (P6.solution[:30], "got 30"),
        ("1" * 200_000, "got 200000"),
        (P6.solution.replace("3", "\u0663"), "invalid character"),  # Arabic-Indic three
        (P6.solution.replace("3", "\uff13"), "invalid character"),  # fullwidth three
        ("(6, 0) = 1", "unreadable line"),  # a 9x9 cell
        ("(0, 0) = 7", "unreadable line"),  # a 9x9 digit
        ("guess: (0, 0) [1, 7] = 1", "unreadable line"),
        ("(0, 0) = \u0663", "unreadable line"),
    ],
)
def test_six_by_six_verifier_rejects_hostile_input_with_a_reason(answer: str, reason: str) -> None:
    verdict = SIX.verify(P6, answer)
    assert isinstance(verdict, Verdict) and not verdict.ok
    assert reason in verdict.reason
    assert SIX.answer_key(P6, answer) is None or SIX.answer_key(P6, answer) != P6.solution
    assert not SIX.well_formed(P6, answer)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from("0123456789()[],:= \nguessnocandrevert\u0663\uff13"), max_size=400))
def test_six_by_six_verifier_returns_a_verdict_for_any_text(text: str) -> None:
    verdict = SIX.verify(P6, text)
    assert isinstance(verdict, Verdict)
    assert verdict.kind != "error", verdict.reason
    if verdict.ok:  # only a real solution passes
        assert SIX.answer_key(P6, text) == P6.solution


# ---- the 6x6 recipe --------------------------------------------------------------------------
def test_cpu_sudoku_recipe_compares_equal_training_tokens_on_six_by_six() -> None:
    from pathlib import Path

    from backtrack.recipes import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parent.parent / "recipes" / "cpu-sudoku.toml")
    assert recipe.task.name == "sudoku" and recipe.task.options["box"] == "2x3"
    models = {m.format: m for m in recipe.models}
    assert set(models) == {"dfs", "direct"} and all(m.init is None for m in recipe.models)
    tokens = {
        fmt: m.train.max_steps * m.train.batch_size * (m.train.max_length or m.context)
        for fmt, m in models.items()
    }
    assert tokens["dfs"] == tokens["direct"]  # matched training compute
    assert models["dfs"].eval[0].strategy == "sequential" and models["direct"].eval[0].strategy == "parallel"
    assert all(m.train.bf16 is False for m in recipe.models)


# ---- the command line ------------------------------------------------------------------------
def test_cli_solves_and_verifies_a_six_by_six_puzzle_given_the_box(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from backtrack.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_info:
            main(list(argv))
        out, err = capsys.readouterr()
        return exit_info.value.code, out, err

    p = puzzles("2x3", 1)[0]
    code, out, _ = run("solve", "sudoku", p.puzzle, "-t", "box=2x3", "--format", "dfs")
    assert code == 0 and SIX.verify(p, out).ok
    code, out, _ = run("verify", "sudoku", "-t", "box=2x3", "--puzzle", p.puzzle, "--answer", p.solution)
    assert code == 0 and out.startswith("correct")
    code, _, err = run("solve", "sudoku", p.puzzle)  # the default task is 9x9
    assert code == 2 and "a 9x9 grid has 81 cells, got 36 (a 6x6 grid)" in err
