"""Canonical keys of the answers CountDown text claims, for majority votes.

Voting must count *claims*, not verified answers (else it is the oracle). Every claim reaches the same
number, the target, so voting on the value would be meaningless; the key is the claimed expression
instead, from the goal path of a trace (the operations of the last stated node plus the operation
explored just before ``Goal Reached``), from listed steps, or from an ``<answer>`` expression.
``expression_key`` makes these forms agree: it ignores the order of the operands of ``+`` and ``*``
and how a chain of ``+``/``-`` (or ``*``/``/``) is bracketed (``(a+b)+c`` = ``a+(c+b)``, ``a-(b+c)`` =
``a-b-c``), since ``steps_to_expression`` writes only the brackets it needs. Bounded, and evaluates
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backtrack.tasks.base import extract_answer
from backtrack.tasks.countdown.formats import compact
from backtrack.tasks.countdown.formats.dfs import parse_ops
from backtrack.tasks.countdown.text import detect_kind, parse_step, parse_steps


def answer_key(problem: Any, text: str) -> str | None:
    """The expression ``text`` claims, canonical, or None when it claims none."""
    kind = detect_kind(text)
    if kind in ("trace", "compact"):
        steps = _claimed_goal_path(text) if kind == "trace" else compact.claimed_goal_path(text)
        return None if steps is None else _steps_key(problem.numbers, steps)
    body = extract_answer(text)
    steps = parse_steps(body)
    if isinstance(steps, list) and steps:
        return _steps_key(problem.numbers, steps)
    return expression_key(body.partition("=")[0])


_MAX_KEY_LINES = 20_000


def _claimed_goal_path(text: str) -> list[Any] | None:
    """The steps a Stream-of-Search trace claims reach the goal: None when it claims no goal or the
    claim cannot be read. Only reads what is claimed; whether it is legal is the verifier's job."""
    ops: list[Any] | None = []  # the completion starts at the root, whose operations are []
    last = None
    for raw in text.split("\n", _MAX_KEY_LINES)[:_MAX_KEY_LINES]:
        line = raw.strip()
        if line.startswith("Current State:"):
            _, sep, ops_text = line.partition(", Operations:")
            names = parse_ops(ops_text) if sep else None
            steps = None if names is None else [parse_step(s) for s in names]
            ops = None if steps is None or None in steps else steps
            last = None
        elif line.startswith("Exploring Operation:"):
            last = parse_step(line[len("Exploring Operation:") :].partition(", Resulting Numbers:")[0])
        elif line.endswith(" equal: Goal Reached"):
            return None if ops is None or last is None else [*ops, last]
    return None


_Node = tuple[str, str]
# Subtraction adds a negated term and division multiplies by an inverted factor, so that ``a-b+c``,
# ``a+(c-b)`` and ``c-(b-a)`` share one key (and so do ``a*b/c`` and ``a*(b/c)``).
_CHAIN = {"+": ("+", ""), "-": ("+", "-"), "*": ("*", ""), "/": ("*", "/")}


def _inverted(part: str, mark: str) -> str:
    return part[1:] if part.startswith(mark) else mark + part


def _combine(op: str, left: _Node, right: _Node, children: dict[str, list[str]]) -> _Node:
    """The node ``left op right``: a chain of + and - (or of * and /) is flattened into one node of
    signed terms (or factors), sorted."""
    chain, mark = _CHAIN[op]
    inverse = "-" if chain == "+" else "/"
    parts: list[str] = []
    for node, negate in ((left, False), (right, bool(mark))):
        terms = children[node[1]] if node[0] == chain else [node[1]]
        parts.extend(_inverted(t, inverse) for t in terms) if negate else parts.extend(terms)
    parts.sort()
    text = f"{chain}(" + ",".join(parts) + ")"
    children[text] = parts
    return chain, text


def _steps_key(numbers: Sequence[int], steps: Sequence[Any]) -> str:
    """Canonical expression of a step list. An operand that is not available is kept as its literal
    value: the claim still gets a key, and the verifier rejects it."""
    pool: list[tuple[int, _Node]] = [(v, ("", str(v))) for v in numbers]
    children: dict[str, list[str]] = {}

    def take(value: int) -> _Node:
        for i, (v, node) in enumerate(pool):
            if v == value:
                del pool[i]
                return node
        return "", str(value)

    node: _Node = ("", "")
    for step in steps:
        left, right = take(step.a), take(step.b)
        node = _combine(step.op, left, right, children)
        pool.append((step.result, node))
    return node[1]


_EXPRESSION_CHARS = frozenset("0123456789+-*/() ")
_MAX_EXPRESSION_CHARS = 256
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def expression_key(expression: str) -> str | None:
    """Canonical form of an arithmetic expression (same as ``_steps_key`` of its steps), or None when
    it is not a well-formed expression of integers, + - * / and brackets. Bounded, and evaluates
    nothing: it only rebuilds the tree."""
    text = expression.strip()
    if not text or len(text) > _MAX_EXPRESSION_CHARS or not set(text) <= _EXPRESSION_CHARS:
        return None
    tokens = _expression_tokens(text)
    if tokens is None:
        return None
    children: dict[str, list[str]] = {}
    values: list[_Node] = []
    ops: list[str] = []

    def reduce() -> bool:
        if len(values) < 2:
            return False
        right, left = values.pop(), values.pop()
        values.append(_combine(ops.pop(), left, right, children))
        return True

    expect_operand = True
    for tok in tokens:
        if tok.isdigit():
            if not expect_operand:
                return None
            values.append(("", str(int(tok))))
            expect_operand = False
        elif tok == "(":
            if not expect_operand:
                return None
            ops.append(tok)
        elif tok == ")":
            if expect_operand:
                return None
            while ops and ops[-1] != "(":
                if not reduce():
                    return None
            if not ops:
                return None
            ops.pop()
        else:
            if expect_operand:
                return None
            while ops and ops[-1] != "(" and _PRECEDENCE[ops[-1]] >= _PRECEDENCE[tok]:
                if not reduce():
                    return None
            ops.append(tok)
            expect_operand = True
    while ops:
        if ops[-1] == "(" or not reduce():
            return None
    return values[0][1] if len(values) == 1 and not expect_operand else None


def _expression_tokens(text: str) -> list[str] | None:
    tokens: list[str] = []
    number = ""
    for ch in text:
        if ch.isdigit():
            number += ch
            if len(number) > 12:
                return None
            continue
        if number:
            tokens.append(number)
            number = ""
        if ch != " ":
            tokens.append(ch)
    if number:
        tokens.append(number)
    return tokens
