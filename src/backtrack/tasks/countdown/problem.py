"""CountDown's config (generator knobs and the number rule) and its problem type."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True, slots=True)
class CountdownConfig:
    """Knobs of the CountDown generator and rules (defaults: the paper's 4-number game)."""

    n_numbers: int = 4
    min_number: int = 1
    max_number: int = 99
    min_target: int = 10
    max_target: int = 100
    # True: every number exactly once (the paper). False: each number at most once.
    use_all: bool = True
    # How the test split is held out: "target" (the paper: a share of target values never seen in
    # training) or "problem" (a share of problems, by a stable hash of their content).
    split_by: str = "target"
    # Share of target values (split_by="target") or of problems (split_by="problem") held out.
    heldout_target_fraction: float = 0.1
    split_seed: int = 0
    max_tries: int = 10_000  # rejection-sampling attempts per problem before giving up

    def __post_init__(self) -> None:
        for name in (
            "n_numbers",
            "min_number",
            "max_number",
            "min_target",
            "max_target",
            "split_seed",
            "max_tries",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if not isinstance(self.use_all, bool):
            raise ValueError(f"use_all must be true or false, got {self.use_all!r}")
        if self.split_by not in ("target", "problem"):
            raise ValueError(f"split_by must be 'target' or 'problem', got {self.split_by!r}")
        if not isinstance(self.heldout_target_fraction, int | float) or isinstance(
            self.heldout_target_fraction, bool
        ):
            raise ValueError(
                f"heldout_target_fraction must be a number, got {self.heldout_target_fraction!r}"
            )
        if not 2 <= self.n_numbers <= 8:
            raise ValueError(f"n_numbers must be in 2..8, got {self.n_numbers}")
        if not 1 <= self.min_number <= self.max_number <= 10_000:
            raise ValueError(
                f"need 1 <= min_number <= max_number <= 10000, got {self.min_number}..{self.max_number}"
            )
        if not 1 <= self.min_target <= self.max_target <= 1_000_000:
            raise ValueError(
                f"need 1 <= min_target <= max_target <= 1000000, got {self.min_target}..{self.max_target}"
            )
        if not 0.0 <= self.heldout_target_fraction < 1.0:
            raise ValueError(f"heldout_target_fraction must be in [0, 1), got {self.heldout_target_fraction}")
        if self.max_tries < 1:
            raise ValueError("max_tries must be >= 1")


@lru_cache(maxsize=64)
def _heldout_targets(c: CountdownConfig) -> frozenset[int]:
    targets = list(range(c.min_target, c.max_target + 1))
    k = round(len(targets) * c.heldout_target_fraction)
    return frozenset(random.Random(f"heldout:{c.split_seed}").sample(targets, k))


@dataclass(frozen=True, slots=True)
class CountdownProblem:
    numbers: tuple[int, ...]
    target: int

    def to_dict(self) -> dict[str, Any]:
        return {"numbers": list(self.numbers), "target": self.target}
