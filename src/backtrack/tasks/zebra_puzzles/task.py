"""zebra_puzzles: a logic grid puzzle; name the person who lives in a given house.

Problems come from reasoning-gym's zebra generator (one puzzle drawn per seed; its ``generate_puzzle``
is what its dataset calls, and it hands back the clues as objects, so no text is parsed). They are
rebuilt as our own ``ZebraProblem``; our constraint solver (``solver.py``) must find exactly one
solution and agree with reasoning-gym's answer, else the puzzle is redrawn (docs/tasks.md gives the
counts). The verifier compares the claimed name with the solved one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from backtrack.tasks.base import Verdict, accept, reject
from backtrack.tasks.final_answer import KIND, FinalAnswerTask, Rejection, check_config, load_small_json
from backtrack.tasks.zebra_puzzles.problem import (
    BINARY_KINDS,
    MAX_ATTRIBUTES,
    MAX_HOUSES,
    NAME,
    SYMMETRIC_KINDS,
    UNARY_KINDS,
    Attribute,
    Clue,
    ZebraProblem,
    problem_from_dict,
)
from backtrack.tasks.zebra_puzzles.solver import Placement, SearchBudgetExceeded, unique_solution
from backtrack.traces.base import Trace

MAX_NAME_CHARS = 64
PROBLEM_FORM = (
    '{"n_houses": 2, "attributes": [{"key": "Name", "intro": "Each person has a unique name", '
    '"values": ["bob", "alice"], "phrases": ["Bob", "Alice"]}, ...], '
    '"clues": [{"kind": "found_at", "first": ["Name", "bob"], "house": 1}, ...], "house": 1}'
)


@dataclass(frozen=True, slots=True)
class ZebraConfig:
    """reasoning-gym's puzzle size (its defaults), draws to try per problem, and the test share."""

    num_people: int = 4
    num_characteristics: int = 4
    max_tries: int = 20
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_config(self, num_people=(2, MAX_HOUSES), num_characteristics=(2, MAX_ATTRIBUTES))


def reasoning_gym_puzzle(seed: int, num_people: int, num_characteristics: int) -> tuple[Any, str]:
    """reasoning-gym's puzzle object and its answer for item 0 of its zebra dataset with ``seed``."""
    from reasoning_gym.logic.contrib.logic_puzzle.generate import generate_puzzle

    instance, puzzle = generate_puzzle(random.Random(seed), num_people, num_characteristics)
    return puzzle, instance["questions"][0]["answer"]


def problem_from_reasoning_gym(puzzle: Any, rng: random.Random) -> ZebraProblem:
    """Our problem from reasoning-gym's ``Puzzle``: its attributes (values listed in an order drawn
    from ``rng``, as reasoning-gym shuffles them) and its clues (in an order drawn from ``rng``)."""
    attributes: list[Attribute] = []
    refs: dict[Any, tuple[int, int]] = {}
    for a, cls in enumerate(puzzle.element_classes):
        literals = [lit for lit in puzzle.literals if isinstance(lit, cls)]
        rng.shuffle(literals)
        intro = cls.description().partition(":")[0].strip()
        attributes.append(
            Attribute(
                cls.__name__,
                intro,
                tuple(lit.name.replace("_", " ") for lit in literals),
                tuple(lit.value.strip() for lit in literals),
            )
        )
        refs.update({lit: (a, v) for v, lit in enumerate(literals)})
    clues = []
    for raw in sorted(puzzle.clues, key=str):
        kind = type(raw).__name__
        if kind in UNARY_KINDS:
            clues.append(Clue(kind, refs[raw.value], None, raw.house))
        elif kind in BINARY_KINDS:
            clues.append(Clue(kind, refs[raw.value1], refs[raw.value2]))
        else:
            raise ValueError(f"reasoning-gym clue kind {kind!r} is not one we solve")
    rng.shuffle(clues)
    return ZebraProblem(len(puzzle.houses), tuple(attributes), tuple(clues), 1)


def normalize_name(text: str) -> str:
    """Lower case, single spaces, without surrounding quotes, asterisks or a final period."""
    return " ".join(text.strip().strip("\"'*`.").split()).lower()


@dataclass
class ZebraPuzzles(FinalAnswerTask[str]):
    """The zebra_puzzles task: reasoning-gym puzzles, our constraint solver, an exact verifier."""

    name: ClassVar[str] = "zebra_puzzles"
    config_class: ClassVar[type] = ZebraConfig
    config: ZebraConfig = field(default_factory=ZebraConfig)

    # ---- problems -------------------------------------------------------------------------
    def generate(self, rng: random.Random) -> ZebraProblem:
        """A reasoning-gym puzzle (its seed drawn from ``rng``) that our solver finds uniquely solvable
        with reasoning-gym's answer; others are redrawn."""
        c = self.config
        for _ in range(c.max_tries):
            puzzle, label = reasoning_gym_puzzle(rng.randrange(2**31), c.num_people, c.num_characteristics)
            problem = problem_from_reasoning_gym(puzzle, rng)
            try:
                answer = self.solve_name(problem)
            except SearchBudgetExceeded:
                continue
            if answer is not None and answer == normalize_name(label):
                return problem
        raise RuntimeError(f"no zebra puzzle agreed with our solver in {c.max_tries} draws")

    def problem_from_dict(self, row: dict[str, Any]) -> ZebraProblem:
        """The inverse of ``to_dict`` (other keys of a dataset row are ignored)."""
        return problem_from_dict(row)

    def parse_problem(self, text: str) -> ZebraProblem:
        """The CLI notation: the problem's JSON (``ZebraProblem.to_dict``), like ``PROBLEM_FORM``."""
        data = load_small_json(text, max_chars=50_000, max_depth=4, form=PROBLEM_FORM)
        try:
            return problem_from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{exc}; write the problem like {PROBLEM_FORM}") from None

    def content_key(self, problem: ZebraProblem) -> str:
        """Houses, attributes with their value sets, the clue set, and the asked house: the order
        values and clues are listed in does not change the puzzle."""
        attributes = sorted(f"{a.key}={','.join(sorted(a.values))}" for a in problem.attributes)
        clues = []
        for clue in problem.clues:
            refs = [":".join(problem.ref_text(clue.first))]
            if clue.second is not None:
                refs.append(":".join(problem.ref_text(clue.second)))
                if clue.kind in SYMMETRIC_KINDS:
                    refs.sort()
            clues.append(f"{clue.kind}({','.join(refs)}{'' if clue.house is None else f'@{clue.house}'})")
        return f"{problem.n_houses}|{';'.join(attributes)}|{';'.join(sorted(clues))}|{problem.house}"

    # ---- solving --------------------------------------------------------------------------
    def solve(self, problem: ZebraProblem) -> Placement | None:
        """The house of every value (``placement[attribute][value]``, 0-based) when the clues allow
        exactly one solution, else None. Raises SearchBudgetExceeded past the solver's node budget."""
        return unique_solution(problem)

    def solve_name(self, problem: ZebraProblem) -> str | None:
        """The (lower-case) name of the person in the asked house, when the puzzle is uniquely solvable."""
        placement = self.solve(problem)
        if placement is None:
            return None
        a = problem.name_attribute()
        v = placement[a].index(problem.house - 1)
        return problem.attributes[a].values[v].lower()

    def reference_answer(self, problem: ZebraProblem, trace: Trace | None = None) -> str:
        """The asked person's name, or "" when the puzzle has no unique solution."""
        return self.solve_name(problem) or ""

    # ---- text -----------------------------------------------------------------------------
    def prompt(self, problem: ZebraProblem) -> str:
        n = problem.n_houses
        lines = [
            f"There are {n} houses in a row, numbered 1 on the left to {n} on the right. Each has a "
            "different person in it, and the people have different characteristics:"
        ]
        lines += [f" - {a.intro}: {', '.join(a.values)}" for a in problem.attributes]
        lines.append("")
        lines += [f"{k}. {problem.clue_text(clue)}" for k, clue in enumerate(problem.clues, 1)]
        lines += [
            "",
            f"What is the name of the person who lives in house {problem.house}? "
            "Think briefly, then give only the name in <answer> </answer>.",
        ]
        return "\n".join(lines)

    def think(self, problem: ZebraProblem) -> str:
        placement = self.solve(problem)
        if placement is None:
            raise ValueError("this zebra puzzle has no unique solution")
        rows = []
        for h in range(problem.n_houses):
            values = [a.values[placement[i].index(h)] for i, a in enumerate(problem.attributes)]
            rows.append(f"House {h + 1}: {', '.join(values)}.")
        return "The clues allow one arrangement. " + " ".join(rows)

    # ---- answers --------------------------------------------------------------------------
    def read_answer(self, problem: ZebraProblem, answer: str) -> str | Rejection:
        """The normalized name, or the reason the text is not one: a name is at most 64 characters of
        letters, spaces, hyphens and apostrophes (any name, so a wrong name is still well formed)."""
        if len(answer) > MAX_NAME_CHARS:
            return Rejection(f"the answer is {len(answer)} characters; a name has at most {MAX_NAME_CHARS}")
        name = normalize_name(answer)
        if not name:
            return Rejection("the answer is empty")
        if not all(ch.isalpha() or ch in " -'" for ch in name):
            return Rejection(f"a name has only letters, spaces, hyphens and apostrophes: {name[:40]!r}")
        return name

    def format_value(self, value: str) -> str:
        return value

    def check(self, problem: ZebraProblem, claimed: str) -> Verdict:
        expected = self.solve_name(problem)
        if expected is None:
            return reject("the puzzle has no unique solution, so no answer is correct", KIND)
        if claimed == expected:
            return accept(f"{expected} lives in house {problem.house}", KIND)
        names = [v.lower() for v in problem.attributes[problem.name_attribute()].values]
        if claimed in names:
            return reject(f"{claimed} does not live in house {problem.house}", KIND)
        return reject(f"{claimed[:40]!r} is not one of the names {', '.join(names)}", KIND)


__all__ = ["NAME", "ZebraConfig", "ZebraProblem", "ZebraPuzzles"]
