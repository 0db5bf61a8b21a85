"""CountDown ``backtrack-k``: a correct solution with exactly k wrong branches (paper 2 style).

Each wrong branch leaves the solution path at some step, follows legal operations to a final number
that is not the target, admits it and returns::

    <think>
    Step 1: 70-62=8, left [36, 6, 8]
    Step 2: 36+8=44, left [6, 44]
    Step 3: 44+6=50, left [50]
    Wait, 50 is not 72, this doesn't lead to the correct solution. Let me go back to step 1.
    Step 2: 8-6=2, left [36, 2]
    Step 3: 36*2=72, left [72]
    72 is the target.
    </think>
    <answer>36*(70-62-6)</answer>

Unlike the released generator of paper 2 (one wrong branch repeated k times, numbers reused), the k
branches here are distinct (they differ in where they leave the path or in their first operation)
and every step in them is legal.

``wrong_answer=True`` is the "structure versus content" variant: the same k wrong branches and
returns, but the last line of thought is one more legal wrong branch, written as if it were the
solution ("72 is the target.") and given as the answer. The trace keeps its shape (k backtracks, then
a full-length path, a claim and an answer) while its content is wrong, so a model trained on it learns
the search's form from wrong solutions; the trace is not solved, and the dataset's ``solution`` column
still holds a correct expression (the task solves the problem itself).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import combinations

from backtrack.tasks.countdown.formats.dfs import format_numbers, parse_numbers
from backtrack.tasks.countdown.problem import CountdownProblem
from backtrack.tasks.countdown.rules import (
    Step,
    apply_step,
    check_step,
    combine,
    reaches,
    steps_to_expression,
)
from backtrack.tasks.countdown.search import solution_path
from backtrack.tasks.countdown.text import is_number, parse_step
from backtrack.tasks.countdown.verify import verify_expression
from backtrack.traces.base import ParsedTrace, Trace

MAX_LINES = 5_000
MAX_DEPTH = 64  # steps on one line of thought; an n-number game needs n - 1
MAX_ERRORS = 50


def _legal_steps(nums: tuple[int, ...]) -> list[Step]:
    return [s for i, j in combinations(range(len(nums)), 2) for s in combine(nums[i], nums[j])]


def _back_to(step: int) -> str:
    return "the start" if step == 0 else f"step {step}"


@dataclass(frozen=True, slots=True)
class _Branch:
    at: int  # number of correct steps taken before the branch leaves the path
    steps: tuple[Step, ...]


def _wrong_branches(
    problem: CountdownProblem, path: tuple[Step, ...], k: int, rng: random.Random
) -> list[_Branch]:
    """k distinct wrong branches: distinct (leaving point, first operation) pairs, preferring first
    operations after which the target is out of reach, each played out legally to a wrong number."""
    states = [problem.numbers]
    for step in path:
        states.append(apply_step(states[-1], step))
    hopeless: list[tuple[int, Step]] = []
    other: list[tuple[int, Step]] = []
    for at, nums in enumerate(states[:-1]):
        # equal numbers give the same step from several pairs: keep each (point, step) once
        for step in dict.fromkeys(_legal_steps(nums)):
            if step == path[at]:
                continue
            after = apply_step(nums, step)
            if len(after) == 1 and step.result == problem.target:
                continue  # another solution, not a wrong branch
            (other if len(after) > 1 and reaches(after, problem.target) else hopeless).append((at, step))
    rng.shuffle(hopeless)
    rng.shuffle(other)
    branches: list[_Branch] = []
    for at, first in hopeless + other:
        if len(branches) == k:
            break
        steps = _play_out(apply_step(states[at], first), problem.target, rng)
        if steps is not None:
            branches.append(_Branch(at, (first, *steps)))
    if len(branches) < k:
        raise ValueError(f"{problem} has only {len(branches)} distinct wrong branches, fewer than k={k}")
    return sorted(branches, key=lambda b: b.at)


def _play_out(nums: tuple[int, ...], target: int, rng: random.Random) -> tuple[Step, ...] | None:
    """Random legal steps down to one number that is not the target (None if every ending hits it)."""
    if len(nums) == 1:
        return () if nums[0] != target else None
    options = _legal_steps(nums)
    rng.shuffle(options)
    for step in options:
        rest = _play_out(apply_step(nums, step), target, rng)
        if rest is not None:
            return (step, *rest)
    return None


def render(
    problem: CountdownProblem,
    rng: random.Random | None = None,
    *,
    k: int = 1,
    use_all: bool = True,
    wrong_answer: bool = False,
) -> Trace:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    if not isinstance(wrong_answer, bool):
        raise ValueError(f"wrong_answer must be true or false, got {wrong_answer!r}")
    if not use_all:
        raise ValueError("backtrack-k renders full-length paths, so it needs use_all=True")
    rng = rng or random.Random(0)
    path = solution_path(problem, use_all)
    if path is None:
        raise ValueError(f"{problem} has no solution, so it has no backtrack-k trace")
    branches = _wrong_branches(problem, path, k + wrong_answer, rng) if k or wrong_answer else []
    if wrong_answer:
        # The branch that leaves the path last becomes the final line of thought (the others are
        # written first, in order, so the trace never goes back to before where it already is).
        final = branches.pop()
        path = (*path[: final.at], *final.steps)
    t = problem.target
    lines = ["<think>"]
    nums, done, steps = problem.numbers, 0, 0
    states = [nums]

    def write(number: int, step: Step, after: tuple[int, ...]) -> None:
        nonlocal steps
        steps += 1
        lines.append(f"Step {number}: {step}, left {format_numbers(after)}")

    for branch in branches:
        while done < branch.at:  # walk the solution path up to where the branch leaves it
            states.append(apply_step(states[-1], path[done]))
            write(done + 1, path[done], states[-1])
            done += 1
        cur = states[-1]
        for i, step in enumerate(branch.steps):
            cur = apply_step(cur, step)
            write(done + i + 1, step, cur)
        lines.append(
            f"Wait, {cur[0]} is not {t}, this doesn't lead to the correct solution. "
            f"Let me go back to {_back_to(done)}."
        )
    while done < len(path):
        states.append(apply_step(states[-1], path[done]))
        write(done + 1, path[done], states[-1])
        done += 1
    lines.append(f"{t} is the target.")
    lines.append("</think>")
    lines.append(f"<answer>{steps_to_expression(problem.numbers, list(path))}</answer>")
    text = "\n".join(lines) + "\n"
    if wrong_answer:  # no solution reached: the task solves the problem for the dataset's solution column
        return Trace(text, False, len(branches), len(branches), steps, None)
    return Trace(text, True, len(branches), len(branches), steps, path)


def _last_answer(text: str) -> str | None:
    start = text.rfind("<answer>")
    if start == -1:
        return None
    line = text[start:].split("\n", 1)[0]
    return line.removeprefix("<answer>").removesuffix("</answer>").strip()


def parse(problem: CountdownProblem, text: str, *, use_all: bool = True) -> ParsedTrace:
    """Replay the steps (each checked against the state it acts on), count returns, check the answer."""
    errors: list[str] = []
    stack = [problem.numbers]  # stack[i] = true state after i steps on the current line of thought
    backtracks = steps = 0
    answer = None
    lines = text.split("\n", MAX_LINES)[:MAX_LINES]
    for n, raw in enumerate(lines, 1):
        if len(errors) >= MAX_ERRORS:
            # Stop checking steps (keeps verdicts fast); returns and the answer are still read.
            errors.append(f"stopped checking steps after {MAX_ERRORS} errors")
            backtracks += sum(1 for rest in lines[n - 1 :] if rest.lstrip().startswith("Wait"))
            steps += sum(1 for rest in lines[n - 1 :] if rest.lstrip().startswith("Step "))
            answer = _last_answer(text)
            break
        line = raw.strip()
        if line.startswith("Step "):
            steps += 1
            number, colon, rest = line[5:].partition(":")
            op_text, _, left_text = rest.partition(", left")
            step = parse_step(op_text)
            if not colon or not is_number(number, 4) or step is None:
                errors.append(f"line {n}: malformed step")
                continue
            if int(number) != len(stack):
                errors.append(f"line {n}: step {number} should be step {len(stack)}")
            problem_text = check_step(stack[-1], step)
            if problem_text:
                errors.append(f"line {n}: {problem_text}")
                continue
            if len(stack) > MAX_DEPTH:
                errors.append(f"line {n}: more than {MAX_DEPTH} steps deep")
                continue
            stack.append(apply_step(stack[-1], step))
            left_text = left_text.strip()
            if left_text == format_numbers(stack[-1]):
                continue
            claimed = parse_numbers(left_text)
            if claimed is not None and sorted(claimed) != sorted(stack[-1]):
                errors.append(f"line {n}: {step} leaves {format_numbers(stack[-1])}")
        elif line.startswith("Wait"):
            backtracks += 1
            where = line.rpartition("go back to ")[2].rstrip(".").strip()
            back = 0 if where == "the start" else where.removeprefix("step ").strip()
            if isinstance(back, str):
                back = int(back) if is_number(back, 3) else -1
            if not 0 <= back < len(stack):
                errors.append(f"line {n}: cannot go back to {where[:20]!r}")
                continue
            del stack[back + 1 :]
        elif line.startswith("<answer>"):
            answer = line.removeprefix("<answer>").removesuffix("</answer>").strip()
    if answer is None:
        return ParsedTrace(False, False, backtracks, backtracks, steps, None, ["no <answer> given", *errors])
    verdict = verify_expression(problem, answer, use_all=use_all)
    if not verdict.ok:
        errors.insert(0, f"answer: {verdict.reason}")
    return ParsedTrace(True, verdict.ok, backtracks, backtracks, steps, answer, errors)
