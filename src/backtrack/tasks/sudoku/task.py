"""The Sudoku task: unique-solution puzzles, an exact solver, a safe verifier, answer keys, formats.

See ``board`` (grids), ``solver`` (counting solutions, digging puzzles), ``lines`` (the trace line
grammar and its replay), ``search`` (the DFS that emits events) and ``formats``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from backtrack.tasks.base import MAX_ANSWER_CHARS, TaskBase, Verdict, accept, extract_answer, reject
from backtrack.tasks.sudoku.board import (
    Geometry,
    _unit_masks,
    check_solution,
    find_conflict,
    grid_lines,
    grid_to_str,
    grid_values,
    parse_grid,
)
from backtrack.tasks.sudoku.lines import detect_kind, replay, replay_reason, vocabulary
from backtrack.tasks.sudoku.problem import SudokuConfig, SudokuProblem, puzzle_of
from backtrack.tasks.sudoku.solver import _search, count_solutions, dig_puzzle, random_solution, solve_grid
from backtrack.traces.base import Trace, TraceFormat


@dataclass
class Sudoku(TaskBase):
    """The Sudoku task: unique-solution generator, exact solver, safe verifier and prompt."""

    config: SudokuConfig = field(default_factory=SudokuConfig)
    name: ClassVar[str] = "sudoku"
    config_class: ClassVar[type] = SudokuConfig

    @property
    def geometry(self) -> Geometry:
        """The board size of this task's config (``box``): every problem it makes or reads has it."""
        return self.config.geometry

    # ---- problems -----------------------------------------------------------------------------
    def problem(self, puzzle: str, solution: str | None = None) -> SudokuProblem:
        """A problem from user text; the solution is computed (and must be unique) when not given.

        The grid must have the configured size (``box``): a 6x6 task does not read 9x9 puzzles.
        """
        puzzle = parse_grid(puzzle, self.geometry)
        if _unit_masks(grid_values(puzzle)) is None:
            raise ValueError(f"the puzzle repeats a digit: {find_conflict(grid_values(puzzle))}")
        if solution is None:
            first: list[int] = []
            n = _search(grid_values(puzzle), 2, first=first)
            if n != 1:
                raise ValueError(
                    "the puzzle has no solution" if n == 0 else "the puzzle has more than one solution"
                )
            return SudokuProblem(puzzle, grid_to_str(first))
        solution = parse_grid(solution, self.geometry)
        wrong = check_solution(puzzle, solution)
        if wrong:
            raise ValueError(f"the solution does not solve the puzzle: {wrong}")
        return SudokuProblem(puzzle, solution)

    def problem_from_dict(self, row: Mapping[str, Any]) -> SudokuProblem:
        return self.problem(row["puzzle"], row.get("solution"))

    def parse_problem(self, text: str) -> SudokuProblem:
        """An n*n-cell grid (81 on 9x9, 36 on 6x6): digits 1-n, '0' or '.' for blanks, whitespace ignored."""
        if not text.strip():
            geo = self.geometry
            raise ValueError(f"give the puzzle as a {geo.n_cells}-character grid ('.' or '0' for blanks)")
        return self.problem(text)

    def content_key(self, problem: SudokuProblem) -> str:
        """Content key for de-duplication: the puzzle text."""
        return problem.puzzle

    def split_of(self, problem: SudokuProblem | str) -> str:
        """'test' or 'train' from a stable hash of the puzzle, so a puzzle always lands in one split."""
        digest = hashlib.blake2b(puzzle_of(problem).encode(), digest_size=8, person=b"sudoku-split").digest()
        return "test" if int.from_bytes(digest, "big") / 2**64 < self.config.test_fraction else "train"

    def generate(self, rng: random.Random) -> SudokuProblem:
        """A puzzle with a unique solution and a number of givens in [min_givens, max_givens].

        The target count is drawn uniformly; digging stops there or when every given left is needed,
        and a fresh grid is tried while that leaves more than ``max_givens``. So low counts come out
        a little rarer than uniform (about 2% of random dig-outs can reach 22 givens at all).
        """
        c = self.config
        geo = self.geometry
        for _ in range(c.max_tries):
            target = rng.randint(c.min_givens, c.max_givens)
            solution = random_solution(rng, geo)
            puzzle = dig_puzzle(solution, target, rng)
            if geo.n_cells - puzzle.count(0) <= c.max_givens:
                return SudokuProblem(grid_to_str(puzzle), grid_to_str(solution))
        raise RuntimeError(
            f"no puzzle with <= {c.max_givens} givens in {c.max_tries} grids; raise max_givens"
        )

    # ---- solving ------------------------------------------------------------------------------
    def solve(self, problem: SudokuProblem | str) -> str | None:
        """The solution grid (computed, not read from the problem), or None when there is none."""
        return solve_grid(puzzle_of(problem))

    def count_solutions(self, puzzle: SudokuProblem | str, limit: int = 2) -> int:
        return count_solutions(puzzle_of(puzzle), limit)

    def reference_answer(self, problem: SudokuProblem, trace: Trace | None = None) -> str:
        """The solution grid (unique, so every trace reaches the same one)."""
        del trace
        return problem.solution

    # ---- text ---------------------------------------------------------------------------------
    def prompt(self, problem: SudokuProblem) -> str:
        """The puzzle as n lines of n digits, '0' for a blank (only vocabulary tokens)."""
        return grid_lines(problem.puzzle)

    def vocabulary(self) -> list[str]:
        return vocabulary(self.geometry)

    def formats(self) -> Mapping[str, TraceFormat]:
        from backtrack.tasks.sudoku.formats import FORMATS

        return FORMATS

    # ---- verifying ----------------------------------------------------------------------------
    def verify(self, problem: SudokuProblem, answer: str) -> Verdict:
        """Check untrusted model text: a final grid, a list of fills, a whole dfs trace, or a
        backtrack-k ``<think>`` text (its ``<answer>`` grid decides)."""
        try:
            return self._verify(problem, answer)
        except Exception as exc:  # a verifier bug must not crash a reward worker
            return reject(f"verifier error: {type(exc).__name__}: {exc}", "error")

    def _verify(self, problem: SudokuProblem, answer: str) -> Verdict:
        if not isinstance(answer, str):
            return reject(f"answer must be text, got {type(answer).__name__}")
        if len(answer) > MAX_ANSWER_CHARS:
            return reject(f"answer is {len(answer)} characters, over the {MAX_ANSWER_CHARS} limit")
        if not isinstance(problem, SudokuProblem):
            return reject(f"problem must be a SudokuProblem, got {type(problem).__name__}", "error")
        prompt = self.prompt(problem)
        if answer.startswith(prompt):  # prompt + completion, as a dataset row holds them
            answer = answer[len(prompt) :]
        kind = detect_kind(answer)
        if kind == "think":
            from backtrack.tasks.sudoku.formats import backtrack_k

            return backtrack_k.verify(problem, answer)
        if kind == "trace":
            return self.verify_trace(problem, answer)
        body = extract_answer(answer)
        if kind == "steps":
            return self.verify_steps(problem, body)
        return self.verify_grid(problem, body)

    def verify_grid(self, problem: SudokuProblem, text: str) -> Verdict:
        """Any complete valid grid that keeps every given is right (the puzzle's solution is unique)."""
        try:
            grid = parse_grid(text, problem.geometry)
        except ValueError as exc:
            return reject(str(exc), "grid")
        wrong = check_solution(problem.puzzle, grid)
        if wrong:
            return reject(wrong, "grid")
        return accept("complete valid grid that keeps every given", "grid")

    def verify_steps(self, problem: SudokuProblem, text: str) -> Verdict:
        result = replay(problem.puzzle, text, allow_search=False, stop_at_first_error=True)
        if result.valid:
            return accept(f"{result.fills} legal fills complete the grid", "steps")
        return reject(replay_reason(result), "steps")

    def verify_trace(self, problem: SudokuProblem, text: str) -> Verdict:
        result = replay(problem.puzzle, text, allow_search=True, stop_at_first_error=True)
        if result.valid:
            return accept(
                f"trace replays legally to a complete valid grid ({result.backtracks} backtracks)", "trace"
            )
        return reject(replay_reason(result), "trace")

    # ---- reading claims -----------------------------------------------------------------------
    def answer_key(self, problem: SudokuProblem, text: str) -> str | None:
        """The grid the text claims: a final grid (alone or in a backtrack-k ``<answer>``), or the board
        its lines reach when complete."""
        if detect_kind(text) in ("grid", "think"):
            try:
                return parse_grid(extract_answer(text), problem.geometry)
            except ValueError:
                return None
        board = replay(puzzle_of(problem), text).board
        return board if "0" not in board else None

    def output_kind(self, text: str) -> str:
        """``think`` (backtrack-k), ``trace`` (search lines), ``steps`` (fill lines) or ``grid``."""
        return detect_kind(text)

    def well_formed(self, problem: SudokuProblem, text: str) -> bool:
        """A ``trace`` or ``steps`` text whose lines are all readable and that fills every cell, or a
        ``grid`` of n*n digits 1-n (81 of 1-9 on 9x9), or a ``think`` text whose lines all read, closed
        by ``</think>``, with such a grid in ``<answer>``. An empty or truncated output is not well formed."""
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_ANSWER_CHARS:
            return False
        kind = detect_kind(text)
        if kind == "think":
            from backtrack.tasks.sudoku.formats import backtrack_k

            return backtrack_k.well_formed(problem, text)
        if kind == "grid":
            try:
                return "0" not in parse_grid(extract_answer(text), problem.geometry)
            except ValueError:
                return False
        from backtrack.tasks.sudoku.formats.common import parse_text

        parsed = parse_text(problem, text, allow_search=kind == "trace")
        return parsed.goal_claimed and not any("unreadable line" in e for e in parsed.errors)
