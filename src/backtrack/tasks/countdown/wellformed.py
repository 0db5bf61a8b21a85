"""Whether CountDown text is a well-formed answer, right or wrong (the format reward's 0.1).

By output kind (``detect_kind``):

- ``trace`` (dfs / direct / think formats): the trace claims the goal (``... equal: Goal Reached``)
  and every line is a line of the format (no malformed or unrecognised line); wrong arithmetic or
  a wrong path is a content error, so still well formed.
- ``compact``: the same, for the compact format's lines.
- ``think`` (backtrack-k): every ``Step`` line is well formed and an ``<answer>`` holds an
  arithmetic expression combining at least two numbers.
- ``steps``: every line parses as ``a op b = c``.
- ``expression``: the answer (after ``<answer>`` extraction, left of any ``=``) is an arithmetic
  expression combining at least two numbers.

An empty or truncated output is not well formed.
"""

from __future__ import annotations

from backtrack.tasks.base import MAX_ANSWER_CHARS, extract_answer
from backtrack.tasks.countdown.arith import ExpressionError, evaluate_expression
from backtrack.tasks.countdown.problem import CountdownProblem
from backtrack.tasks.countdown.text import detect_kind, parse_steps

# Parser errors that are about the form of a line rather than its content (see formats.dfs._Parser).
_FORM_ERRORS = ("malformed", "unrecognized line", "stopped reading")


def well_formed(problem: CountdownProblem, text: str, *, use_all: bool = True) -> bool:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_ANSWER_CHARS:
        return False
    kind = detect_kind(text)
    if kind == "trace":
        from backtrack.tasks.countdown.formats import dfs

        parsed = dfs.parse(problem, text, use_all=use_all)
        return parsed.goal_claimed and not any(m in e for e in parsed.errors for m in _FORM_ERRORS)
    if kind == "compact":
        from backtrack.tasks.countdown.formats import compact

        parsed = compact.parse(problem, text, use_all=use_all)
        return parsed.goal_claimed and not any(m in e for e in parsed.errors for m in _FORM_ERRORS)
    if kind == "think":
        from backtrack.tasks.countdown.formats import backtrack_k

        parsed = backtrack_k.parse(problem, text, use_all=use_all)
        malformed = any("malformed" in e for e in parsed.errors)
        return parsed.goal_claimed and not malformed and is_expression(str(parsed.answer))
    if kind == "steps":
        return not isinstance(parse_steps(text), str)
    return is_expression(extract_answer(text))


def is_expression(text: str) -> bool:
    """An arithmetic expression (``expr`` or ``expr = n``) of at least two numbers; its value and which
    numbers it uses are content, not form."""
    try:
        _, literals = evaluate_expression(text.partition("=")[0], positive_integers=False)
    except ExpressionError:
        return False
    return len(literals) >= 2
