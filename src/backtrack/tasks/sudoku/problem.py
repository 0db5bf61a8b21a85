"""Sudoku's config (generator knobs and the split) and its problem type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backtrack.tasks.sudoku.board import N_CELLS, parse_grid


@dataclass(frozen=True, slots=True)
class SudokuConfig:
    """Knobs of the Sudoku generator (defaults: the paper's 22-26 givens)."""

    min_givens: int = 22
    max_givens: int = 26
    # Share of puzzles in the test split, decided by a hash of the puzzle text (content, not seed).
    test_fraction: float = 0.1
    # Random full grids to try before giving up on reaching <= max_givens (below ~21 this gets slow).
    max_tries: int = 1000

    def __post_init__(self) -> None:
        for name in ("min_givens", "max_givens", "max_tries"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if not 17 <= self.min_givens <= 80 or not 17 <= self.max_givens <= 80:
            raise ValueError(
                f"min_givens and max_givens must be in 17..80 (no unique puzzle has fewer than 17 givens), "
                f"got {self.min_givens} and {self.max_givens}"
            )
        if self.min_givens > self.max_givens:
            raise ValueError(
                f"min_givens ({self.min_givens}) must be <= max_givens ({self.max_givens}); "
                "give both, e.g. min_givens=30 max_givens=34"
            )
        if not isinstance(self.test_fraction, int | float) or not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction!r}")
        if self.max_tries < 1:
            raise ValueError(f"max_tries must be >= 1, got {self.max_tries}")


@dataclass(frozen=True, slots=True)
class SudokuProblem:
    puzzle: str  # 81 chars, '0' for a blank
    solution: str  # 81 chars, the unique solution

    @property
    def givens(self) -> int:
        return N_CELLS - self.puzzle.count("0")

    def to_dict(self) -> dict[str, Any]:
        return {"puzzle": self.puzzle, "solution": self.solution}


def puzzle_of(problem: SudokuProblem | str) -> str:
    """The puzzle string of a problem or of a grid given as text."""
    return problem.puzzle if isinstance(problem, SudokuProblem) else parse_grid(problem)
