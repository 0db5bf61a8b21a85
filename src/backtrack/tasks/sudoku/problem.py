"""Sudoku's config (generator knobs and the split) and its problem type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backtrack.tasks.sudoku.board import BOX_SHAPES, Geometry, geometry, geometry_of, parse_grid

# Default and smallest givens per box shape. 9x9: the paper's 22-26 (no unique 9x9 puzzle has fewer
# than 17 givens). 6x6: 9 givens, the fewest that digging reaches reliably (8 almost never), where
# naked singles alone solve about half the puzzles and a third need a backtrack (10-12 givens: 66-79%
# solved without a guess; docs/study-sudoku.md). No unique 6x6 puzzle has fewer than 8 givens.
# 4x4: 4-6; these never need a guess (naked singles solve every 4x4 puzzle we generated).
DEFAULT_GIVENS = {"3x3": (22, 26), "2x3": (9, 9), "2x2": (4, 6)}
FEWEST_GIVENS = {"3x3": 17, "2x3": 8, "2x2": 4}


@dataclass(frozen=True, slots=True)
class SudokuConfig:
    """Knobs of the Sudoku generator: the box shape (the board size) and how many givens a puzzle has.

    ``min_givens``/``max_givens`` default by size (None: ``DEFAULT_GIVENS[box]``, the paper's 22-26
    on 9x9); the resolved numbers are what the config holds afterwards.
    """

    box: str = "3x3"  # "3x3" (9x9), "2x3" (6x6: boxes of 2 rows x 3 columns) or "2x2" (4x4)
    min_givens: int | None = None
    max_givens: int | None = None
    # Share of puzzles in the test split, decided by a hash of the puzzle text (content, not seed).
    test_fraction: float = 0.1
    # Random full grids to try before giving up on reaching <= max_givens (below ~21 this gets slow).
    max_tries: int = 1000

    def __post_init__(self) -> None:
        if self.box not in BOX_SHAPES:
            raise ValueError(f"box must be one of {', '.join(map(repr, BOX_SHAPES))}, got {self.box!r}")
        low, high = DEFAULT_GIVENS[self.box]
        # One bound given: the other defaults so that the range is not empty.
        given_min, given_max = self.min_givens, self.max_givens
        if given_min is None:
            object.__setattr__(
                self, "min_givens", low if not isinstance(given_max, int) else min(low, given_max)
            )
        if given_max is None:
            object.__setattr__(
                self, "max_givens", high if not isinstance(given_min, int) else max(high, given_min)
            )
        for name in ("min_givens", "max_givens", "max_tries"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        geo = self.geometry
        fewest, most = FEWEST_GIVENS[self.box], geo.n_cells - 1
        if not fewest <= self.min_givens <= most or not fewest <= self.max_givens <= most:
            raise ValueError(
                f"min_givens and max_givens must be in {fewest}..{most} on a {geo.n}x{geo.n} board "
                f"(box {self.box}; no unique puzzle has fewer than {fewest} givens), "
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

    @property
    def geometry(self) -> Geometry:
        return geometry(self.box)


@dataclass(frozen=True, slots=True)
class SudokuProblem:
    puzzle: str  # n*n chars (81 on 9x9), '0' for a blank; its length names the board size
    solution: str  # n*n chars, the unique solution

    @property
    def geometry(self) -> Geometry:
        return geometry_of(self.puzzle)

    @property
    def givens(self) -> int:
        return len(self.puzzle) - self.puzzle.count("0")

    def to_dict(self) -> dict[str, Any]:
        return {"puzzle": self.puzzle, "solution": self.solution}


def puzzle_of(problem: SudokuProblem | str) -> str:
    """The puzzle string of a problem or of a grid given as text (of any size: its cell count names it)."""
    if isinstance(problem, SudokuProblem):
        return problem.puzzle
    cells = "".join(problem.split()) if isinstance(problem, str) else problem
    return parse_grid(problem, geometry_of(cells))
