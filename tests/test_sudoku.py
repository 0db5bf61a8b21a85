"""Sudoku task: config, generator, solver, grids, splits, prompt and the grid/steps verifier."""

from __future__ import annotations

import random

import pytest

from backtrack.tasks import get_task
from backtrack.tasks.sudoku import (
    N_CELLS,
    Sudoku,
    SudokuConfig,
    SudokuProblem,
    check_solution,
    count_solutions,
    find_conflict,
    format_fill,
    grid_values,
    parse_grid,
    vocabulary,
)

# A classic puzzle with a known unique solution.
CLASSIC = "530070000600195000098000060800060003400803001700020006060000280000419005000080079"
CLASSIC_SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"


@pytest.fixture(scope="module")
def task() -> Sudoku:
    return Sudoku()


@pytest.fixture(scope="module")
def problems(task: Sudoku) -> list[SudokuProblem]:
    rng = random.Random(1234)
    return [task.generate(rng) for _ in range(40)]


def is_valid_solution(puzzle: str, grid: str) -> bool:
    return check_solution(puzzle, grid) is None


# ---- config -----------------------------------------------------------------------------------
def test_config_defaults_match_the_paper() -> None:
    c = SudokuConfig()
    assert (c.min_givens, c.max_givens, c.test_fraction) == (22, 26, 0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_givens": 16}, "17..80"),
        ({"max_givens": 81}, "17..80"),
        ({"min_givens": 30, "max_givens": 25}, "<= max_givens"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"test_fraction": -0.1}, "test_fraction"),
        ({"min_givens": 22.5}, "integer"),
        ({"max_tries": 0}, "max_tries"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SudokuConfig(**kwargs)


def test_registry_builds_the_task_with_overrides() -> None:
    task = get_task("sudoku", min_givens=30, max_givens=32)
    assert isinstance(task, Sudoku)
    assert task.config.min_givens == 30
    with pytest.raises(ValueError, match="unknown sudoku option"):
        get_task("sudoku", givens=3)


# ---- generation -------------------------------------------------------------------------------
def test_generated_puzzles_are_unique_and_in_range(problems: list[SudokuProblem]) -> None:
    for p in problems:
        assert len(p.puzzle) == len(p.solution) == N_CELLS
        assert 22 <= p.givens <= 26
        assert count_solutions(p.puzzle) == 1
        assert is_valid_solution(p.puzzle, p.solution)


def test_generation_respects_a_custom_range() -> None:
    task = Sudoku.from_config(min_givens=35, max_givens=36)
    rng = random.Random(7)
    for _ in range(10):
        p = task.generate(rng)
        assert 35 <= p.givens <= 36
        assert count_solutions(p.puzzle) == 1


def test_generation_is_deterministic(task: Sudoku) -> None:
    a = [task.generate(random.Random(99)) for _ in range(2)]
    assert a[0] == a[1]
    assert task.generate(random.Random(100)) != a[0]


def test_generation_covers_the_range(problems: list[SudokuProblem]) -> None:
    # Not a single fixed count: the target is drawn per puzzle.
    assert len({p.givens for p in problems}) >= 3


# ---- solving ----------------------------------------------------------------------------------
def test_solve_classic(task: Sudoku) -> None:
    assert task.solve(CLASSIC) == CLASSIC_SOLUTION
    assert task.count_solutions(CLASSIC) == 1


def test_solve_matches_generated_solutions(task: Sudoku, problems: list[SudokuProblem]) -> None:
    for p in problems:
        assert task.solve(p) == p.solution


def deadly_rectangle(grid: str) -> tuple[int, int, int, int] | None:
    """Four cells in two boxes holding a, b / b, a: blanking them leaves two solutions."""
    for r1 in range(9):
        for r2 in range(r1 + 1, 9):
            for c1 in range(9):
                for c2 in range(c1 + 1, 9):
                    cells = (r1 * 9 + c1, r1 * 9 + c2, r2 * 9 + c1, r2 * 9 + c2)
                    boxes = {(r // 3, c // 3) for r in (r1, r2) for c in (c1, c2)}
                    a, b, c, d = (grid[i] for i in cells)
                    if len(boxes) == 2 and a == d and b == c and a != b:
                        return cells
    return None


def test_count_solutions_cases(problems: list[SudokuProblem]) -> None:
    assert count_solutions("0" * 81) == 2  # stops at the limit
    assert count_solutions("0" * 81, limit=5) == 5
    assert count_solutions(CLASSIC_SOLUTION) == 1
    assert count_solutions("11" + "0" * 79) == 0  # givens clash
    # A wrong digit that clashes with no given still leaves no solution.
    bad = CLASSIC[:2] + "1" + CLASSIC[3:]  # (0, 2) must be 4
    assert find_conflict(grid_values(bad)) is None
    assert count_solutions(bad) == 0
    # Blanking a deadly rectangle of a full grid gives exactly two solutions.
    grid, cells = next((p.solution, r) for p in problems if (r := deadly_rectangle(p.solution)))
    holed = "".join("0" if i in cells else ch for i, ch in enumerate(grid))
    assert count_solutions(holed) == 2
    assert count_solutions(holed, limit=1) == 1


def test_unsolvable_puzzle_solves_to_none(task: Sudoku) -> None:
    assert task.solve(CLASSIC[:2] + "1" + CLASSIC[3:]) is None


# ---- grids ------------------------------------------------------------------------------------
def test_parse_grid_forms() -> None:
    dotted = CLASSIC.replace("0", ".")
    nine_lines = "\n".join(CLASSIC[r * 9 : r * 9 + 9] for r in range(9))
    spaced = "\n".join(" ".join(CLASSIC[r * 9 : r * 9 + 9]) for r in range(9))
    for text in (CLASSIC, dotted, nine_lines, spaced, f"  {nine_lines}\n\n"):
        assert parse_grid(text) == CLASSIC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CLASSIC[:80], "81 cells, got 80"),
        (CLASSIC + "1", "81 cells, got 82"),
        ("x" + CLASSIC[1:], "invalid character 'x'"),
        ("٣" + CLASSIC[1:], "invalid character"),
        ("", "81 cells, got 0"),
    ],
)
def test_parse_grid_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_grid(text)


def test_problem_from_dict_round_trip(task: Sudoku, problems: list[SudokuProblem]) -> None:
    p = problems[0]
    assert task.problem_from_dict(p.to_dict()) == p
    assert task.problem_from_dict({"puzzle": p.puzzle}) == p  # the solution is computed
    with pytest.raises(ValueError, match="more than one solution"):
        task.problem("0" * 81)
    with pytest.raises(ValueError, match="does not solve"):
        task.problem(p.puzzle, p.solution[::-1])


# ---- splits -----------------------------------------------------------------------------------
def test_split_is_stable_and_roughly_the_fraction(task: Sudoku) -> None:
    rng = random.Random(0)
    puzzles = ["".join(rng.choice("0123456789") for _ in range(81)) for _ in range(4000)]
    splits = [task.split_of(p) for p in puzzles]
    assert splits == [Sudoku().split_of(p) for p in puzzles]  # a new task object agrees
    share = splits.count("test") / len(splits)
    assert 0.08 < share < 0.12
    assert {Sudoku.from_config(test_fraction=0.0).split_of(p) for p in puzzles[:200]} == {"train"}


def test_content_key_is_content(task: Sudoku, problems: list[SudokuProblem]) -> None:
    p = problems[0]
    assert task.content_key(p) == task.content_key(SudokuProblem(p.puzzle, p.solution))
    assert task.content_key(p) != task.content_key(problems[1])


# ---- prompt and vocabulary --------------------------------------------------------------------
def tokenize(text: str, vocab: list[str]) -> list[str]:
    """Longest-match split over literals, the way the project's tokenizer reads task text."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(vocab, key=len, reverse=True):
        by_first.setdefault(word[0], []).append(word)
    out, k = [], 0
    while k < len(text):
        word = next((w for w in by_first.get(text[k], []) if text.startswith(w, k)), None)
        if word is None:
            raise AssertionError(f"text not covered by the vocabulary at {k}: {text[k : k + 20]!r}")
        out.append(word)
        k += len(word)
    return out


def test_prompt_is_nine_lines_in_the_vocabulary(task: Sudoku) -> None:
    problem = task.problem(CLASSIC)
    prompt = task.prompt(problem)
    assert prompt.splitlines() == [CLASSIC[r * 9 : r * 9 + 9] for r in range(9)]
    tokens = tokenize(prompt, task.vocabulary())
    assert len(tokens) == 90  # 81 digits and 9 newlines


def test_vocabulary_has_one_token_per_cell() -> None:
    vocab = vocabulary()
    assert len(vocab) == len(set(vocab))
    assert tokenize("(3, 4) = 7", vocab) == ["(3, 4)", " = ", "7"]
    assert all(f"({r}, {c})" in vocab for r in range(9) for c in range(9))


# ---- verifying grids and steps ----------------------------------------------------------------
def fills_text(p: SudokuProblem) -> str:
    return "\n".join(format_fill(i, int(p.solution[i])) for i in range(N_CELLS) if p.puzzle[i] == "0")


def test_verify_accepts_right_answers(task: Sudoku, problems: list[SudokuProblem]) -> None:
    for p in problems[:10]:
        for answer, kind in (
            (p.solution, "grid"),
            ("\n".join(p.solution[r * 9 : r * 9 + 9] for r in range(9)), "grid"),
            (f"<answer>{p.solution}</answer>", "grid"),
            (fills_text(p), "steps"),
        ):
            verdict = task.verify(p, answer)
            assert verdict.ok, verdict
            assert verdict.kind == kind


def test_verify_grid_rejects_mutations(task: Sudoku, problems: list[SudokuProblem]) -> None:
    p = problems[0]
    sol = list(p.solution)
    blank = p.puzzle.index("0")
    given = next(i for i in range(N_CELLS) if p.puzzle[i] != "0")

    changed = sol.copy()
    changed[blank] = str(int(sol[blank]) % 9 + 1)
    v = task.verify(p, "".join(changed))
    assert not v.ok and "twice" in v.reason

    changed = sol.copy()
    changed[given] = str(int(sol[given]) % 9 + 1)
    v = task.verify(p, "".join(changed))
    assert not v.ok and v.reason.startswith(f"given at ({given // 9}, {given % 9}) changed")

    # Swap two different values in a row among non-given cells: digits stay, units break.
    row = blank // 9
    cells = [i for i in range(row * 9, row * 9 + 9) if p.puzzle[i] == "0"]
    a, b = cells[0], cells[1]
    swapped = sol.copy()
    swapped[a], swapped[b] = swapped[b], swapped[a]
    v = task.verify(p, "".join(swapped))
    assert not v.ok and "twice" in v.reason

    unfinished = sol.copy()
    unfinished[blank] = "0"
    v = task.verify(p, "".join(unfinished))
    assert not v.ok and "empty" in v.reason


def test_verify_steps_rejects_mutations(task: Sudoku, problems: list[SudokuProblem]) -> None:
    p = problems[0]
    lines = fills_text(p).split("\n")

    v = task.verify(p, "\n".join(lines[:-1]))  # drop the last fill
    assert not v.ok and "80 of 81" in v.reason
    v = task.verify(p, "\n".join(lines[:5] + lines[6:]))  # drop a fill in the middle
    assert not v.ok
    v = task.verify(p, "\n".join([*lines[:3], lines[2], *lines[3:]]))  # duplicate a fill
    assert not v.ok and "already filled" in v.reason

    given = next(i for i in range(N_CELLS) if p.puzzle[i] != "0")
    v = task.verify(p, "\n".join([format_fill(given, int(p.solution[given])), *lines]))
    assert not v.ok and "given" in v.reason

    # A wrong digit that clashes with its row is named with the unit.
    first = p.puzzle.index("0")
    r = first // 9
    clash = next(int(p.puzzle[j]) for j in range(r * 9, r * 9 + 9) if p.puzzle[j] != "0")
    v = task.verify(p, format_fill(first, clash))
    assert not v.ok and f"conflicts with row {r}" in v.reason

    # Swap the values of two fills that differ: at least one then clashes or breaks the grid.
    a = next(k for k in range(1, len(lines)) if lines[k][-1] != lines[0][-1])
    swapped = lines.copy()
    swapped[0] = lines[0][:-1] + lines[a][-1]
    swapped[a] = lines[a][:-1] + lines[0][-1]
    assert not task.verify(p, "\n".join(swapped)).ok


def test_verify_never_raises_on_odd_inputs(task: Sudoku, problems: list[SudokuProblem]) -> None:
    p = problems[0]
    for answer in (None, 42, b"bytes", ["list"]):
        v = task.verify(p, answer)  # type: ignore[arg-type]
        assert not v.ok and "text" in v.reason
    v = task.verify("not a problem", p.solution)  # type: ignore[arg-type]
    assert not v.ok
