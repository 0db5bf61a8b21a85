"""list_functions: infer a rule from input/output list examples and apply it to a new input.

Problems come from reasoning-gym's ``list_functions`` generator (one item drawn per seed), read into
our own ``ListFunctionsProblem``; our rule family (``rules.py``) decides the answer, and an item is
kept only when that answer is determined by the examples and equals reasoning-gym's label (the
others are redrawn; docs/tasks.md gives the counts). The verifier compares the claimed list with
that answer exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from backtrack.tasks.base import Verdict, accept, reject
from backtrack.tasks.final_answer import KIND, FinalAnswerTask, Rejection, check_config, load_small_json
from backtrack.tasks.list_functions.intlists import format_int_list, parse_int_list
from backtrack.tasks.list_functions.rules import IntList, determined_output
from backtrack.traces.base import Trace

MAX_EXAMPLES = 10
MAX_LIST_LEN = 64
MAX_ABS_VALUE = 10**12
PROBLEM_FORM = '{"examples": [{"input": [3, 1, 2], "output": [1, 2, 3]}, ...], "query": [5, 4]}'


@dataclass(frozen=True, slots=True)
class ListFunctionsProblem:
    """Examples (input list, output list) of one hidden rule, and the input to apply it to."""

    examples: tuple[tuple[IntList, IntList], ...]
    query: IntList

    def to_dict(self) -> dict[str, Any]:
        return {
            "examples": [{"input": list(i), "output": list(o)} for i, o in self.examples],
            "query": list(self.query),
        }


@dataclass(frozen=True, slots=True)
class ListFunctionsConfig:
    """How many reasoning-gym items to draw before giving up on one problem, and the test share."""

    max_tries: int = 100
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_config(self)


def reasoning_gym_item(seed: int) -> dict[str, Any]:
    """Item 0 of reasoning-gym's list_functions with ``seed``, made reproducible.

    Its ``generate_14`` draws odd numbers from the global ``random`` module, so the same seed gives
    different items in different runs; the global generator is seeded for the call and restored.
    """
    import reasoning_gym

    state = random.getstate()
    random.seed(seed)
    try:
        return reasoning_gym.create_dataset("list_functions", size=1, seed=seed)[0]
    finally:
        random.setstate(state)


def _list_after(line: str, prefix: str) -> IntList:
    parsed = parse_int_list(line[len(prefix) :], brackets_optional=False)
    if isinstance(parsed, str):
        raise ValueError(f"unreadable list in {line[:60]!r}: {parsed}")
    return parsed


def problem_from_question(question: str) -> ListFunctionsProblem:
    """Read a reasoning-gym question: ``Input k: [...]``/``Output k: [...]`` lines, then ``Input: [...]``."""
    inputs: dict[str, IntList] = {}
    outputs: dict[str, IntList] = {}
    query: IntList | None = None
    for raw in question.splitlines():
        line = raw.strip()
        head, sep, _ = line.partition(":")
        if not sep:
            continue
        word, _, number = head.partition(" ")
        if word == "Input" and number.isdigit():
            inputs[number] = _list_after(line, head + ":")
        elif word == "Output" and number.isdigit():
            outputs[number] = _list_after(line, head + ":")
        elif head == "Input":
            query = _list_after(line, "Input:")
    if query is None or not inputs or inputs.keys() != outputs.keys():
        raise ValueError("not a list_functions question: need 'Input k:'/'Output k:' pairs and 'Input:'")
    examples = tuple((inputs[k], outputs[k]) for k in sorted(inputs, key=int))
    return ListFunctionsProblem(examples, query)


def _int_list(value: Any, what: str) -> IntList:
    if not isinstance(value, list | tuple) or len(value) > MAX_LIST_LEN:
        raise ValueError(f"{what} must be a list of at most {MAX_LIST_LEN} integers")
    for v in value:
        if not isinstance(v, int) or isinstance(v, bool) or abs(v) > MAX_ABS_VALUE:
            raise ValueError(f"{what} must hold integers of magnitude at most {MAX_ABS_VALUE}, got {v!r}")
    return tuple(value)


@dataclass
class ListFunctions(FinalAnswerTask[IntList]):
    """The list_functions task: reasoning-gym items, our rule-family solver, an exact verifier."""

    name: ClassVar[str] = "list_functions"
    config_class: ClassVar[type] = ListFunctionsConfig
    config: ListFunctionsConfig = field(default_factory=ListFunctionsConfig)

    # ---- problems -------------------------------------------------------------------------
    def generate(self, rng: random.Random) -> ListFunctionsProblem:
        """A reasoning-gym item (its seed drawn from ``rng``) whose answer our rule family determines
        and which agrees with reasoning-gym's label; other items are redrawn."""
        for _ in range(self.config.max_tries):
            item = reasoning_gym_item(rng.randrange(2**31))
            problem = problem_from_question(item["question"])
            label = parse_int_list(item["answer"], brackets_optional=False)
            output = self.solve(problem)
            if output is not None and output == label:
                return problem
        raise RuntimeError(f"no determined list_functions item in {self.config.max_tries} draws")

    def problem_from_dict(self, row: dict[str, Any]) -> ListFunctionsProblem:
        """The inverse of ``to_dict`` (other keys of a dataset row are ignored)."""
        examples = row.get("examples")
        if not isinstance(examples, list | tuple) or not 1 <= len(examples) <= MAX_EXAMPLES:
            raise ValueError(f"examples must be a list of 1..{MAX_EXAMPLES} input/output pairs")
        pairs = []
        for k, example in enumerate(examples, 1):
            if not isinstance(example, dict) or set(example) != {"input", "output"}:
                raise ValueError(f'example {k} must be {{"input": [...], "output": [...]}}')
            inp = _int_list(example["input"], f"example {k} input")
            pairs.append((inp, _int_list(example["output"], f"example {k} output")))
        return ListFunctionsProblem(tuple(pairs), _int_list(row.get("query"), "query"))

    def parse_problem(self, text: str) -> ListFunctionsProblem:
        """The CLI notation: the problem's JSON, ``{"examples": [{"input": [...], "output": [...]}, ...],
        "query": [...]}``."""
        data = load_small_json(text, max_chars=20_000, max_depth=4, form=PROBLEM_FORM)
        if not isinstance(data, dict):
            raise ValueError(f"the problem must be a JSON object like {PROBLEM_FORM}")
        try:
            return self.problem_from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{exc}; write the problem like {PROBLEM_FORM}") from None

    def content_key(self, problem: ListFunctionsProblem) -> str:
        """The examples as a set (their order does not change the puzzle) and the query."""
        pairs = sorted(f"{format_int_list(i)}>{format_int_list(o)}" for i, o in problem.examples)
        return f"{';'.join(pairs)}|{format_int_list(problem.query)}"

    # ---- solving --------------------------------------------------------------------------
    def solve(self, problem: ListFunctionsProblem) -> IntList | None:
        """The query's output when the examples determine it within our rule family, else None."""
        return determined_output(problem.examples, problem.query)[0]

    def reference_answer(self, problem: ListFunctionsProblem, trace: Trace | None = None) -> str:
        """The output list, or "" when the examples do not determine it."""
        output = self.solve(problem)
        return "" if output is None else format_int_list(output)

    # ---- text -----------------------------------------------------------------------------
    def prompt(self, problem: ListFunctionsProblem) -> str:
        lines = ["Each input list below is turned into its output list by the same rule.", ""]
        for k, (inp, out) in enumerate(problem.examples, 1):
            lines += [f"Input {k}: {format_int_list(inp)}", f"Output {k}: {format_int_list(out)}"]
        lines += [
            "",
            f"Apply the rule to this input: {format_int_list(problem.query)}",
            "Think briefly, then give the output list in <answer> </answer>, "
            "for example <answer>[1, 2, 3]</answer>.",
        ]
        return "\n".join(lines)

    def think(self, problem: ListFunctionsProblem) -> str:
        output, rules = determined_output(problem.examples, problem.query)
        if output is None:
            raise ValueError("the examples do not determine the output of this problem")
        rule = next((r for r in rules if r.generator is not None), rules[0])
        return (
            f"The examples fit one rule: {rule.description}. "
            f"For {format_int_list(problem.query)} that gives {format_int_list(output)}."
        )

    # ---- answers --------------------------------------------------------------------------
    def read_answer(self, problem: ListFunctionsProblem, answer: str) -> IntList | Rejection:
        parsed = parse_int_list(answer)
        return Rejection(parsed) if isinstance(parsed, str) else parsed

    def format_value(self, value: IntList) -> str:
        return format_int_list(value)

    def check(self, problem: ListFunctionsProblem, claimed: IntList) -> Verdict:
        expected = self.solve(problem)
        if expected is None:
            return reject("the examples do not determine the output, so no answer is correct", KIND)
        if len(claimed) != len(expected):
            return reject(f"the list has {len(claimed)} items; the output has {len(expected)}", KIND)
        for k, (got, want) in enumerate(zip(claimed, expected, strict=True), 1):
            if got != want:
                return reject(f"item {k} is {got}, but the rule gives {want}", KIND)
        return accept(f"{format_int_list(claimed)[:80]} is the output", KIND)
