"""Reading CountDown answers from model text: steps ``a op b = r``, lists of steps, the output kind.

Bounded hand parsers over ASCII digits; nothing here evaluates text.
"""

from __future__ import annotations

from backtrack.tasks.base import extract_answer
from backtrack.tasks.countdown.rules import OPS, Step


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
    """Which kind of output this is: 'trace' (dfs/think), 'compact', 'think' (backtrack-k), 'steps' or
    'expression'."""
    if text.startswith("Try ") or "\nTry " in text:  # before "trace": its prompt is a Current State line
        return "compact"
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
