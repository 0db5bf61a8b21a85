"""CountDown search traces in the Stream-of-Search line format (Gandhi et al. 2024, as used by
Qin et al. 2025), and their parser.

One event per line::

    Current State: 72:[62, 36, 6, 70], Operations: []
    Exploring Operation: 70-62=8, Resulting Numbers: [36, 6, 8]
    Generated Node #0,0: 72:[36, 6, 8] Operation: 70-62=8
    Moving to Node #0,0
    Current State: 72:[36, 6, 8], Operations: ['70-62=8']
    Exploring Operation: 8*6=48, Resulting Numbers: [36, 48]
    ...
    72,72 equal: Goal Reached

A backtrack is a ``Moving to Node #id`` line to a node whose state was already stated, followed by
that state restated. A dead end is a ``v,t unequal: No Solution`` line (or ``[a, b] No Solution`` in
the think format). The same parser reads the ``dfs``, ``think`` and ``direct`` formats.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from backtrack.search.events import Event, EventKind
from backtrack.tasks.countdown.problem import CountdownProblem
from backtrack.tasks.countdown.rules import Step, apply_step, check_step
from backtrack.tasks.countdown.search import SearchLimits, beam, dfs
from backtrack.tasks.countdown.text import is_number, parse_step
from backtrack.traces.base import NO_GOAL, ParsedTrace, Trace

EXPAND, GENERATE, BACKTRACK = EventKind.EXPAND, EventKind.GENERATE, EventKind.BACKTRACK
GOAL, DEAD_END = EventKind.GOAL, EventKind.DEAD_END

MAX_LINES = 20_000
MAX_ERRORS = 50
MAX_LIST_ITEMS = 16


def node_id(node: tuple[int, ...]) -> str:
    return "0" + "".join(f",{k}" for k in node)


def format_numbers(nums: Iterable[int]) -> str:
    return "[" + ", ".join(map(str, nums)) + "]"


def format_ops(ops: Iterable[Step]) -> str:
    return "[" + ", ".join(f"'{s}'" for s in ops) + "]"


def render_events(problem: CountdownProblem, events: Iterable[Event]) -> Trace:
    """Write search events as Stream-of-Search lines.

    Each node's id, state and operation list are formatted once, when it is generated, and reused
    when it is entered or returned to (a 4-number trace restates states ~50 times).
    """
    t = problem.target
    events = list(events)
    lines: list[str] = []
    add = lines.append
    # node -> (id text, state text, operations text)
    text: dict[tuple[int, ...], tuple[str, str, str]] = {(): ("0", format_numbers(problem.numbers), "[]")}
    backtracks = dead_ends = steps = 0
    solved = False
    answer = None
    last = len(events) - 1
    for i, e in enumerate(events):
        kind = e.kind
        if kind is GENERATE:
            steps += 1
            step = str(e.action)
            if len(e.state) == 1:  # a final number (most children): never entered, no node text
                add(f"Exploring Operation: {step}, Resulting Numbers: [{e.state[0]}]")
                continue
            node = e.node
            parent = text.get(node[:-1]) or _node_text(node[:-1], e.info[:-1], e.state)
            nums = format_numbers(e.state)
            ident = f"{parent[0]},{node[-1]}"
            ops = f"{parent[2][:-1]}, '{step}']" if len(parent[2]) > 2 else f"['{step}']"
            text[node] = (ident, nums, ops)
            add(f"Exploring Operation: {step}, Resulting Numbers: {nums}")
            nxt = events[i + 1] if i < last else None
            if nxt is None or nxt.node != node or (nxt.kind is not GOAL and nxt.kind is not DEAD_END):
                add(f"Generated Node #{ident}: {t}:{nums} Operation: {step}")
        elif kind is EXPAND or kind is BACKTRACK:
            node = e.node
            ident, nums, ops = text.get(node) or _node_text(node, e.info, e.state)
            if kind is BACKTRACK:
                backtracks += 1
                add(f"Moving to Node #{ident}")
            elif node:
                add(f"Moving to Node #{ident}")
            add(f"Current State: {t}:{nums}, Operations: {ops}")
        elif kind is GOAL:
            solved = True
            answer = e.info
            add(f"{e.info[-1].result},{t} equal: Goal Reached")
        elif kind is DEAD_END:
            dead_ends += 1
            if len(e.state) == 1:
                add(f"{e.state[0]},{t} unequal: No Solution")
            else:
                add(f"{format_numbers(e.state)} No Solution")
    return Trace("\n".join(lines) + "\n", solved, backtracks, dead_ends, steps, answer)


def _node_text(node: tuple[int, ...], ops: tuple[Step, ...], nums: tuple[int, ...]) -> tuple[str, str, str]:
    return node_id(node), format_numbers(nums), format_ops(ops)


def render(
    problem: CountdownProblem,
    rng: random.Random | None = None,
    *,
    search: str = "dfs",
    heuristic: str = "random",
    beam_width: int = 3,
    use_all: bool = True,
    think: bool = False,
    order: str = "heuristic",
    prune: bool = True,
) -> Trace:
    """A search trace: ``search='dfs'`` (the paper's data) or ``'beam'`` (the mix data's BFS).

    ``heuristic='random'`` (the default) picks ``sum`` or ``mult`` per problem with ``rng``, as the
    Stream-of-Search generator's random mode does; over 4-number problems the DFS then reaches the
    goal in ~71% of traces, the paper's ~70% (``sum`` alone: ~80%, ``mult`` alone: ~61%).

    ``order`` (DFS only) ranks the children that survive pruning: ``heuristic`` (the paper's),
    ``generation`` or ``random``. In heuristic order every explored result lies near the target,
    and a small model learns to write results from the target instead of computing them (see
    docs/study.md); the other orders weaken that shortcut, though pruning still drops results far
    from the target. ``prune=False`` keeps every child.
    """
    limits = SearchLimits(heuristic=heuristic, use_all=use_all, order=order, prune=prune)
    if search == "dfs":
        events = dfs(problem, limits, think=think, rng=rng)
    elif search == "beam":
        events = beam(problem, beam_width, limits, rng=rng)
    else:
        raise ValueError(f"unknown search {search!r} (known: dfs, beam)")
    return render_events(problem, events)


# ---- parsing ------------------------------------------------------------------------------------
def parse_numbers(text: str) -> tuple[int, ...] | None:
    """``[62, 36, 6, 70]`` -> (62, 36, 6, 70); None for anything else (ASCII digits only)."""
    text = text.strip()
    if len(text) < 2 or text[0] != "[" or text[-1] != "]":
        return None
    inner = text[1:-1].strip()
    if not inner:
        return ()
    items = inner.split(",")
    if len(items) > MAX_LIST_ITEMS:
        return None
    out = []
    for item in items:
        item = item.strip()
        if not is_number(item):
            return None
        out.append(int(item))
    return tuple(out)


def parse_ops(text: str) -> list[str] | None:
    """``['70-62=8', '8*6=48']`` -> the step strings, or None."""
    text = text.strip()
    if len(text) < 2 or text[0] != "[" or text[-1] != "]":
        return None
    inner = text[1:-1].strip()
    if not inner:
        return []
    items = [item.strip().strip("'\"") for item in inner.split(",")]
    return items if len(items) <= MAX_LIST_ITEMS else None


def _same(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return sorted(a) == sorted(b)


class _Parser:
    """Replays a trace line by line. Node states are the parser's own (computed from the claimed,
    checked operations), never the text's claims, so every claim is checked against the true state."""

    def __init__(self, problem: CountdownProblem, use_all: bool) -> None:
        self.problem = problem
        self.use_all = use_all
        self.target = problem.target
        # node id -> (true numbers, true ops); None where the step that made it was illegal
        self.nodes: dict[str, tuple[tuple[int, ...], tuple[Step, ...]] | None] = {"0": (problem.numbers, ())}
        self.visited: set[str] = set()
        self.current = "0"
        self.moved_to: str | None = "0"  # the first Current State restates the root
        self.last: tuple[Step, tuple[int, ...] | None] | None = None  # last explored step, its true result
        self.backtracks = self.dead_ends = self.steps = 0
        self.errors: list[str] = []
        self.goal_claimed = False
        self.valid = False
        self.answer: tuple[Step, ...] | None = None
        # Canonical text of each node's Current State line: a trace written by our renderer (and
        # most model output) matches it exactly, so the common case is one string comparison.
        self.stated: dict[str, str] = {}
        self.step_cache: dict[str, Step | None] = {}

    def expected_state(self, node: str, known: tuple[tuple[int, ...], tuple[Step, ...]]) -> str:
        text = self.stated.get(node)
        if text is None:
            text = f"{self.target}:{format_numbers(known[0])}, Operations: {format_ops(known[1])}"
            self.stated[node] = text
        return text

    def read_step(self, text: str) -> Step | None:
        step = self.step_cache.get(text, self)  # self as "missing" marker: None is a valid entry
        if step is self:
            step = parse_step(text)
            if len(self.step_cache) < 4096:
                self.step_cache[text] = step
        return step  # type: ignore[return-value]

    def error(self, k: int, message: str) -> None:
        self.errors.append(f"line {k}: {message}")

    def state(self) -> tuple[tuple[int, ...], tuple[Step, ...]] | None:
        return self.nodes.get(self.current)

    def run(self, text: str) -> ParsedTrace:
        lines = text.split("\n", MAX_LINES)[:MAX_LINES]
        for k, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line in ("<|endoftext|>", "</s>"):
                continue
            if self.line(k, line):
                break
            if len(self.errors) >= MAX_ERRORS:
                # A text this wrong is not read to the end: it keeps every verdict fast, and a
                # solution found after 50 false claims is not one we would credit anyway.
                self.errors.append(f"stopped reading after {MAX_ERRORS} errors")
                break
        else:
            if not self.goal_claimed:
                self.errors.insert(0, NO_GOAL)
        return ParsedTrace(
            self.goal_claimed,
            self.valid,
            self.backtracks,
            self.dead_ends,
            self.steps,
            self.answer,
            self.errors,
        )

    def line(self, k: int, line: str) -> bool:
        """Handle one line; True stops parsing (the goal was claimed)."""
        if line.startswith("Current State:"):
            self.current_state(k, line[len("Current State:") :])
        elif line.startswith("Exploring Operation:"):
            self.explore(k, line[len("Exploring Operation:") :])
        elif line.startswith("Generated Node #"):
            self.generated(k, line[len("Generated Node #") :])
        elif line.startswith("Moving to Node #"):
            self.move(k, line[len("Moving to Node #") :].strip())
        elif line.endswith(" unequal: No Solution"):
            self.dead_ends += 1
            value = line[: -len(" unequal: No Solution")].partition(",")[0].strip()
            if self.last is None or not is_number(value) or int(value) != self.last[0].result:
                self.error(k, f"dead end {value!r} does not match the last explored result")
            self.last = None  # each dead end closes one explored operation
        elif line.endswith("] No Solution"):
            self.dead_ends += 1
            last, self.last = self.last, None
            if last is None or last[1] is None:
                self.error(k, "dead end does not follow an explored operation")
            else:
                claimed = line[: -len(" No Solution")]
                if claimed != format_numbers(last[1]):
                    nums = parse_numbers(claimed)
                    if nums is None or not _same(nums, last[1]):
                        self.error(k, "dead end does not restate the last explored numbers")
        elif line.endswith(" equal: Goal Reached"):
            self.goal(k, line[: -len(" equal: Goal Reached")])
            return True
        else:
            self.error(k, f"unrecognized line {line[:40]!r}")
        return False

    def current_state(self, k: int, rest: str) -> None:
        self.last = None  # a goal line must follow an operation explored from this state
        node = self.moved_to if self.moved_to is not None else self.current
        self.moved_to = None
        self.current = node
        self.visited.add(node)
        known = self.nodes.get(node)
        rest = rest.strip()
        if known is not None and rest == self.expected_state(node, known):
            return  # the canonical restatement: nothing to check further
        head, sep, ops_text = rest.partition(", Operations:")
        target_text, colon, nums_text = head.partition(":")
        nums = parse_numbers(nums_text)
        if not sep or not colon or nums is None or not is_number(target_text.strip()):
            self.error(k, "malformed Current State line")
            return
        if int(target_text) != self.target:
            self.error(k, f"target {target_text} is not {self.target}")
        if known is None:
            return  # the error was reported where the node was made
        if not _same(nums, known[0]):
            self.error(
                k, f"state {format_numbers(nums)} of node #{node} should be {format_numbers(known[0])}"
            )
        ops = parse_ops(ops_text)
        if ops is not None and ops != [str(s) for s in known[1]]:
            self.error(k, f"operations of node #{node} should be {format_ops(known[1])}")

    def explore(self, k: int, rest: str) -> None:
        self.steps += 1
        op_text, sep, nums_text = rest.partition(", Resulting Numbers:")
        step = self.read_step(op_text)
        claimed = parse_numbers(nums_text)
        if step is None or not sep or claimed is None:
            self.error(k, "malformed Exploring Operation line")
            self.last = None
            return
        known = self.state()
        if known is None:
            self.last = (step, None)
            return
        problem = check_step(known[0], step)
        if problem:
            self.error(k, problem)
            self.last = (step, None)
            return
        true_new = apply_step(known[0], step)
        if claimed != true_new and not _same(claimed, true_new):
            self.error(k, f"{step} leaves {format_numbers(true_new)}, not {format_numbers(claimed)}")
        self.last = (step, true_new)

    def generated(self, k: int, rest: str) -> None:
        ident, colon, tail = rest.partition(":")
        ident = ident.strip()
        if not colon or ident.rpartition(",")[0] != self.current:
            self.error(k, f"node #{ident[:30]} is not a child of the current node #{self.current}")
            return
        if ident in self.nodes:
            self.error(k, f"node #{ident} generated twice")
            return
        if self.last is None or self.last[1] is None:
            self.nodes[ident] = None
            return
        step, true_new = self.last
        state_text, _, op_text = tail.partition(" Operation:")
        nums = parse_numbers(state_text.strip().partition(":")[2])
        if nums is None or not _same(nums, true_new) or self.read_step(op_text) != step:
            self.error(k, f"node #{ident} does not restate the last explored operation {step}")
        known = self.state()
        self.nodes[ident] = (true_new, (*known[1], step)) if known else None

    def move(self, k: int, ident: str) -> None:
        self.last = None
        if ident not in self.nodes:
            self.error(k, f"moves to unknown node #{ident[:30]}")
            self.nodes[ident] = None
        elif ident in self.visited:
            self.backtracks += 1
        self.moved_to = ident

    def goal(self, k: int, claim: str) -> None:
        self.goal_claimed = True
        value, _, target = claim.partition(",")
        if not (is_number(value.strip()) and is_number(target.strip())):
            self.errors.insert(0, f"line {k}: malformed goal line")
            return
        known = self.state()
        if self.last is None or self.last[1] is None or known is None:
            self.errors.insert(0, f"line {k}: the goal does not follow a legal operation")
            return
        step, true_new = self.last
        if step.result != self.target or int(value) != self.target:
            self.errors.insert(0, f"line {k}: {step} does not reach the target {self.target}")
            return
        if self.use_all and len(true_new) != 1:
            self.errors.insert(0, f"line {k}: numbers {list(true_new[:-1])} left unused; each must be used")
            return
        self.valid = True
        self.answer = (*known[1], step)


def parse(problem: CountdownProblem, text: str, *, use_all: bool = True) -> ParsedTrace:
    """Read a trace (model-written or ours); never raises on bad text."""
    return _Parser(problem, use_all).run(text)
