"""1D ARC: infer the rule that maps each example row to its output, and apply it to a test row.

Problems come from reasoning-gym's ``arc_1d`` generator (one item per seed drawn from the caller's
rng); the problem, prompt, solver and verifier are ours. The solver keeps the rules of ``rules.py``
that map every example to its output and applies them to the test input. ``generate`` keeps only
problems whose answer is determined (every consistent rule gives the same test output) and equals the
generator's label; the rest are drawn again (1.65% of 2,000 items, see docs/tasks.md).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from backtrack.tasks.arc_1d.rules import RULES, Grid, Rule
from backtrack.tasks.base import MAX_ANSWER_CHARS, TaskBase, Verdict, accept, extract_answer, reject

MAX_SIZE = 100  # longest row a problem may have (problems given on the command line)
# Longest row the generator is asked for: above 40 cells reasoning-gym's palette-recolouring family can
# need more than 9 distinct colours and then loops forever (it draws colours until it finds a new one).
MAX_GENERATED_SIZE = 40
MAX_TRAIN = 10
MAX_DRAWS = 100  # generator items tried before giving up on finding a determined problem


@dataclass(frozen=True, slots=True)
class Arc1DConfig:
    min_size: int = 10
    max_size: int = 30
    num_train: int = 3
    test_fraction: float = 0.1  # share of problems in the test split, by a hash of the content

    def __post_init__(self) -> None:
        for name, lo, hi in (
            ("min_size", 8, MAX_GENERATED_SIZE),
            ("max_size", 8, MAX_GENERATED_SIZE),
            ("num_train", 1, MAX_TRAIN),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
        if self.min_size > self.max_size:
            raise ValueError(f"min_size ({self.min_size}) must be <= max_size ({self.max_size})")
        if not isinstance(self.test_fraction, int | float) or not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction!r}")


@dataclass(frozen=True, slots=True)
class Arc1DProblem:
    train: tuple[tuple[Grid, Grid], ...]  # (input, output) examples
    test_input: Grid
    test_output: Grid  # the answer
    family: str = ""  # the generator's task family, for statistics only (not shown to the model)

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": [{"input": list(i), "output": list(o)} for i, o in self.train],
            "test_input": list(self.test_input),
            "test_output": list(self.test_output),
            "family": self.family,
        }


def format_grid(grid: Grid) -> str:
    return " ".join(map(str, grid))


def read_grid(text: str, size: int) -> Grid | str:
    """A row of ``size`` single ASCII digits separated by spaces or commas (brackets allowed), or why not."""
    if len(text) > 4 * size + 8:
        return f"the answer is {len(text)} characters, too long for a row of {size}"
    cells = text.strip().removeprefix("[").removesuffix("]").replace(",", " ").split()
    if len(cells) != size:
        return f"expected {size} cells, got {len(cells)}"
    for k, cell in enumerate(cells):
        if len(cell) != 1 or cell not in "0123456789":
            return f"cell {k + 1} is {cell[:10]!r}, not a digit 0-9"
    return tuple(int(c) for c in cells)


def _grid(value: Any, name: str) -> Grid:
    if (
        not isinstance(value, list | tuple)
        or not 1 <= len(value) <= MAX_SIZE
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 9 for v in value)
    ):
        raise ValueError(f"{name} must be a list of 1..{MAX_SIZE} colours 0-9")
    return tuple(value)


def consistent_rules(train: tuple[tuple[Grid, Grid], ...]) -> list[Rule]:
    return [rule for rule in RULES if all(rule.apply(i) == o for i, o in train)]


def infer_output(train: tuple[tuple[Grid, Grid], ...], test_input: Grid) -> Grid | None:
    """The test output every consistent rule agrees on, or None (no rule, or rules disagree)."""
    outputs = {rule.apply(test_input) for rule in consistent_rules(train)} - {None}
    return next(iter(outputs)) if len(outputs) == 1 else None


def make_problem(train: Any, test_input: Any, test_output: Any = None, family: str = "") -> Arc1DProblem:
    if not isinstance(train, list | tuple) or not 1 <= len(train) <= MAX_TRAIN:
        raise ValueError(f"train must be a list of 1..{MAX_TRAIN} examples")
    pairs = []
    for k, example in enumerate(train, 1):
        if not isinstance(example, dict):
            raise ValueError(f"example {k} must be {{'input': [...], 'output': [...]}}")
        pairs.append(
            (
                _grid(example.get("input"), f"example {k} input"),
                _grid(example.get("output"), f"example {k} output"),
            )
        )
    grid_in = _grid(test_input, "test_input")
    if test_output is None:
        solved = infer_output(tuple(pairs), grid_in)
        if solved is None:
            raise ValueError(
                "no single rule of the library explains the examples and decides the test output"
            )
        test_output = solved
    grid_out = _grid(test_output, "test_output")
    if len(grid_out) != len(grid_in):
        raise ValueError("test_output must have as many cells as test_input")
    return Arc1DProblem(tuple(pairs), grid_in, grid_out, str(family))


@dataclass
class Arc1D(TaskBase):
    """The 1D ARC task: reasoning-gym generator, our rule-inference solver, prompt and verifier."""

    name: ClassVar[str] = "arc_1d"
    config_class: ClassVar[type] = Arc1DConfig
    config: Arc1DConfig = field(default_factory=Arc1DConfig)

    # ---- problems -----------------------------------------------------------------------------
    def draw(self, seed: int) -> tuple[Arc1DProblem, bool]:
        """The generator's item for ``seed`` as a problem, and whether our solver agrees with its label."""
        import reasoning_gym  # imported here: it loads many generators

        c = self.config
        item = reasoning_gym.create_dataset(
            "arc_1d", size=1, seed=seed, min_size=c.min_size, max_size=c.max_size, num_train=c.num_train
        )[0]
        meta = item["metadata"]
        problem = make_problem(
            meta["train_examples"],
            meta["test_example"]["input"],
            meta["test_example"]["output"],
            meta["task_name"],
        )
        return problem, infer_output(problem.train, problem.test_input) == problem.test_output

    def generate(self, rng: random.Random) -> Arc1DProblem:
        for _ in range(MAX_DRAWS):
            problem, agrees = self.draw(rng.randrange(2**31))
            if agrees:
                return problem
        raise RuntimeError(f"no determined arc_1d problem in {MAX_DRAWS} draws")

    def problem_from_dict(self, row: dict[str, Any]) -> Arc1DProblem:
        return make_problem(row["train"], row["test_input"], row.get("test_output"), row.get("family", ""))

    def parse_problem(self, text: str) -> Arc1DProblem:
        """JSON: ``{"train": [{"input": [0, 3, 0], "output": [0, 0, 3]}, ...], "test_input": [3, 0, 0]}``.

        ``test_output`` may be given; without it the solver must find a single answer.
        """
        form = (
            'expected JSON like {"train": [{"input": [0, 3, 0, 0], "output": [0, 0, 3, 0]}], '
            '"test_input": [3, 0, 0, 0]} (optional "test_output")'
        )
        if len(text) > 100_000:
            raise ValueError(f"problem text too long; {form}")
        try:
            row = json.loads(text)
            return make_problem(row["train"], row["test_input"], row.get("test_output"))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise ValueError(f"cannot read the problem ({exc}); {form}") from None
        except ValueError as exc:
            raise ValueError(f"{exc}; {form}") from None

    def content_key(self, problem: Arc1DProblem) -> str:
        examples = ";".join(f"{format_grid(i)}>{format_grid(o)}" for i, o in problem.train)
        return f"{examples}|{format_grid(problem.test_input)}"

    # ---- solving ------------------------------------------------------------------------------
    def solve(self, problem: Arc1DProblem) -> Grid | None:
        """The test output inferred from the examples (not read from the problem), or None."""
        return infer_output(problem.train, problem.test_input)

    def reference_answer(self, problem: Arc1DProblem, trace: Any = None) -> str:
        return format_grid(problem.test_output)

    # ---- text ---------------------------------------------------------------------------------
    def prompt(self, problem: Arc1DProblem) -> str:
        parts = ["Find the rule that maps each input row to its output row in the examples.", ""]
        for k, (grid_in, grid_out) in enumerate(problem.train, 1):
            parts += [
                f"Example {k}:",
                f"Input:  {format_grid(grid_in)}",
                f"Output: {format_grid(grid_out)}",
                "",
            ]
        parts += [
            f"Test input: {format_grid(problem.test_input)}",
            "Apply the rule to the test input. Give the output row inside <answer></answer>, "
            "as digits separated by spaces.",
        ]
        return "\n".join(parts)

    def output_kind(self, text: str = "") -> str:
        return "grid"  # the kind of every verdict: the only answer form is an output row

    def vocabulary(self) -> list[str] | None:
        return None

    # ---- verifying ----------------------------------------------------------------------------
    def _claimed(self, problem: Arc1DProblem, text: Any) -> Grid | str:
        if not isinstance(text, str):
            return f"answer must be text, got {type(text).__name__}"
        if len(text) > MAX_ANSWER_CHARS:
            return f"answer is {len(text)} characters, over the {MAX_ANSWER_CHARS} limit"
        return read_grid(extract_answer(text), len(problem.test_input))

    def verify(self, problem: Arc1DProblem, text: str) -> Verdict:
        claimed = self._claimed(problem, text)
        if isinstance(claimed, str):
            return reject(claimed, "grid")
        if claimed != problem.test_output:
            wrong = [
                k + 1 for k, (a, b) in enumerate(zip(claimed, problem.test_output, strict=True)) if a != b
            ]
            return reject(
                f"{len(wrong)} cell(s) differ from the answer, the first at position {wrong[0]}", "grid"
            )
        return accept("the output row is correct", "grid")

    def answer_key(self, problem: Arc1DProblem, text: str) -> str | None:
        claimed = self._claimed(problem, text)
        return None if isinstance(claimed, str) else format_grid(claimed)

    def well_formed(self, problem: Arc1DProblem, text: str) -> bool:
        """An ``<answer>`` block holding a row of digits (of any length: the format reward gives a
        well-formed wrong row, such as another problem's answer, its small share)."""
        if not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS or "<answer>" not in text:
            return False
        final = extract_answer(text)
        cells = final.strip().removeprefix("[").removesuffix("]").replace(",", " ").split()
        return (
            len(final) <= 4 * MAX_SIZE + 8
            and 1 <= len(cells) <= MAX_SIZE
            and all(len(c) == 1 and c in "0123456789" for c in cells)
        )

    def formats(self) -> dict[str, Any]:
        from backtrack.tasks.arc_1d.formats import FORMATS

        return dict(FORMATS)
