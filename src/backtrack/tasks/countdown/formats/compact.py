"""CountDown ``compact`` format: the DFS written one line per two-number state, every final operation
checked in writing.

Each line is a path from the problem to a state of two numbers (written ``target:[a, b]``, as the
dfs format writes states), then every legal final operation on them, then the verdict::

    Current State: 43:[2, 5, 9], Operations: []          <- the problem, the prompt (as in dfs)
    Try 2+5=7 43:[9, 7] 9+7=16, 9*7=63, 9-7=2. No Solution
    Try 2*5=10 43:[9, 10] 9+10=19, 9*10=90, 10-9=1. No Solution
    ...
    Try 5*9=45 43:[2, 45] 2+45=47, 2*45=90, 45-2=43. Goal Reached

A line after a ``No Solution`` line returns to an earlier state: one backtrack. By default the
children are taken in the order they are generated (pairs left to right, then ``+ * - /``) with no
pruning, so the search is exhaustive and the next line is a fixed function of the last one.

Why this format exists: in ``think`` the last level is decided silently, a judgement over every
operation on a pair that a small model does not learn (docs/study.md); in ``dfs`` it is written out
but each final operation costs two long lines and each return restates the whole state. Here each
final operation is one short fact ``a op b=r`` next to the numbers it uses, and the target stands
a few tokens before it, so deciding whether ``r`` is the goal compares two nearby tokens. With
``use_all=False`` a path whose last result is the target ends the search at once:
``Try 5*9=45. Goal Reached``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from backtrack.search.events import Event, EventKind
from backtrack.tasks.countdown.formats.dfs import format_numbers, parse_numbers
from backtrack.tasks.countdown.problem import CountdownProblem
from backtrack.tasks.countdown.rules import Step, apply_step, check_step
from backtrack.tasks.countdown.search import SearchLimits, dfs
from backtrack.tasks.countdown.text import is_number, parse_step
from backtrack.traces.base import NO_GOAL, ParsedTrace, Trace

EXPAND, GENERATE, BACKTRACK = EventKind.EXPAND, EventKind.GENERATE, EventKind.BACKTRACK
GOAL, DEAD_END = EventKind.GOAL, EventKind.DEAD_END

HEAD = "Try "
GOAL_TEXT = "Goal Reached"
DEAD_TEXT = "No Solution"
MAX_LINES = 5_000
MAX_ERRORS = 50
MAX_PATH = 16


def _head(path: Iterable[Step], target: int, nums: tuple[int, ...] | None) -> str:
    parts = [str(s) for s in path]
    if nums is not None:
        parts.append(f"{target}:{format_numbers(nums)}")
    return HEAD + " ".join(parts)


def render_events(problem: CountdownProblem, events: Iterable[Event]) -> Trace:
    """Write DFS events (``backtrack.tasks.countdown.search.dfs``, not in think mode) as lines."""
    lines: list[str] = [f"Current State: {problem.target}:{format_numbers(problem.numbers)}, Operations: []"]
    head: str | None = None  # the open line's path and pair, while its final operations are written
    leaves: list[str] = []
    backtracks = dead_ends = steps = 0
    solved = False
    answer = None

    def close(verdict: str) -> None:
        nonlocal head
        lines.append(f"{head} {', '.join(leaves)}. {verdict}" if leaves else f"{head} {verdict}")
        head = None
        leaves.clear()

    for e in events:
        kind = e.kind
        if kind is EXPAND and len(e.state) == 2:
            if head is not None:  # an empty pair (every final operation pruned)
                close(DEAD_TEXT)
                dead_ends += 1
            if len(lines) > 1 and not solved:
                backtracks += 1
            head = _head(e.info, problem.target, e.state)
            steps += len(e.info)
        elif kind is GENERATE and len(e.state) == 1 and head is not None:
            leaves.append(str(e.action))
            steps += 1
        elif kind is GOAL:
            solved, answer = True, e.info
            if head is None:  # use_all=False: a path whose last result is the target
                if len(lines) > 1:
                    backtracks += 1
                lines.append(f"{_head(e.info, problem.target, None)}. {GOAL_TEXT}")
                steps += len(e.info)
            else:
                close(GOAL_TEXT)
            break
        elif kind is BACKTRACK and head is not None and len(e.state) > 2:
            close(DEAD_TEXT)  # the pair's final operations are exhausted
            dead_ends += 1
    if head is not None:
        close(DEAD_TEXT)
        dead_ends += 1
    return Trace("\n".join(lines) + "\n", solved, backtracks, dead_ends, steps, answer)


def render(
    problem: CountdownProblem,
    rng: random.Random | None = None,
    *,
    heuristic: str = "sum",
    use_all: bool = True,
    order: str = "generation",
    prune: bool = False,
) -> Trace:
    """The DFS in ``order`` (``generation`` by default; ``heuristic`` and ``random`` as in ``dfs``),
    exhaustive unless ``prune`` (the reference's heuristic pruning, which drops children silently)."""
    limits = SearchLimits(heuristic=heuristic, use_all=use_all, order=order, prune=prune)
    return render_events(problem, dfs(problem, limits, rng=rng))


# ---- parsing ------------------------------------------------------------------------------------
def parse(problem: CountdownProblem, text: str, *, use_all: bool = True) -> ParsedTrace:
    """Read a compact trace (model-written or ours); never raises on bad text.

    Every path is replayed from the problem's numbers, so a wrong result, a number not in the state,
    a miscopied pair or a false verdict is an error of the line that writes it.
    """
    errors: list[str] = []
    backtracks = dead_ends = steps = 0
    after_dead_end = goal_claimed = valid = False
    answer = None
    lines = text.split("\n", MAX_LINES)[:MAX_LINES]
    for k, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line in ("<|endoftext|>", "</s>") or line.startswith("Current State:"):
            continue  # blank, an end marker, or the problem statement in front of the completion
        if after_dead_end:
            backtracks += 1
        read = _read_line(problem, line, use_all)
        steps += read.steps
        errors.extend(f"line {k}: {message}" for message in read.errors)
        if read.verdict == GOAL_TEXT:
            goal_claimed = True
            valid = read.reaches
            if valid:
                answer = read.path
            else:  # the first error of a false goal is the trace's reason
                errors.insert(0, errors.pop(len(errors) - len(read.errors)))
            break
        if read.verdict == DEAD_TEXT:
            dead_ends += 1
        after_dead_end = read.verdict == DEAD_TEXT
        if len(errors) >= MAX_ERRORS:
            errors.append(f"stopped reading after {MAX_ERRORS} errors")
            break
    if not goal_claimed:
        errors.insert(0, NO_GOAL)
    return ParsedTrace(goal_claimed, valid, backtracks, dead_ends, steps, answer, errors)


class _Line:
    """What one line says: its verdict, its goal path and whether that path is legal and reaches the
    target (``reaches``), its operations and its errors (a false final operation off the goal path
    is an error of the line, not of the path)."""

    __slots__ = ("errors", "path", "reaches", "steps", "verdict")

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.path: tuple[Step, ...] = ()
        self.reaches = False
        self.steps = 0
        self.verdict: str | None = None


def _read_line(problem: CountdownProblem, line: str, use_all: bool) -> _Line:
    out = _Line()
    if not line.startswith(HEAD):
        out.errors.append(f"unrecognized line {line[:40]!r}")
        return out
    body = line[len(HEAD) :]
    for verdict in (GOAL_TEXT, DEAD_TEXT):
        if body.endswith(verdict):
            out.verdict = verdict
            body = body[: -len(verdict)].rstrip()
            break
    else:
        out.errors.append("malformed line: it ends in neither Goal Reached nor No Solution")
        return out
    head, bracket, rest = body.partition("[")
    pair_text, closing, leaves_text = rest.partition("]")
    leaves_text = leaves_text.strip().removesuffix(".").strip()
    tokens = head.split()
    target_text = None
    if bracket:  # the state ``T:[a, b]`` closes the path
        if not closing or not tokens or not tokens[-1].endswith(":"):
            out.errors.append("malformed line: expected 'Try <operations> T:[a, b] <final operations>'")
            return out
        target_text = tokens.pop()[:-1]
    elif tokens:  # use_all=False: ``Try 5*9=45. Goal Reached``
        tokens[-1] = tokens[-1].removesuffix(".")
    nums = problem.numbers
    path: list[Step] = []
    for token in tokens:
        step = parse_step(token)
        out.steps += 1
        if step is None:
            out.errors.append(f"malformed operation {token[:20]!r}")
            return out
        problem_text = check_step(nums, step)
        if problem_text:
            out.errors.append(problem_text)
            return out
        nums = apply_step(nums, step)
        path.append(step)
    if not bracket:
        out.path = tuple(path)
        if out.verdict != GOAL_TEXT or not path:
            out.errors.append("malformed line: no pair of numbers")
        elif path[-1].result != problem.target:
            out.errors.append(f"{path[-1]} does not reach the target {problem.target}")
        elif use_all and len(nums) != 1:
            out.errors.append(f"numbers {list(nums[:-1])} left unused; each must be used")
        else:
            out.reaches = True
        return out
    claimed = parse_numbers(f"[{pair_text}]")
    if claimed is None or not is_number(target_text):
        out.errors.append("malformed line: expected 'Try <operations> T:[a, b] <final operations>'")
        return out
    if int(target_text) != problem.target:
        out.errors.append(f"target {target_text} is not {problem.target}")
    if sorted(claimed) != sorted(nums):
        after = " ".join(tokens) or "no operation"
        out.errors.append(
            f"the numbers after {after} are {format_numbers(nums)}, not {format_numbers(claimed)}"
        )
        return out
    reached = None
    for text in filter(None, (t.strip() for t in leaves_text.split(","))) if leaves_text else ():
        step = parse_step(text)
        out.steps += 1
        if step is None:
            out.errors.append(f"malformed operation {text[:20]!r}")
            return out
        problem_text = check_step(nums, step)
        if problem_text:
            out.errors.append(problem_text)
            continue
        if step.result == problem.target and reached is None:
            reached = step
    if out.verdict == GOAL_TEXT:
        if reached is None:
            reason = f"no final operation on {format_numbers(nums)} reaches the target {problem.target}"
            out.errors.insert(0, reason)
        out.path = (*path, reached) if reached else tuple(path)
        out.reaches = reached is not None
    elif reached is not None:
        out.errors.append(f"{reached} reaches the target, yet the line says No Solution")
    return out


def claimed_goal_path(text: str) -> list[Step] | None:
    """The operations the ``Goal Reached`` line claims (its path, then its last final operation),
    read without checking them (majority votes count claims); None when no goal is claimed or the
    claim cannot be read."""
    for raw in text.split("\n", MAX_LINES)[:MAX_LINES]:
        line = raw.strip()
        if not (line.startswith(HEAD) and line.endswith(GOAL_TEXT)):
            continue
        body = line[len(HEAD) : -len(GOAL_TEXT)].strip().removesuffix(".")
        head, bracket, rest = body.partition("[")
        texts = head.split()[:-1][:MAX_PATH] if bracket else head.split()[:MAX_PATH]
        if bracket:
            texts.append(rest.partition("]")[2].rpartition(",")[2])
        steps = [parse_step(t) for t in texts]
        return None if not steps or None in steps else steps  # type: ignore[return-value]
    return None
