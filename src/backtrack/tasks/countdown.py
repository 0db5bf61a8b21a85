"""CountDown: combine the given numbers with + - * / to reach the target.

Rules (REFERENCE.md, the paper's game): an operation takes two available numbers and replaces them
with its result; subtraction is larger - smaller, division only when exact, so every intermediate is
a positive integer. ``use_all`` chooses the one rule for how many numbers must be used: exactly
once each (the paper) or at most once each. The prompt states the rule and every verifier enforces it.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from itertools import combinations, combinations_with_replacement, permutations
from math import comb
from typing import Any, ClassVar, NamedTuple

from backtrack.tasks.arith import ExpressionError, evaluate_expression
from backtrack.tasks.base import MAX_ANSWER_CHARS, MAX_ANSWER_LINES, Verdict, accept, extract_answer, reject

OPS = "+-*/"


class Step(NamedTuple):
    """One operation ``a op b = result`` as written in traces (``70-62=8``)."""

    a: int
    op: str
    b: int
    result: int

    def __str__(self) -> str:
        return f"{self.a}{self.op}{self.b}={self.result}"


def combine(a: int, b: int) -> list[Step]:
    """The legal steps on a pair, in the Stream-of-Search order: +, *, larger-smaller, exact division.

    ``a`` is the number that comes first in the state; only positive results are legal.
    """
    steps = [Step(a, "+", b, a + b), Step(a, "*", b, a * b)]
    hi, lo = (b, a) if a <= b else (a, b)
    if hi != lo:
        steps.append(Step(hi, "-", lo, hi - lo))
    if lo > 0 and hi % lo == 0:
        steps.append(Step(hi, "/", lo, hi // lo))
    return steps


def check_step(numbers: tuple[int, ...], step: Step) -> str | None:
    """Why ``step`` is illegal on the state ``numbers``, or None when it is legal."""
    a, op, b, result = step
    if op == "+":
        value = a + b
    elif op == "*":
        value = a * b
    elif op == "-":
        if a <= b:
            return f"{step}: subtraction must be larger minus smaller and positive"
        value = a - b
    elif op == "/":
        if b == 0 or a % b:
            return f"{step}: division must be exact"
        value = a // b
    else:
        return f"{step}: unknown operation {op!r}"
    if value != result:
        return f"{step}: {a}{op}{b} is {value}, not {result}"
    available = list(numbers)
    for operand in (a, b):
        if operand in available:
            available.remove(operand)
        else:
            return f"{step}: {operand} is not available in {list(numbers)}"
    return None


def _steps_on(nums: tuple[int, ...]) -> list[Step]:
    return [step for i, j in combinations(range(len(nums)), 2) for step in combine(nums[i], nums[j])]


def _keeps_goal(nums: tuple[int, ...], step: Step, target: int) -> bool:
    """Whether the target is still reachable, using every number, after ``step``."""
    if len(nums) == 2:
        return step.result == target
    return reaches(apply_step(nums, step), target)


def apply_step(numbers: tuple[int, ...], step: Step) -> tuple[int, ...]:
    """The state after a legal ``step``: the untouched numbers in order, then the result."""
    rest = list(numbers)
    rest.remove(step.a)
    rest.remove(step.b)
    rest.append(step.result)
    return tuple(rest)


def _results(x: int, y: int) -> tuple[int, ...]:
    """The values of the legal steps on a pair (the hot path of solvability checks)."""
    hi, lo = (x, y) if x >= y else (y, x)
    if hi == lo:
        return (hi + lo, hi * lo, 1)
    if hi % lo == 0:
        return (hi + lo, hi * lo, hi - lo, hi // lo)
    return (hi + lo, hi * lo, hi - lo)


@lru_cache(maxsize=1 << 18)
def reachable_values(numbers: tuple[int, ...]) -> frozenset[int]:
    """Every value reachable by legal steps that use all of ``numbers`` (a sorted tuple)."""
    n = len(numbers)
    if n == 1:
        return frozenset(numbers)
    if n == 2:
        return frozenset(_results(*numbers))
    out: set[int] = set()
    if n == 3:  # the hot case of 4-number solvability checks: one number with the pair of the others
        a, b, c = numbers
        for x, y, z in ((a, b, c), (b, a, c), (c, a, b)):
            for v in _results(y, z):
                out.update(_results(x, v))
        return frozenset(out)
    # Split into (part holding numbers[0], the rest) so each unordered split is visited once.
    for size in range(n - 1):
        for picked in combinations(range(1, n), size):
            left = (numbers[0], *(numbers[i] for i in picked))
            right = tuple(numbers[i] for i in range(1, n) if i not in picked)
            right_values = reachable_values(right)
            for x in reachable_values(left):
                for y in right_values:
                    out.update(_results(x, y))
    return frozenset(out)


def _completes(x: int, target: int, values: frozenset[int]) -> bool:
    """Whether one legal step on ``x`` and some ``w`` in ``values`` gives ``target``: each operation
    is inverted and its partner looked up, instead of combining ``x`` with every ``w``."""
    return (
        target - x in values  # x + w
        or (target % x == 0 and target // x in values)  # x * w
        or x + target in values  # w - x
        or x - target in values  # x - w
        or target * x in values  # w / x
        or (x % target == 0 and x // target in values)  # x / w
    )


def reaches(numbers: tuple[int, ...], target: int) -> bool:
    """Whether ``target`` is reachable using all ``numbers`` (at least one operation), without
    building the full value set of ``numbers``."""
    n = len(numbers)
    if n < 2:
        return False
    if n == 2:
        return target in _results(*numbers)
    if n == 4:  # the paper's game, and the hot path of generation: the general loop unrolled
        a, b, c, d = sorted(numbers)
        values = reachable_values
        if (
            _completes(a, target, values((b, c, d)))
            or _completes(b, target, values((a, c, d)))
            or _completes(c, target, values((a, b, d)))
            or _completes(d, target, values((a, b, c)))
        ):
            return True
        for left, right in (((a, b), (c, d)), ((a, c), (b, d)), ((a, d), (b, c))):
            right_values = values(right)
            for x in values(left):
                if _completes(x, target, right_values):
                    return True
        return False
    nums = sorted(numbers)
    # One number against the rest.
    for i in range(n):
        if _completes(nums[i], target, reachable_values(tuple(nums[:i] + nums[i + 1 :]))):
            return True
    # Larger splits (2+2 for four numbers, ...), each unordered split once.
    first = nums[0]
    for size in range(1, n - 2):
        for picked in combinations(range(1, n), size):
            left = reachable_values((first, *(nums[i] for i in picked)))
            right = reachable_values(tuple(nums[i] for i in range(1, n) if i not in picked))
            if any(_completes(x, target, right) for x in left):
                return True
    return False


# Games with at most this many number multisets are decided exactly when random draws find nothing.
EXHAUSTIVE_MULTISETS = 20_000


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


@dataclass
class Countdown:
    """The CountDown task: generator, exhaustive solver, safe verifier and prompt."""

    config: CountdownConfig = field(default_factory=CountdownConfig)
    name: ClassVar[str] = "countdown"

    @classmethod
    def from_config(cls, **overrides: Any) -> Countdown:
        known = set(CountdownConfig.__dataclass_fields__)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"unknown countdown option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(CountdownConfig(**overrides))

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

    def problem_from_dict(self, row: dict[str, Any]) -> CountdownProblem:
        return self.problem(row["numbers"], row["target"])

    def problem_key(self, problem: CountdownProblem) -> str:
        """Content key for de-duplication: the multiset of numbers and the target."""
        return f"{problem.target}:{','.join(map(str, sorted(problem.numbers)))}"

    def heldout_targets(self) -> frozenset[int]:
        """Targets reserved for the test split, chosen by ``split_seed`` (content, not index, decides)."""
        return _heldout_targets(self.config)

    def split_of(self, problem: CountdownProblem) -> str:
        if self.config.split_by == "problem":
            key = f"{self.config.split_seed}:{self.problem_key(problem)}".encode()
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
    def verify(self, problem: CountdownProblem, answer: str) -> Verdict:
        """Check untrusted model text: an expression, a list of steps, or a whole search trace."""
        try:
            return self._verify(problem, answer)
        except Exception as exc:  # a verifier bug must not crash a reward worker
            return reject(f"verifier error: {type(exc).__name__}: {exc}", "error")

    def _verify(self, problem: CountdownProblem, answer: str) -> Verdict:
        if not isinstance(answer, str):
            return reject(f"answer must be text, got {type(answer).__name__}")
        if len(answer) > MAX_ANSWER_CHARS:
            return reject(f"answer is {len(answer)} characters, over the {MAX_ANSWER_CHARS} limit")
        lines = answer.count("\n") + 1
        if lines > MAX_ANSWER_LINES:
            return reject(f"answer has {lines} lines, over the {MAX_ANSWER_LINES} limit")
        kind = detect_kind(answer)
        if kind == "trace":
            from backtrack.traces import countdown_dfs

            parsed = countdown_dfs.parse(problem, answer, use_all=self.config.use_all)
            return Verdict(parsed.valid, parsed.reason, "trace")
        if kind == "think":
            from backtrack.traces import countdown_backtrack_k

            parsed = countdown_backtrack_k.parse(problem, answer, use_all=self.config.use_all)
            return Verdict(parsed.valid, parsed.reason, "think")
        if kind == "steps":
            return self.verify_steps(problem, parse_steps(answer))
        return self.verify_expression(problem, extract_answer(answer))

    def verify_expression(self, problem: CountdownProblem, expression: str) -> Verdict:
        return verify_expression(problem, expression, use_all=self.config.use_all)

    def verify_steps(self, problem: CountdownProblem, steps: list[Step] | str) -> Verdict:
        """Replay steps from the problem's numbers; each must be legal on the state it acts on."""
        kind = "steps"
        if isinstance(steps, str):
            return reject(steps, kind)
        if not steps:
            return reject("no steps found", kind)
        numbers = problem.numbers
        for k, step in enumerate(steps, 1):
            error = check_step(numbers, step)
            if error:
                return reject(f"step {k}: {error}", kind)
            numbers = apply_step(numbers, step)
        if self.config.use_all and len(numbers) != 1:
            return reject(f"numbers {list(numbers[:-1])} not used; the rule is {self.rule_text()}", kind)
        if steps[-1].result != problem.target:
            return reject(f"the last step gives {steps[-1].result}, not the target {problem.target}", kind)
        return accept(f"{len(steps)} legal steps reach {problem.target}", kind)

    # ---- tokens ---------------------------------------------------------------------------
    def vocabulary(self) -> list[str]:
        """Literal strings the tokenizer keeps whole; digits are single tokens so numbers split."""
        from backtrack.traces.countdown_vocab import VOCABULARY

        return list(VOCABULARY)

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)


# ---- checks shared with the trace parsers ---------------------------------------------------
def rule_text(use_all: bool) -> str:
    return "each number exactly once" if use_all else "each number at most once"


def numbers_error(problem: CountdownProblem, used: list[int], use_all: bool) -> str | None:
    """Why the multiset ``used`` breaks the rule for the problem's numbers (ints, never strings)."""
    if len(used) == len(problem.numbers) and sorted(used) == sorted(problem.numbers):
        return None  # the common case, without building Counters
    have = Counter(problem.numbers)
    want = Counter(used)
    extra = want - have
    if extra:
        n = next(iter(extra))
        if n in have:
            return f"number {n} used {want[n]} times but given {have[n]} times"
        return f"number {n} is not one of the given numbers {list(problem.numbers)}"
    if use_all and want != have:
        missing = sorted((have - want).elements())
        return f"numbers {missing} not used; the rule is {rule_text(use_all)}"
    return None


def verify_expression(problem: CountdownProblem, expression: str, *, use_all: bool = True) -> Verdict:
    """Check an arithmetic expression (optionally ``expr = target``) against the problem."""
    kind = "expression"
    lhs, sep, rhs = expression.partition("=")
    if sep:  # "expr = 72" is accepted when the right side is the target
        rhs = rhs.strip()
        if not (is_number(rhs, 12) and int(rhs) == problem.target):
            return reject(
                f"the expression is said to equal {rhs[:20]!r}, not the target {problem.target}", kind
            )
    try:
        value, literals = evaluate_expression(lhs, positive_integers=True)
    except ExpressionError as exc:
        return reject(str(exc), kind)
    error = numbers_error(problem, literals, use_all)
    if error:
        return reject(error, kind)
    if len(literals) < 2:
        return reject("an answer needs at least one operation", kind)
    if value != problem.target:
        return reject(f"the expression equals {value}, not the target {problem.target}", kind)
    return accept(f"{lhs.strip()} = {problem.target}", kind)


# ---- parsing helpers shared with the trace parsers -------------------------------------------
def is_number(text: str, max_digits: int = 9) -> bool:
    """ASCII digits only, and few of them: ``str.isdigit`` alone accepts '٣' and '²' (which ``int``
    then rejects or misreads) and ``int`` refuses strings over 4300 digits."""
    return text.isascii() and text.isdigit() and len(text) <= max_digits


_STEP_CHARS = frozenset("0123456789+-*/= ")


def parse_step(text: str) -> Step | None:
    """``a op b = r`` with ASCII digits (at most 9 each), or None. No regex backtracking risk."""
    text = text.strip()
    if not text or len(text) > 64 or not set(text) <= _STEP_CHARS:
        return None
    lhs, eq, rhs = text.partition("=")
    rhs = rhs.strip()
    if not eq or not is_number(rhs):
        return None
    lhs = lhs.strip()
    for i in range(1, len(lhs)):
        op = lhs[i]
        if op in OPS:
            a, b = lhs[:i].strip(), lhs[i + 1 :].strip()
            if is_number(a) and is_number(b):
                return Step(int(a), op, int(b), int(rhs))
            return None
    return None


def _strip_step_prefix(line: str) -> str:
    """``Step 2: 8*6=48`` or ``2. 8*6=48`` -> ``8*6=48``."""
    line = line.strip()
    head, colon, tail = line.partition(":")
    if colon and (head.lower().startswith("step") or is_number(head)):
        return tail
    head, dot, tail = line.partition(". ")
    if dot and is_number(head):
        return tail
    return line


MAX_STEPS = 64  # an n-number game takes n - 1 steps; n <= 8


def parse_steps(text: str) -> list[Step] | str:
    """Lines of steps, or the reason the text is not a list of steps."""
    body = extract_answer(text)
    steps = []
    for k, line in enumerate(body.replace(",", "\n").replace(";", "\n").splitlines(), 1):
        if not line.strip():
            continue
        if len(steps) == MAX_STEPS:
            return f"more than {MAX_STEPS} steps"
        step = parse_step(_strip_step_prefix(line))
        if step is None:
            return f"line {k} is not a step 'a op b = c': {line.strip()[:40]!r}"
        steps.append(step)
    return steps


def detect_kind(text: str) -> str:
    """Which kind of output this is: 'trace' (dfs/think), 'think' (backtrack-k), 'steps' or 'expression'."""
    if "Current State:" in text or "Exploring Operation:" in text:
        return "trace"
    if "<think>" in text or "</think>" in text:
        return "think"
    body = extract_answer(text)
    lines = [ln for ln in body.replace(";", "\n").splitlines() if ln.strip()]
    if len(lines) > 1 or (
        len(lines) == 1 and body.count("=") == 1 and parse_step(_strip_step_prefix(lines[0]))
    ):
        return "steps"
    return "expression"


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def steps_to_expression(numbers: tuple[int, ...], steps: list[Step]) -> str:
    """An expression equivalent to a legal step sequence, with only the brackets it needs."""
    pool: list[tuple[int, str, int]] = [(n, str(n), 3) for n in numbers]  # value, text, precedence

    def take(value: int) -> tuple[str, int]:
        for i, (v, text, prec) in enumerate(pool):
            if v == value:
                del pool[i]
                return text, prec
        raise ValueError(f"{value} is not available")

    for step in steps:
        prec = _PRECEDENCE[step.op]
        left, left_prec = take(step.a)
        right, right_prec = take(step.b)
        if left_prec < prec:
            left = f"({left})"
        # a - (b + c) and a / (b * c) need their brackets; a + (b + c) and a * (b * c) do not
        if right_prec < prec or (right_prec == prec and step.op in "-/"):
            right = f"({right})"
        pool.append((step.result, f"{left}{step.op}{right}", prec))
    return pool[-1][1] if steps else " ".join(text for _, text, _ in pool)
