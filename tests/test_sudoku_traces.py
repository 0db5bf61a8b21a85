"""Sudoku search events and the dfs/direct trace formats: render, parse back, verify, count."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtrack.search.events import Event, EventKind, search_stats
from backtrack.tasks.sudoku import N_CELLS, Sudoku, SudokuProblem, vocabulary
from backtrack.tasks.sudoku.search import dfs_naive, dfs_strategy, search_events
from backtrack.traces import formats, parse, render

STRATEGIES = ("naive", "strategy")


@pytest.fixture(scope="module")
def task() -> Sudoku:
    return Sudoku()


@pytest.fixture(scope="module")
def problems(task: Sudoku) -> list[SudokuProblem]:
    rng = random.Random(2024)
    return [task.generate(rng) for _ in range(30)]


@pytest.fixture(scope="module")
def backtracking(problems: list[SudokuProblem]) -> tuple[SudokuProblem, list[str]]:
    """A problem whose naive trace has a revert and several backtracks, with its trace lines."""
    for p in problems:
        trace = render("sudoku", p, "dfs")
        if "revert" in trace.text and 3 <= trace.backtracks <= 40:
            return p, trace.text.split("\n")
    raise AssertionError("no problem with a short backtracking trace in the sample")


def tokenize(text: str, vocab: list[str]) -> list[str]:
    """Longest-match split over literals (how the project's tokenizer reads task text)."""
    words = sorted(vocab, key=len, reverse=True)
    out, k = [], 0
    while k < len(text):
        word = next((w for w in words if text.startswith(w, k)), None)
        assert word is not None, f"not covered by the vocabulary at {k}: {text[k : k + 20]!r}"
        out.append(word)
        k += len(word)
    return out


def test_formats_are_registered() -> None:
    assert set(formats("sudoku")) == {"dfs", "direct", "backtrack-k"}


# ---- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("fmt", ["dfs", "direct"])
def test_render_parse_verify_round_trip(
    task: Sudoku, problems: list[SudokuProblem], fmt: str, strategy: str
) -> None:
    for p in problems:
        trace = render("sudoku", p, fmt, strategy=strategy)
        assert trace.solved
        parsed = parse("sudoku", p, fmt, trace.text)
        assert parsed.valid, parsed.errors
        assert parsed.goal_claimed
        assert parsed.answer == p.solution
        assert (parsed.backtracks, parsed.dead_ends, parsed.steps) == (
            trace.backtracks,
            trace.dead_ends,
            trace.steps,
        )
        verdict = task.verify(p, trace.text)
        assert verdict.ok, verdict
        # A dfs trace without a guess is only fills, which the verifier reads as steps.
        assert verdict.kind == ("trace" if "guess" in trace.text else "steps")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_event_counts_match_the_text(problems: list[SudokuProblem], strategy: str) -> None:
    for p in problems[:15]:
        events = list(search_events(p, strategy))
        stats = search_stats(events)
        trace = render("sudoku", p, "dfs", strategy=strategy)
        kinds = Counter(e.kind for e in events)
        assert stats.solved and events[-1].kind is EventKind.GOAL
        assert events[-1].state == p.solution
        assert stats.backtracks == trace.backtracks
        assert stats.dead_ends == trace.dead_ends == trace.text.count("nocand")
        assert kinds[EventKind.STEP] + kinds[EventKind.GENERATE] == trace.steps
        # A backtrack line is a revert or a retried guess; together they equal the BACKTRACK events.
        reverts = trace.text.count("revert")
        exhausted = sum(1 for e in events if e.kind is EventKind.BACKTRACK and e.info["exhausted"])
        assert reverts == exhausted
        assert stats.expanded == stats.generated + 1  # the root and one child per guess


@pytest.mark.parametrize("search", [dfs_naive, dfs_strategy])
def test_events_are_consistent(problems: list[SudokuProblem], search: Callable[..., Iterator[Event]]) -> None:
    for p in problems[:10]:
        open_guesses: list[tuple[int, int, int]] = []
        for e in search(p):
            assert len(e.state) == N_CELLS
            if e.kind in (EventKind.STEP, EventKind.GENERATE):
                r, c, v = e.action
                assert e.state[r * 9 + c] == str(v)
            if e.kind is EventKind.GENERATE:
                assert e.action[2] in e.info
                open_guesses.append(e.action)
            elif e.kind is EventKind.BACKTRACK:
                assert open_guesses.pop() == e.action  # one BACKTRACK closes one failed guess
                r, c, v = e.action
                assert e.state[r * 9 + c] == "0"  # the cell is undone
                assert e.info["exhausted"] == (v == e.info["candidates"][-1])
            elif e.kind is EventKind.DEAD_END:
                r, c = e.info
                assert e.state[r * 9 + c] == "0"


def test_strategy_guesses_less_than_naive(problems: list[SudokuProblem]) -> None:
    naive = [search_stats(dfs_naive(p)).generated for p in problems]
    clever = [search_stats(dfs_strategy(p)).generated for p in problems]
    assert sum(clever) < sum(naive) / 3


def test_direct_fills_every_blank_once(problems: list[SudokuProblem]) -> None:
    for p in problems[:10]:
        for strategy in STRATEGIES:
            trace = render("sudoku", p, "direct", strategy=strategy)
            cells = [line.split(" = ")[0] for line in trace.text.split("\n")]
            blanks = [f"({i // 9}, {i % 9})" for i in range(N_CELLS) if p.puzzle[i] == "0"]
            assert sorted(cells) == sorted(blanks)
            assert trace.steps == len(blanks) and trace.backtracks == trace.dead_ends == 0


def test_all_text_is_covered_by_the_vocabulary(task: Sudoku, problems: list[SudokuProblem]) -> None:
    vocab = vocabulary()
    for p in problems[:5]:
        tokenize(task.prompt(p), vocab)
        for fmt in ("dfs", "direct"):
            for strategy in STRATEGIES:
                text = render("sudoku", p, fmt, strategy=strategy).text
                tokens = tokenize(text, vocab)
                assert tokens.count("\n") == text.count("\n")


# ---- limits -----------------------------------------------------------------------------------
def test_limited_run_is_unsolved_and_counts_still_match(task: Sudoku, problems: list[SudokuProblem]) -> None:
    p = next(p for p in problems if search_stats(dfs_naive(p)).generated > 5)
    for limits in ({"max_guesses": 3}, {"max_events": 40}):
        trace = render("sudoku", p, "dfs", **limits)
        assert not trace.solved
        parsed = parse("sudoku", p, "dfs", trace.text)
        assert not parsed.goal_claimed and not parsed.valid and parsed.errors == []
        assert (parsed.backtracks, parsed.dead_ends, parsed.steps) == (
            trace.backtracks,
            trace.dead_ends,
            trace.steps,
        )
        assert "of 81 cells filled" in task.verify(p, trace.text).reason
    assert render("sudoku", p, "dfs", max_guesses=3).text.count("guess") == 3


def test_unknown_strategy_is_an_error(problems: list[SudokuProblem]) -> None:
    with pytest.raises(ValueError, match="unknown sudoku search strategy"):
        render("sudoku", problems[0], "dfs", strategy="bogus")


# ---- mutated traces ---------------------------------------------------------------------------
def first_index(lines: list[str], prefix: str) -> int:
    return next(k for k, line in enumerate(lines) if line.startswith(prefix))


def test_trace_mutations_are_rejected(task: Sudoku, backtracking: tuple[SudokuProblem, list[str]]) -> None:
    p, lines = backtracking

    def check(mutated: list[str], needle: str) -> None:
        verdict = task.verify(p, "\n".join(mutated))
        assert not verdict.ok and verdict.kind == "trace"
        assert needle in verdict.reason, verdict.reason
        parsed = parse("sudoku", p, "dfs", "\n".join(mutated))
        assert not parsed.valid

    nocand = first_index(lines, "nocand")
    check(lines[:nocand] + lines[nocand + 1 :], "already filled")  # the retry now hits a filled cell
    revert = first_index(lines, "revert")
    check(lines[:revert] + lines[revert + 1 :], "expected a retry or revert")
    check([*lines, lines[-1]], "after the grid is complete")
    check(lines[:-1], "80 of 81 cells")
    # Retrying a value that was already tried: the retry line becomes the frame's previous try.
    retry = next(
        k for k in range(1, len(lines)) if lines[k].startswith("guess") and lines[k - 1].startswith("nocand")
    )
    head = lines[retry].rpartition(" = ")[0]
    previous = next(line for line in reversed(lines[:retry]) if line.rpartition(" = ")[0] == head)
    check([*lines[:retry], previous, *lines[retry + 1 :]], "already tried")
    # A revert right after the first try of a guess with several candidates.
    opened = next(k for k, line in enumerate(lines) if line.startswith("guess") and "," in line)
    cell_and_list = lines[opened][len("guess: ") :].rpartition(" = ")[0]
    second = cell_and_list.split("[")[1].rstrip("]").split(", ")[1]
    premature = [*lines[: opened + 1], "nocand: (0, 0)", f"revert: {cell_and_list} = none"]
    parsed = parse("sudoku", p, "dfs", "\n".join(premature))
    assert any(f"before trying {second}" in e for e in parsed.errors), parsed.errors
    # A fill whose value is changed.
    fill = first_index(lines, "(")
    wrong = lines[fill][:-1] + str(int(lines[fill][-1]) % 9 + 1)
    assert not task.verify(p, "\n".join([*lines[:fill], wrong, *lines[fill + 1 :]])).ok


def test_guess_with_an_impossible_candidate_is_rejected(task: Sudoku, problems: list[SudokuProblem]) -> None:
    p = problems[0]
    blank = p.puzzle.index("0")
    r = blank // 9
    clash = next(p.puzzle[j] for j in range(r * 9, r * 9 + 9) if p.puzzle[j] != "0")
    text = f"guess: ({r}, {blank % 9}) [{clash}] = {clash}"
    verdict = task.verify(p, text)
    assert not verdict.ok and "conflicts with row" in verdict.reason


def test_direct_parser_refuses_search_lines(problems: list[SudokuProblem]) -> None:
    p = next(p for p in problems if "guess" in render("sudoku", p, "dfs").text)
    parsed = parse("sudoku", p, "direct", render("sudoku", p, "dfs").text)
    assert not parsed.valid and "unreadable line" in parsed.errors[0]


# ---- parsers never raise ----------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400))
def test_parsers_never_raise(problems: list[SudokuProblem], text: str) -> None:
    for fmt in ("dfs", "direct"):
        parsed = parse("sudoku", problems[0], fmt, text)
        assert isinstance(parsed.errors, list)
        assert not parsed.valid or parsed.answer == problems[0].solution


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.builds(
                lambda r, c, v: f"({r}, {c}) = {v}", st.integers(0, 8), st.integers(0, 8), st.integers(1, 9)
            ),
            st.builds(
                lambda r, c, vs, v: f"guess: ({r}, {c}) [{', '.join(map(str, vs))}] = {v}",
                st.integers(0, 8),
                st.integers(0, 8),
                st.lists(st.integers(1, 9), min_size=1, max_size=4),
                st.integers(1, 9),
            ),
            st.builds(lambda r, c: f"nocand: ({r}, {c})", st.integers(0, 8), st.integers(0, 8)),
            st.builds(
                lambda r, c, vs: f"revert: ({r}, {c}) [{', '.join(map(str, vs))}] = none",
                st.integers(0, 8),
                st.integers(0, 8),
                st.lists(st.integers(1, 9), min_size=1, max_size=4),
            ),
        ),
        max_size=60,
    )
)
def test_well_formed_nonsense_parses_without_raising(problems: list[SudokuProblem], lines: list[str]) -> None:
    parsed = parse("sudoku", problems[1], "dfs", "\n".join(lines))
    assert parsed.steps <= len(lines)
    assert not parsed.valid  # 60 random lines cannot legally fill 55+ cells and finish
