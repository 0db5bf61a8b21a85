"""Sudoku ``backtrack-k``: k distinct failed guesses that are real dead ends, counted exactly, and a parser
and verifier that hold on hostile text."""

from __future__ import annotations

import random
import re
from functools import cache
from pathlib import Path

import datasets
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtrack.data import build_dataset
from backtrack.tasks import get_task
from backtrack.tasks.sudoku import (
    CELL_NAMES,
    N_CELLS,
    PEERS,
    Sudoku,
    SudokuProblem,
    count_solutions,
    grid_lines,
    grid_to_str,
    grid_values,
)
from backtrack.tasks.sudoku.formats import backtrack_k
from backtrack.tokenizer import UNK, build_tokenizer
from backtrack.traces.base import ParsedTrace

TASK = Sudoku()
FORMAT = TASK.formats()["backtrack-k"]
_CELL = {name: i for i, name in enumerate(CELL_NAMES)}
_GUESS = re.compile(r"guess: (\(\d, \d\)) \[([\d, ]+)\] = (\d)")


@cache
def problems() -> tuple[SudokuProblem, ...]:
    return tuple(TASK.generate(random.Random(seed)) for seed in range(3))


@cache
def rendered(seed: int, k: int) -> tuple[SudokuProblem, str]:
    problem = problems()[seed]
    return problem, FORMAT.render(problem, rng=random.Random(seed), k=k).text


def candidates(board: list[int], i: int) -> set[int]:
    return set(range(1, 10)) - {board[j] for j in PEERS[i]}


def detours(problem: SudokuProblem, text: str) -> list[dict]:
    """Replay the text independently of the parser: for each return, the failed guess, its board, and
    the lines it forced, with the board after each (to check what the renderer claims)."""
    board = grid_values(problem.puzzle)
    history: list[int] = []
    found: list[dict] = []
    open_detour: dict | None = None
    for line in text.split("\n"):
        if line.startswith("guess:"):
            cell_name, listed, value = _GUESS.fullmatch(line).groups()
            i, v = _CELL[cell_name], int(value)
            assert [int(d) for d in listed.split(", ")] == sorted(candidates(board, i))
            if str(v) != problem.solution[i]:
                open_detour = {"cell": i, "value": v, "step": len(history), "board": board[:], "fills": []}
            board[i] = v
            history.append(i)
        elif line.startswith("("):
            cell_name, value = line.split(" = ")
            i = _CELL[cell_name]
            if open_detour is not None:
                open_detour["fills"].append((i, sorted(candidates(board, i))))
            board[i] = int(value)
            history.append(i)
        elif line.startswith("nocand:"):
            assert open_detour is not None
            open_detour["dead"] = candidates(board, _CELL[line.removeprefix("nocand: ")])
        elif line.startswith("Wait"):
            step = int(line.rpartition("step ")[2].rstrip(".")) if "step" in line else 0
            assert open_detour is not None and step == open_detour["step"]
            for i in history[step:]:
                board[i] = 0
            del history[step:]
            found.append(open_detour)
            open_detour = None
    assert open_detour is None
    return found


# ---- rendering ------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(6))
def test_k_detours_render_and_parse_back_with_exactly_k_backtracks(k: int) -> None:
    for seed in range(len(problems())):
        problem, text = rendered(seed, k)
        trace = FORMAT.render(problem, rng=random.Random(seed), k=k)
        assert trace.text == text and trace.solved and trace.backtracks == trace.dead_ends == k
        parsed = FORMAT.parse(problem, text)
        assert parsed.valid, parsed.errors[:3]
        assert (parsed.backtracks, parsed.dead_ends, parsed.steps) == (k, k, trace.steps)
        assert parsed.answer == problem.solution
        assert text.startswith("<think>\n") and text.endswith(
            f"</think>\n<answer>{problem.solution}</answer>"
        )
        assert text.count("Wait, this doesn't lead to the correct solution. Let me go back to ") == k
        found = detours(problem, text)
        assert len(found) == k
        assert len({(d["cell"], d["value"]) for d in found}) == k, "detours are distinct"


def test_each_detour_is_a_failed_subtree_of_the_naive_search() -> None:
    """Wrong but legal guesses; each forced fill is a naked single on the detour's own board; the
    nocand cell really has no candidate; and the solver agrees the guess has no solution."""
    for seed in range(len(problems())):
        problem, text = rendered(seed, 5)
        for d in detours(problem, text):
            assert str(d["value"]) != problem.solution[d["cell"]]
            assert d["value"] in candidates(d["board"], d["cell"])
            assert all(len(cands) == 1 for _, cands in d["fills"])
            assert d["dead"] == set()
            guessed = d["board"][:]
            guessed[d["cell"]] = d["value"]
            assert count_solutions(grid_to_str(guessed), 1) == 0


def test_returns_go_back_to_the_step_the_detour_left_and_retry_the_same_cell() -> None:
    _, text = rendered(0, 3)
    lines = text.split("\n")
    for n, line in enumerate(lines):
        if line.startswith("Wait"):
            cell = _GUESS.fullmatch(next(x for x in reversed(lines[:n]) if x.startswith("guess"))).group(1)
            retry = _GUESS.fullmatch(lines[n + 1])
            assert retry is not None and retry.group(1) == cell


def test_same_rng_same_text_and_other_rng_other_detours() -> None:
    problem = problems()[0]
    texts = {FORMAT.render(problem, rng=random.Random(s), k=3).text for s in range(4)}
    assert FORMAT.render(problem, rng=random.Random(1), k=3).text in texts
    assert len(texts) > 1


@pytest.mark.parametrize("k", [-1, True, 1.5, "2"])
def test_bad_k_is_a_value_error(k: object) -> None:
    with pytest.raises(ValueError, match="k must be"):
        FORMAT.render(problems()[0], k=k)


def test_a_puzzle_without_enough_wrong_branches_is_a_clear_value_error() -> None:
    solution = problems()[0].solution
    puzzle = "0" + solution[1:]  # one blank: its only candidate is the right digit
    problem = TASK.problem(puzzle)
    assert FORMAT.parse(problem, FORMAT.render(problem, k=0).text).valid
    with pytest.raises(ValueError, match="fewer than k=1"):
        FORMAT.render(problem, k=1)


# ---- the task reads the format --------------------------------------------------------------------
def test_task_verifies_the_text_and_its_completion_and_keys_the_answer() -> None:
    problem, text = rendered(1, 2)
    verdict = TASK.verify(problem, text)
    assert verdict.ok and verdict.kind == TASK.output_kind(text) == "think"
    assert TASK.verify(problem, grid_lines(problem.puzzle) + text).ok  # prompt + completion
    assert FORMAT.parse(problem, grid_lines(problem.puzzle) + text).valid
    assert TASK.well_formed(problem, text)
    assert TASK.answer_key(problem, text) == problem.solution


def test_wrong_answers_are_rejected_but_well_formed() -> None:
    problem, text = rendered(1, 2)
    other = problems()[2].solution
    wrong = text.replace(problem.solution, other)
    assert not TASK.verify(problem, wrong).ok
    assert TASK.well_formed(problem, wrong)
    assert TASK.answer_key(problem, wrong) == other
    unfinished = text.rpartition("<answer>")[0]
    assert not TASK.verify(problem, unfinished).ok and not TASK.well_formed(problem, unfinished)
    holes = text.replace(problem.solution, "0" + problem.solution[1:])
    assert not TASK.verify(problem, holes).ok and not TASK.well_formed(problem, holes)


def _first(lines: list[str], prefix: str) -> int:
    return next(n for n, line in enumerate(lines) if line.startswith(prefix))


def board_after(problem: SudokuProblem, lines: list[str]) -> list[int]:
    """The board that rendered ``lines`` (a prefix of a text) build: fills, guesses and returns."""
    board = grid_values(problem.puzzle)
    history: list[int] = []
    for line in lines:
        if line.startswith(("guess:", "(")):
            cell_name, value = _GUESS.fullmatch(line).group(1, 3) if line[0] == "g" else line.split(" = ")
            board[_CELL[cell_name]] = int(value)
            history.append(_CELL[cell_name])
        elif line.startswith("Wait"):
            step = int(line.rpartition("step ")[2].rstrip(".")) if "step" in line else 0
            for i in history[step:]:
                board[i] = 0
            del history[step:]
    return board


def test_the_parser_rejects_faulty_reasoning_the_verifier_reads_the_answer() -> None:
    problem, text = rendered(2, 2)
    lines = text.split("\n")
    wait = _first(lines, "Wait")
    nocand = lines[wait - 1]
    board = board_after(problem, lines[: wait - 1])
    empty = next(CELL_NAMES[i] for i in range(N_CELLS) if not board[i] and candidates(board, i))
    end = lines.index("</think>")
    faulty = {
        "a return without a dead end": lines[: wait - 1] + lines[wait:],
        "still has candidates": [*lines[: wait - 1], f"nocand: {empty}", *lines[wait:]],
        "a step after a dead end": lines[:wait] + lines[wait + 1 :],
        "cannot go back to step": [
            *lines[:wait],
            lines[wait].rpartition("go back to ")[0] + "go back to step 999.",
            *lines[wait + 1 :],
        ],
        "revert": [*lines[:wait], nocand.replace("nocand", "revert") + " [1] = none", *lines[wait:]],
        "unreadable line": [*lines[:2], "I think (0, 0) is 5", *lines[2:]],
        "differs from the answer": lines[: end - 1] + lines[end:],
    }
    for reason, mutated in faulty.items():
        parsed = FORMAT.parse(problem, "\n".join(mutated))
        assert not parsed.valid, reason
        assert any(reason in e for e in parsed.errors), (reason, parsed.errors[:3])
        assert TASK.verify(problem, "\n".join(mutated)).ok, "the answer grid decides the verdict"
    without_wait = "\n".join(lines[:wait] + lines[wait + 1 :])
    assert FORMAT.parse(problem, without_wait).backtracks == 1


def test_an_illegal_fill_inside_a_detour_is_checked_against_the_detour_board() -> None:
    """A digit that the solution puts there but the wrong guess's board forbids is rejected."""
    for seed in range(len(problems())):
        problem, text = rendered(seed, 5)
        lines = text.split("\n")
        for n, line in enumerate(lines):
            if not line.startswith("(") or not lines[n - 1].startswith("guess"):
                continue
            board = board_after(problem, lines[:n])
            cell = _CELL[line.split(" = ")[0]]
            right = int(problem.solution[cell])
            if right in candidates(board, cell):
                continue
            mutated = "\n".join([*lines[:n], f"{CELL_NAMES[cell]} = {right}", *lines[n + 1 :]])
            parsed = FORMAT.parse(problem, mutated)
            assert not parsed.valid
            assert any(f"= {right} is illegal" in e for e in parsed.errors), parsed.errors[:3]
            return
    pytest.fail("no detour fill whose solution digit the detour board forbids")


# ---- hostile text ---------------------------------------------------------------------------------
def _check_result(parsed: ParsedTrace, text: str) -> None:
    assert isinstance(parsed, ParsedTrace)
    assert parsed.backtracks <= text.count("Wait") and parsed.dead_ends <= text.count("nocand")
    assert len(parsed.errors) <= backtrack_k.MAX_ERRORS + 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parser_and_verifier_never_raise_on_mutated_text(data: st.DataObject) -> None:
    seed = data.draw(st.integers(0, len(problems()) - 1))
    k = data.draw(st.integers(0, 3))
    problem, text = rendered(seed, k)
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["drop", "dup", "swap", "edit", "insert"]))
        n = data.draw(st.integers(0, len(lines) - 1))
        if op == "drop" and len(lines) > 1:
            del lines[n]
        elif op == "dup":
            lines.insert(n, lines[n])
        elif op == "swap":
            m = data.draw(st.integers(0, len(lines) - 1))
            lines[n], lines[m] = lines[m], lines[n]
        elif op == "edit" and lines[n]:
            at = data.draw(st.integers(0, len(lines[n]) - 1))
            ch = data.draw(st.sampled_from(list("0123456789(), =[]:<>/.abcWx\x00\n")))
            lines[n] = lines[n][:at] + ch + lines[n][at + 1 :]
        elif op == "insert":
            lines.insert(n, data.draw(st.text(max_size=60)))
    mutated = "\n".join(lines)
    parsed = FORMAT.parse(problem, mutated)
    _check_result(parsed, mutated)
    verdict = TASK.verify(problem, mutated)
    assert verdict.kind in ("think", "trace", "steps", "grid")
    assert verdict.kind == TASK.output_kind(mutated)
    assert isinstance(TASK.well_formed(problem, mutated), bool)
    if parsed.valid:
        assert verdict.ok and parsed.answer == problem.solution


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=400))
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    problem = problems()[0]
    for candidate in (text, f"<think>\n{text}\n</think>\n<answer>{text}</answer>"):
        _check_result(FORMAT.parse(problem, candidate), candidate)
        assert TASK.verify(problem, candidate).kind == TASK.output_kind(candidate)


def test_huge_and_non_text_inputs_are_rejected_without_reading() -> None:
    problem, text = rendered(0, 1)
    for hostile in (
        text + "\n" * 5_000,
        "<think>\n" + "(0, 0) = 1\n" * 30_000,
        "<think>\n" + "Wait, go back to step 1.\n" * 3_000 + "</think>",
        "<think>" + "x" * 300_000,
    ):
        parsed = FORMAT.parse(problem, hostile)
        assert not parsed.valid and parsed.errors
        assert not TASK.verify(problem, hostile).ok
    assert not FORMAT.parse(problem, None).valid  # type: ignore[arg-type]
    assert not TASK.well_formed(problem, 12)  # type: ignore[arg-type]


def test_every_text_is_in_the_task_vocabulary() -> None:
    tokenizer = build_tokenizer("sudoku")
    unk = tokenizer.convert_tokens_to_ids(UNK)
    for k in (0, 3):
        _, text = rendered(0, k)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert unk not in ids
        assert tokenizer.decode(ids) == text


# ---- datasets -------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3])
def test_dataset_rows_carry_k_backtracks_and_every_completion_verifies(tmp_path: Path, k: int) -> None:
    """What ``backtrack generate sudoku --format backtrack-k -o k=K`` then ``backtrack verify sudoku
    --input`` (rows with ``answer`` = completion) do, through the Python API."""
    build_dataset("sudoku", 6, 11, "backtrack-k", tmp_path / "d", format_options={"k": k}, progress=False)
    rows = [row for split in datasets.load_from_disk(str(tmp_path / "d")).values() for row in split]
    assert len(rows) == 6
    task = get_task("sudoku")
    for row in rows:
        assert row["backtracks"] == k and row["solution"] == row["completion"][-90:-9]
        problem = task.problem_from_dict({**row, "answer": row["completion"]})
        verdict = task.verify(problem, row["completion"])
        assert verdict.ok and verdict.kind == "think", verdict.reason
        assert task.verify(problem, row["prompt"] + row["completion"]).ok
