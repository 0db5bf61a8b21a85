"""The CountDown task: combine the given numbers with + - * / to reach the target.

Generator, exhaustive solver, safe verifier, prompt, answer keys and trace formats, all bound to one
``CountdownConfig`` (see ``rules`` for the game itself).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations, combinations_with_replacement, permutations
from math import comb
from typing import Any, ClassVar

from backtrack.tasks.base import TaskBase, Verdict
from backtrack.tasks.countdown import keys, verify, wellformed
from backtrack.tasks.countdown.problem import CountdownConfig, CountdownProblem, _heldout_targets
from backtrack.tasks.countdown.rules import (
    Step,
    _keeps_goal,
    _steps_on,
    apply_step,
    combine,
    reaches,
    rule_text,
    steps_to_expression,
)
from backtrack.tasks.countdown.text import detect_kind
from backtrack.traces.base import Trace, TraceFormat

# Games with at most this many number multisets are decided exactly when random draws find nothing.
EXHAUSTIVE_MULTISETS = 20_000
PROBLEM_FORM = "'TARGET: N N N N', e.g. '72: 62 36 6 70'"


@dataclass
class Countdown(TaskBase):
    """The CountDown task: generator, exhaustive solver, safe verifier and prompt."""

    config: CountdownConfig = field(default_factory=CountdownConfig)
    name: ClassVar[str] = "countdown"
    config_class: ClassVar[type] = CountdownConfig

    # ---- problems -------------------------------------------------------------------------
    def problem(self, numbers: list[int] | tuple[int, ...], target: int) -> CountdownProblem:
        """A problem from user input, validated against the config's bounds."""
        numbers = tuple(int(n) for n in numbers)
        if not numbers:
            raise ValueError("a problem needs at least one number")
        if any(n < 1 for n in numbers) or int(target) < 1:
            raise ValueError("numbers and target must be positive integers")
        if len(numbers) > 8:
            raise ValueError("at most 8 numbers are supported")
        return CountdownProblem(numbers, int(target))

    def problem_from_dict(self, row: Mapping[str, Any]) -> CountdownProblem:
        return self.problem(row["numbers"], row["target"])

    def parse_problem(self, text: str) -> CountdownProblem:
        """``"72: 62 36 6 70"`` (commas between numbers are fine)."""
        head, colon, tail = text.partition(":")
        try:
            target = int(head)
            numbers = [int(x) for x in tail.replace(",", " ").split()]
        except ValueError:
            raise ValueError(f"expected {PROBLEM_FORM}, got {text!r}") from None
        if not colon or not numbers:
            raise ValueError(f"expected {PROBLEM_FORM}, got {text!r}")
        return self.problem(numbers, target)

    def content_key(self, problem: CountdownProblem) -> str:
        """Content key for de-duplication: the multiset of numbers and the target."""
        return f"{problem.target}:{','.join(map(str, sorted(problem.numbers)))}"

    def heldout_targets(self) -> frozenset[int]:
        """Targets reserved for the test split, chosen by ``split_seed`` (content, not index, decides)."""
        return _heldout_targets(self.config)

    def split_of(self, problem: CountdownProblem) -> str:
        if self.config.split_by == "problem":
            key = f"{self.config.split_seed}:{self.content_key(problem)}".encode()
            share = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64
            return "test" if share < self.config.heldout_target_fraction else "train"
        return "test" if problem.target in self.heldout_targets() else "train"

    def is_solvable(self, problem: CountdownProblem) -> bool:
        if self.config.use_all:
            return reaches(problem.numbers, problem.target)
        nums = problem.numbers
        return any(
            reaches(tuple(nums[i] for i in subset), problem.target)
            for size in range(2, len(nums) + 1)
            for subset in combinations(range(len(nums)), size)
        )

    def generate(self, rng: random.Random) -> CountdownProblem:
        """A random solvable problem: the target uniform in its range, then the numbers drawn
        uniformly until the target can be made (as Stream-of-Search and the paper do, so every
        target is equally common even though some are easier to hit)."""
        c = self.config
        number_range = range(c.min_number, c.max_number + 1)
        target = rng.choice(range(c.min_target, c.max_target + 1))
        for _ in range(c.max_tries):
            # choices(): uniform like randint, at a fraction of its cost per draw
            problem = CountdownProblem(tuple(rng.choices(number_range, k=c.n_numbers)), target)
            if self.is_solvable(problem):
                return problem
        if comb(len(number_range) + c.n_numbers - 1, c.n_numbers) <= EXHAUSTIVE_MULTISETS:
            # A small game is decided exactly: a rare target is drawn from every solvable multiset
            # (weighted by its orderings, as the uniform draws would), and a target that no
            # multiset reaches is reported as the config error it is, not as bad luck.
            solvable = [
                nums
                for nums in combinations_with_replacement(number_range, c.n_numbers)
                if self.is_solvable(CountdownProblem(nums, target))
            ]
            if not solvable:
                raise ValueError(
                    f"target {target} cannot be made from {c.n_numbers} numbers in "
                    f"{c.min_number}..{c.max_number}; narrow min_target..max_target"
                )
            orderings = [len(set(permutations(nums))) for nums in solvable]
            numbers = list(rng.choices(solvable, weights=orderings)[0])
            rng.shuffle(numbers)
            return CountdownProblem(tuple(numbers), target)
        raise RuntimeError(
            f"no solvable numbers for target {target} in {c.max_tries} tries; the config may be too strict"
        )

    # ---- solving --------------------------------------------------------------------------
    def solutions(self, problem: CountdownProblem, limit: int | None = None) -> list[list[Step]]:
        """Step sequences that reach the target (all of them, or the first ``limit``)."""
        found: list[list[Step]] = []
        self._search(problem.numbers, problem.target, [], found, limit)
        return found

    def _search(
        self,
        numbers: tuple[int, ...],
        target: int,
        path: list[Step],
        found: list[list[Step]],
        limit: int | None,
    ) -> bool:
        """Depth-first over every (pair, operation); True once ``limit`` solutions are found."""
        if path and path[-1].result == target and (len(numbers) == 1 or not self.config.use_all):
            found.append(list(path))
            if limit is not None and len(found) >= limit:
                return True
        for i, j in combinations(range(len(numbers)), 2):
            for step in combine(numbers[i], numbers[j]):
                path.append(step)
                stop = self._search(apply_step(numbers, step), target, path, found, limit)
                path.pop()
                if stop:
                    return True
        return False

    def solve(self, problem: CountdownProblem) -> list[Step] | None:
        """One solution, found without search: take the first step (in the Stream-of-Search order)
        after which the target is still reachable; ``reaches`` is memoised, so this is several times
        cheaper than walking every (pair, operation)."""
        if not self.config.use_all:
            sols = self.solutions(problem, limit=1)
            return sols[0] if sols else None
        nums, target, steps = problem.numbers, problem.target, []
        while len(nums) > 1:
            step = next((s for s in _steps_on(nums) if _keeps_goal(nums, s, target)), None)
            if step is None:
                return None  # the target is not reachable from here: the problem is unsolvable
            steps.append(step)
            nums = apply_step(nums, step)
        return steps or None

    def reference_answer(self, problem: CountdownProblem, trace: Trace | None = None) -> str:
        """An expression; a trace that reached the goal already holds a solution, which saves solving
        the problem again and keeps the answer the trace's own."""
        steps = trace.answer if trace is not None and trace.answer else self.solve(problem)
        return "" if steps is None else steps_to_expression(problem.numbers, list(steps))

    # ---- text -----------------------------------------------------------------------------
    def rule_text(self) -> str:
        return rule_text(self.config.use_all)

    def prompt(self, problem: CountdownProblem) -> str:
        nums = ", ".join(map(str, problem.numbers))
        return (
            f"Using the numbers [{nums}], make {problem.target}. Use + - * / and {self.rule_text()}; "
            "subtraction must stay positive and division exact. "
            "Show your work and give the final expression in <answer> </answer>."
        )

    # ---- verifying ------------------------------------------------------------------------
    def verify(self, problem: CountdownProblem, text: str) -> Verdict:
        """Check untrusted model text: an expression, a list of steps, or a whole search trace."""
        return verify.verify_text(problem, text, use_all=self.config.use_all)

    def verify_expression(self, problem: CountdownProblem, expression: str) -> Verdict:
        return verify.verify_expression(problem, expression, use_all=self.config.use_all)

    def verify_steps(self, problem: CountdownProblem, steps: list[Step] | str) -> Verdict:
        """Replay steps from the problem's numbers; each must be legal on the state it acts on."""
        return verify.verify_steps(problem, steps, use_all=self.config.use_all)

    def answer_key(self, problem: CountdownProblem, text: str) -> str | None:
        return keys.answer_key(problem, text)

    def output_kind(self, text: str) -> str:
        """``trace`` (dfs, direct, think), ``think`` (backtrack-k), ``steps`` or ``expression``."""
        return detect_kind(text)

    def well_formed(self, problem: CountdownProblem, text: str) -> bool:
        return wellformed.well_formed(problem, text, use_all=self.config.use_all)

    # ---- formats and tokens ---------------------------------------------------------------
    def formats(self) -> Mapping[str, TraceFormat]:
        from backtrack.tasks.countdown.formats import bound_formats

        return bound_formats(self.config.use_all)

    def vocabulary(self) -> list[str]:
        """Literal strings the tokenizer keeps whole; digits are single tokens so numbers split."""
        from backtrack.tasks.countdown.vocab import VOCABULARY

        return list(VOCABULARY)
