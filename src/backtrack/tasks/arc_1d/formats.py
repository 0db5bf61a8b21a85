"""1D ARC trace formats: ``backtrack-k`` (k wrong rules tried and refuted on an example) and ``direct``.

    <think>
    Step 1: Hypothesis: every coloured cell moves 2 cells right.
    Step 2: Example 1 gives 0 0 0 6 6 0, which matches its output.
    Step 3: Example 2 gives 0 0 0 0 3 3, but its output is 0 3 3 0 0 0.
    Wait, this doesn't lead to the correct solution. Let me go back to the start.
    Step 1: Hypothesis: every coloured cell moves 1 cell left.
    Step 2: Example 1 gives ..., which matches its output.
    ...
    Step 5: The test input gives 0 1 1 1 0 0.
    </think>
    <answer>0 1 1 1 0 0</answer>

A wrong branch is a rule of ``rules.py`` that does not explain the examples, checked example by
example until one refutes it (the examples before may match; such rules are chosen first). The k
rules are distinct. ``direct``
is the same trace with no wrong branch. The parser applies each named rule itself, so every claimed
grid, match and mismatch is checked, and the answer goes through the task's verifier.
"""

from __future__ import annotations

import random
import re

from backtrack.tasks.arc_1d.rules import RULE_BY_NAME, RULES, Rule
from backtrack.tasks.arc_1d.task import Arc1D, Arc1DProblem, consistent_rules, format_grid, read_grid
from backtrack.tasks.base import MAX_ANSWER_CHARS
from backtrack.traces.base import ParsedTrace, Trace, wrong_branch_formats

MAX_LINES = 2_000
MAX_LINE_CHARS = 1_000
MAX_ERRORS = 20
RETURN = "Wait, this doesn't lead to the correct solution. Let me go back to the start."
_STEP = re.compile(r"Step ([0-9]{1,4}): (.*)")
_MATCH = re.compile(r"Example ([0-9]{1,2}) gives ([0-9 ]*), which matches its output\.")
_MISMATCH = re.compile(r"Example ([0-9]{1,2}) gives ([0-9 ]*), but its output is ([0-9 ]*)\.")
_TEST = re.compile(r"The test input gives ([0-9 ]*)\.")


def refutation(problem: Arc1DProblem, rule: Rule) -> int | None:
    """The index of the first example whose output ``rule`` gets wrong, when every example up to it
    gives some output (so the branch can show the grids); None otherwise."""
    for k, (grid_in, grid_out) in enumerate(problem.train):
        got = rule.apply(grid_in)
        if got is None:
            return None
        if got != grid_out:
            return k
    return None


def wrong_rules(problem: Arc1DProblem) -> list[Rule]:
    return [rule for rule in RULES if refutation(problem, rule) is not None]


def _branch(problem: Arc1DProblem, rule: Rule, last: int) -> list[str]:
    """The hypothesis and its example checks up to example ``last`` (0-based), step numbers from 1."""
    lines = [f"Step 1: Hypothesis: {rule.name}."]
    for k, (grid_in, grid_out) in enumerate(problem.train[: last + 1]):
        got = rule.apply(grid_in)
        assert got is not None
        if got == grid_out:
            lines.append(f"Step {k + 2}: Example {k + 1} gives {format_grid(got)}, which matches its output.")
        else:
            lines.append(
                f"Step {k + 2}: Example {k + 1} gives {format_grid(got)}, "
                f"but its output is {format_grid(grid_out)}."
            )
    return lines


def render_trace(problem: Arc1DProblem, k: int, rng: random.Random | None) -> Trace:
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    rng = rng or random.Random(0)
    # A rule that explains the examples may not apply to the test input (a move with no room left
    # where the wrapping move has): use the first one that gives the answer.
    correct = [
        r for r in consistent_rules(problem.train) if r.apply(problem.test_input) == problem.test_output
    ]
    if not correct:
        raise ValueError("no rule of the library explains the examples and gives the answer")
    answer = problem.test_output
    wrong = wrong_rules(problem)
    if len(wrong) < k:
        raise ValueError(f"the problem has only {len(wrong)} refutable wrong rules, fewer than k={k}")
    # Rules that match some examples before one refutes them are the most plausible wrong guesses
    # (about 4% of wrong rules): use those first, in random order, then the others.
    late = [rule for rule in wrong if refutation(problem, rule)]
    early = [rule for rule in wrong if not refutation(problem, rule)]
    rng.shuffle(late)
    rng.shuffle(early)
    lines = ["<think>"]
    steps = 0
    for rule in (late + early)[:k]:
        branch = _branch(problem, rule, refutation(problem, rule) or 0)
        lines += [*branch, RETURN]
        steps += len(branch)
    branch = _branch(problem, correct[0], len(problem.train) - 1)
    branch.append(f"Step {len(branch) + 1}: The test input gives {format_grid(answer)}.")
    steps += len(branch)
    lines += [*branch, "</think>", f"<answer>{format_grid(answer)}</answer>"]
    return Trace("\n".join(lines) + "\n", True, k, k, steps, format_grid(answer))


class _Replay:
    """The state of a parse: the rule on trial and what has been checked of it."""

    def __init__(self, problem: Arc1DProblem) -> None:
        self.problem = problem
        self.errors: list[str] = []
        self.rule: Rule | None = None
        self.checked = 0  # examples checked for the current rule
        self.refuted = False
        self.tried: set[str] = set()
        self.next_step = 1
        self.applied = False  # a rule that matched every example was applied to the test input

    def grid(self, n: int, text: str, size: int) -> tuple[int, ...] | None:
        grid = read_grid(text, size)
        if isinstance(grid, str):
            self.errors.append(f"line {n}: {grid}")
            return None
        return grid

    def hypothesis(self, n: int, name: str) -> None:
        rule = RULE_BY_NAME.get(name)
        if rule is None:
            self.errors.append(f"line {n}: unknown rule {name[:60]!r}")
        elif name in self.tried:
            self.errors.append(f"line {n}: the rule {name!r} was already tried")
        if name:
            self.tried.add(name)
        self.rule, self.checked, self.refuted = rule, 0, False

    def example(self, n: int, index: str, got_text: str, expected_text: str | None) -> None:
        k = int(index) - 1
        if self.rule is None or self.refuted:
            self.errors.append(f"line {n}: an example check without a live hypothesis")
            return
        if k != self.checked or k >= len(self.problem.train):
            self.errors.append(f"line {n}: expected a check of example {self.checked + 1}")
            return
        grid_in, grid_out = self.problem.train[k]
        got = self.grid(n, got_text, len(grid_out))
        true = self.rule.apply(grid_in)
        if got is not None and got != true:
            self.errors.append(f"line {n}: the rule does not give that on example {k + 1}")
        if expected_text is None:
            if true != grid_out:
                self.errors.append(f"line {n}: example {k + 1} does not match")
        else:
            if self.grid(n, expected_text, len(grid_out)) != grid_out:
                self.errors.append(f"line {n}: that is not the output of example {k + 1}")
            if true == grid_out:
                self.errors.append(f"line {n}: example {k + 1} matches")
            self.refuted = True
        self.checked += 1

    def test(self, n: int, text: str) -> None:
        if self.rule is None or self.refuted or self.checked != len(self.problem.train) or self.applied:
            # Applying twice is an error too, so every costly line either advances or counts to MAX_ERRORS.
            self.errors.append(f"line {n}: the test input before a rule matched every example, or twice")
            return
        got = self.grid(n, text, len(self.problem.test_input))
        if got is not None and got != self.rule.apply(self.problem.test_input):
            self.errors.append(f"line {n}: the rule does not give that on the test input")
        self.applied = True


def parse_trace(problem: Arc1DProblem, text: str) -> ParsedTrace:
    """Replay hypotheses and checks; never raises on bad text."""
    if not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS:
        return ParsedTrace(False, False, 0, 0, 0, None, ["text missing or over the length limit"])
    state = _Replay(problem)
    backtracks = steps = 0
    for n, raw in enumerate(text.split("\n", MAX_LINES)[:MAX_LINES], 1):
        if len(state.errors) >= MAX_ERRORS:
            break
        line = raw.strip()[:MAX_LINE_CHARS]
        if line.startswith("Wait"):
            backtracks += 1
            if not state.refuted:
                state.errors.append(f"line {n}: going back without a refuted hypothesis")
            state.rule, state.refuted, state.next_step = None, False, 1
            continue
        match = _STEP.fullmatch(line)
        if match is None:
            continue
        steps += 1
        if int(match.group(1)) != state.next_step:
            state.errors.append(f"line {n}: step {match.group(1)} should be step {state.next_step}")
        state.next_step += 1
        body = match.group(2)
        if body.startswith("Hypothesis: "):
            state.hypothesis(n, body.removeprefix("Hypothesis: ").removesuffix("."))
        elif m := _MATCH.fullmatch(body):
            state.example(n, m.group(1), m.group(2), None)
        elif m := _MISMATCH.fullmatch(body):
            state.example(n, m.group(1), m.group(2), m.group(3))
        elif m := _TEST.fullmatch(body):
            state.test(n, m.group(1))
        else:
            state.errors.append(f"line {n}: unreadable step")
    if "<answer>" not in text:
        return ParsedTrace(
            False, False, backtracks, backtracks, steps, None, ["no <answer> given", *state.errors]
        )
    task = Arc1D()
    verdict = task.verify(problem, text)
    errors = state.errors
    if not verdict.ok:
        errors.insert(0, f"answer: {verdict.reason}")
    if not state.applied:
        errors.append("no rule that matches every example was applied to the test input")
    return ParsedTrace(
        True, verdict.ok and not errors, backtracks, backtracks, steps, task.answer_key(problem, text), errors
    )


FORMATS = wrong_branch_formats(render_trace, parse_trace)
