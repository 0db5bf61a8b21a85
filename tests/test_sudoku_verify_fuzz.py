"""The Sudoku verifier is a security boundary: hostile or random text gets a quick Verdict, never an error."""

from __future__ import annotations

import contextlib
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtrack.tasks.base import MAX_ANSWER_CHARS, Verdict
from backtrack.tasks.sudoku import (
    ALL_DIGITS,
    BIT,
    DIGITS_OF,
    PEERS,
    Sudoku,
    SudokuProblem,
    format_guess,
    format_nocand,
    format_revert,
    grid_values,
    replay,
)
from backtrack.traces import render

LIMIT_S = 0.050
TASK = Sudoku()
PROBLEM = TASK.generate(random.Random(77))
TRACE = render("sudoku", PROBLEM, "dfs").text


def timed_verify(problem: SudokuProblem, answer: object) -> Verdict:
    """Verify and assert it took under 50 ms (best of five, so scheduler noise does not fail it)."""
    best = float("inf")
    verdict = None
    for _ in range(5):
        start = time.perf_counter()
        verdict = TASK.verify(problem, answer)  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - start)
        if best < LIMIT_S:
            break
    assert isinstance(verdict, Verdict)
    assert best < LIMIT_S, f"verify took {best * 1000:.1f} ms"
    return verdict


def long_legal_search(problem: SudokuProblem, chars: int) -> str:
    """A syntactically and structurally legal DFS that never finishes: guesses over the first
    blanks, a ``nocand`` at every leaf, reverts on the way back, until ``chars`` characters."""
    values = grid_values(problem.puzzle)
    blanks = [i for i in range(81) if not values[i]]
    lines: list[str] = []
    size = 0

    def candidates(board: list[int], i: int) -> tuple[int, ...]:
        used = 0
        for j in PEERS[i]:
            used |= BIT[board[j]]
        return DIGITS_OF[~used & ALL_DIGITS]

    def emit(line: str) -> None:
        nonlocal size
        if size + len(line) + 1 > chars:
            raise StopIteration
        lines.append(line)
        size += len(line) + 1

    def descend(board: list[int], depth: int) -> None:
        cell = blanks[depth]
        cands = candidates(board, cell)
        if depth == 40 or not cands:
            emit(format_nocand(cell))
            return
        for v in cands:
            emit(format_guess(cell, cands, v))
            child = board.copy()
            child[cell] = v
            descend(child, depth + 1)
        emit(format_revert(cell, cands))

    with contextlib.suppress(StopIteration):
        descend(values, 0)
    return "\n".join(lines)


# ---- fixed hostile inputs ---------------------------------------------------------------------
HOSTILE = {
    "eval": "__import__('os').system('echo hacked')",
    "eval_in_fill": "(0, 0) = __import__('os').system('echo hacked')",
    "eval_in_guess": "guess: (0, 0) [__import__('os')] = 1",
    "power": "9**9**9**9",
    "arabic_digits": "".join("٠١٢٣٤٥٦٧٨٩"[int(ch)] for ch in PROBLEM.solution),
    "fullwidth_digits": "".join(chr(0xFF10 + int(ch)) for ch in PROBLEM.solution),
    "one_arabic_digit": "٣" + PROBLEM.solution[1:],
    "arabic_in_fill": "(0, 0) = ٣",
    "deep_brackets": "[" * 99_000 + "]" * 99_000,
    "deep_parens": "(" * (MAX_ANSWER_CHARS - 1),
    "deep_guess_list": "guess: (0, 0) [" + "1, " * 60_000,
    "nul_bytes": "\x00" * 5000,
    "surrogates": "\ud800\udfff" * 100,
    "empty": "",
    "whitespace": " \t\n" * 10_000,
    "grid_too_long": PROBLEM.solution * 2,
    "all_ones": "1" * 81,
    "answer_tag_empty": "<answer></answer>",
    "fill_spam": ("(0, 0) = 1\n" * 18_000)[: MAX_ANSWER_CHARS - 1],
    "nocand_spam": ("nocand: (4, 4)\n" * 13_000)[: MAX_ANSWER_CHARS - 1],
    "revert_spam": ("revert: (4, 4) [1, 2] = none\n" * 6_000)[: MAX_ANSWER_CHARS - 1],
    "trace_repeated": (TRACE + "\n") * (MAX_ANSWER_CHARS // (len(TRACE) + 1)),
    "long_legal_search": long_legal_search(PROBLEM, MAX_ANSWER_CHARS - 1),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_are_rejected_quickly(name: str, capfd: pytest.CaptureFixture[str]) -> None:
    verdict = timed_verify(PROBLEM, HOSTILE[name])
    assert not verdict.ok
    assert verdict.reason
    assert "hacked" not in capfd.readouterr().out


def test_long_legal_search_is_long_and_legal() -> None:
    text = HOSTILE["long_legal_search"]
    assert len(text) > MAX_ANSWER_CHARS * 0.95
    result = replay(PROBLEM.puzzle, text, stop_at_first_error=True)
    assert result.errors == [] and not result.complete and result.backtracks > 3000


@pytest.mark.parametrize("size", [MAX_ANSWER_CHARS + 1, 1_000_000])
def test_huge_inputs_are_rejected_by_length(size: int) -> None:
    for text in ("x" * size, (PROBLEM.solution * (size // 81 + 1))[:size], ("(0, 0) = 1\n" * size)[:size]):
        verdict = timed_verify(PROBLEM, text)
        assert not verdict.ok and "limit" in verdict.reason


def test_right_answers_still_pass_among_the_hostile_ones() -> None:
    assert timed_verify(PROBLEM, TRACE).ok
    assert timed_verify(PROBLEM, PROBLEM.solution).ok


# ---- random inputs ----------------------------------------------------------------------------
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(max_size=2000))
def test_random_text_is_rejected(text: str) -> None:
    assert not timed_verify(PROBLEM, text).ok


@FUZZ
@given(
    st.text(
        alphabet=st.characters(categories=["Nd", "No", "Zs", "Cc", "Ps", "Pe"]), min_size=70, max_size=200
    )
)
def test_unicode_digits_and_brackets_are_rejected(text: str) -> None:
    assert not timed_verify(PROBLEM, text).ok


@FUZZ
@given(st.text(alphabet="0123456789.\n ", min_size=75, max_size=120))
def test_random_grids_are_rejected(text: str) -> None:
    # A random digit string is (almost surely) not the solution; if it were accepted it must be right.
    verdict = timed_verify(PROBLEM, text)
    assert not verdict.ok or "".join(text.split()) == PROBLEM.solution


@FUZZ
@given(
    st.recursive(
        st.just("1"), lambda inner: st.builds(lambda s: f"[{s}]", inner) | st.builds("({})".format, inner)
    )
)
def test_nested_brackets_are_rejected(text: str) -> None:
    assert not timed_verify(PROBLEM, text).ok


# ---- soundness: whatever is accepted is right --------------------------------------------------
MUTATIONS = ("delete", "duplicate", "swap", "digit", "move")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 10**6), st.integers(0, 10**6)), max_size=3)
)
def test_mutated_traces_are_accepted_only_if_right(ops: list[tuple[str, int, int]]) -> None:
    lines = TRACE.split("\n")
    for op, a, b in ops:
        i, j = a % len(lines), b % len(lines)
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(j, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "digit":
            line = lines[i]
            k = next((k for k in range(len(line) - 1, -1, -1) if line[k].isdigit()), None)
            if k is not None:
                lines[i] = line[:k] + str((int(line[k]) + 1 + b % 8) % 10) + line[k + 1 :]
        elif op == "move":
            lines.insert(j, lines.pop(i))
    text = "\n".join(lines)
    verdict = timed_verify(PROBLEM, text)
    if verdict.ok:
        assert replay(PROBLEM.puzzle, text).board == PROBLEM.solution
