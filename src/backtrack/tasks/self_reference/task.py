"""self_reference: count the truth assignments that make seven self-referential statements consistent.

The statements are reasoning-gym's ``self_reference`` family, with four numbers per problem:

  1. At least a of these 7 statements are true.       5. Either Statement 3 or Statement 4 is true,
  2. At most b of these 7 statements are false.           but not both.
  3. Exactly c of these 7 statements are true.         6. The number of true statements is prime.
  4. Exactly d of these 7 statements are false.        7. The number of false statements is composite.

An assignment of true/false to the statements is a solution when each statement is true exactly when
its claim holds under that assignment. The solver checks all 2^7 assignments; the answer is how many
are solutions (0 is a possible answer). Problems come from reasoning-gym items (one drawn per seed),
read from the question text into our own ``SelfReferenceProblem``; an item whose label disagrees with
our count is redrawn (docs/tasks.md gives the counts).
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field
from itertools import product
from typing import Any, ClassVar

from backtrack.tasks.base import Verdict, accept, reject
from backtrack.tasks.final_answer import (
    KIND,
    FinalAnswerTask,
    Rejection,
    check_config,
    load_small_json,
    parse_small_int,
)
from backtrack.traces.base import Trace

N_STATEMENTS = 7
FIELDS = ("at_least_true", "at_most_false", "exactly_true", "exactly_false")
PROBLEM_FORM = '{"at_least_true": 4, "at_most_false": 0, "exactly_true": 5, "exactly_false": 2}'

Assignment = tuple[bool, ...]


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % k for k in range(2, int(n**0.5) + 1))


def is_composite(n: int) -> bool:
    return n >= 4 and not is_prime(n)


@dataclass(frozen=True, slots=True)
class SelfReferenceProblem:
    """The numbers a, b, c, d of statements 1-4 (statements 5-7 are the same in every problem)."""

    at_least_true: int
    at_most_false: int
    exactly_true: int
    exactly_false: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def statements(self) -> tuple[str, ...]:
        n = N_STATEMENTS
        return (
            f"At least {self.at_least_true} of these {n} statements are true.",
            f"At most {self.at_most_false} of these {n} statements are false.",
            f"Exactly {self.exactly_true} of these {n} statements are true.",
            f"Exactly {self.exactly_false} of these {n} statements are false.",
            "Either Statement 3 or Statement 4 is true, but not both.",
            "The number of true statements is a prime number.",
            "The number of false statements is a composite number.",
        )

    def claims(self, assignment: Assignment) -> Assignment:
        """What each statement's claim evaluates to when the statements have these truth values."""
        t = sum(assignment)
        f = N_STATEMENTS - t
        return (
            t >= self.at_least_true,
            f <= self.at_most_false,
            t == self.exactly_true,
            f == self.exactly_false,
            assignment[2] != assignment[3],
            is_prime(t),
            is_composite(f),
        )


def consistent_assignments(problem: SelfReferenceProblem) -> tuple[Assignment, ...]:
    """Every assignment (of all 2^7) under which each statement is true exactly when its claim holds."""
    return tuple(a for a in product((False, True), repeat=N_STATEMENTS) if problem.claims(a) == a)


_QUESTION_PATTERNS = (
    re.compile(r"At least (\d{1,2}) of these 7 statements are true\."),
    re.compile(r"At most (\d{1,2}) of these 7 statements are false\."),
    re.compile(r"Exactly (\d{1,2}) of these 7 statements are true\."),
    re.compile(r"Exactly (\d{1,2}) of these 7 statements are false\."),
)


def problem_from_question(question: str) -> SelfReferenceProblem:
    """Read a reasoning-gym question: its ``Statement k: '...'`` lines for k = 1..4 carry the numbers."""
    statements: dict[int, str] = {}
    for line in question.splitlines():
        head, sep, rest = line.strip().lstrip("- ").partition(": ")
        word, _, number = head.partition(" ")
        if sep and word == "Statement" and number.isdigit():
            statements[int(number)] = rest.strip().strip("'")
    values = []
    for k, pattern in enumerate(_QUESTION_PATTERNS, 1):
        match = pattern.fullmatch(statements.get(k, ""))
        if match is None:
            raise ValueError(f"not a self_reference question: statement {k} is {statements.get(k)!r}")
        values.append(int(match.group(1)))
    return SelfReferenceProblem(*values)


def reasoning_gym_item(seed: int) -> dict[str, Any]:
    """Item 0 of reasoning-gym's self_reference with ``seed`` (its difficulty option changes nothing)."""
    import reasoning_gym

    return reasoning_gym.create_dataset("self_reference", size=1, seed=seed)[0]


@dataclass(frozen=True, slots=True)
class SelfReferenceConfig:
    """How many reasoning-gym items to draw before giving up on one problem, and the test share.

    The family has about 1,100 distinct problems (docs/tasks.md), so datasets repeat problems
    unless they are deduplicated by ``content_key``.
    """

    max_tries: int = 100
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_config(self)


@dataclass
class SelfReference(FinalAnswerTask[int]):
    """The self_reference task: reasoning-gym items, an exhaustive solver, an exact verifier."""

    name: ClassVar[str] = "self_reference"
    config_class: ClassVar[type] = SelfReferenceConfig
    config: SelfReferenceConfig = field(default_factory=SelfReferenceConfig)

    # ---- problems -------------------------------------------------------------------------
    def generate(self, rng: random.Random) -> SelfReferenceProblem:
        """A reasoning-gym item (its seed drawn from ``rng``) whose label equals our count."""
        for _ in range(self.config.max_tries):
            item = reasoning_gym_item(rng.randrange(2**31))
            problem = problem_from_question(item["question"])
            if item["answer"].strip() == str(len(consistent_assignments(problem))):
                return problem
        raise RuntimeError(f"no self_reference item agreed with our solver in {self.config.max_tries} draws")

    def problem_from_dict(self, row: dict[str, Any]) -> SelfReferenceProblem:
        """The inverse of ``to_dict`` (other keys of a dataset row are ignored)."""
        values = []
        for name in FIELDS:
            value = row.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= N_STATEMENTS:
                raise ValueError(f"{name} must be an integer in 0..{N_STATEMENTS}, got {value!r}")
            values.append(value)
        return SelfReferenceProblem(*values)

    def parse_problem(self, text: str) -> SelfReferenceProblem:
        """The CLI notation: the problem's JSON, the numbers of statements 1-4, like ``PROBLEM_FORM``."""
        data = load_small_json(text, max_chars=1_000, max_depth=1, form=PROBLEM_FORM)
        if not isinstance(data, dict) or set(data) != set(FIELDS):
            raise ValueError(
                f"the problem must be a JSON object with keys {', '.join(FIELDS)}, like {PROBLEM_FORM}"
            )
        try:
            return self.problem_from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{exc}; write the problem like {PROBLEM_FORM}") from None

    def content_key(self, problem: SelfReferenceProblem) -> str:
        return ",".join(str(getattr(problem, name)) for name in FIELDS)

    # ---- solving --------------------------------------------------------------------------
    def solve(self, problem: SelfReferenceProblem) -> tuple[Assignment, ...]:
        """Every consistent assignment (the answer is how many there are)."""
        return consistent_assignments(problem)

    def reference_answer(self, problem: SelfReferenceProblem, trace: Trace | None = None) -> str:
        return str(len(self.solve(problem)))

    # ---- text -----------------------------------------------------------------------------
    def prompt(self, problem: SelfReferenceProblem) -> str:
        lines = [f"Here are {N_STATEMENTS} statements about themselves:"]
        lines += [f"Statement {k}: '{s}'" for k, s in enumerate(problem.statements(), 1)]
        lines += [
            "",
            "A solution assigns true or false to every statement so that each statement is true exactly "
            "when what it says holds. How many solutions are there?",
            "Think briefly, then give the number in <answer> </answer>.",
        ]
        return "\n".join(lines)

    def think(self, problem: SelfReferenceProblem) -> str:
        solutions = self.solve(problem)
        if not solutions:
            return f"No assignment of the {2**N_STATEMENTS} is consistent."
        described = "; ".join(
            "{" + ", ".join(str(k) for k, v in enumerate(a, 1) if v) + "}" for a in solutions
        )
        return f"The consistent assignments, by their true statements: {described}. That is {len(solutions)}."

    # ---- answers --------------------------------------------------------------------------
    def read_answer(self, problem: SelfReferenceProblem, answer: str) -> int | Rejection:
        value = parse_small_int(answer.rstrip("."), 3)
        if value is None:
            return Rejection(f"the answer is not a whole number of at most 3 digits: {answer[:20]!r}")
        return value

    def format_value(self, value: int) -> str:
        return str(value)

    def check(self, problem: SelfReferenceProblem, claimed: int) -> Verdict:
        count = len(self.solve(problem))
        if claimed != count:
            return reject(f"the answer {claimed} is not the number of consistent assignments", KIND)
        return accept(f"{count} consistent assignments", KIND)
