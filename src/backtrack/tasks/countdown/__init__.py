"""The CountDown task package: everything about the game lives here.

``task`` (the ``Countdown`` task object), ``problem`` (config and problem type), ``rules`` (legal
steps, solvability), ``text`` (reading steps and output kinds from model text), ``verify`` and
``arith`` (the safe verifier), ``keys`` (answer keys for majority votes), ``wellformed`` (the format
reward's check), ``search`` (DFS / beam / exhaustive search emitting events), ``formats`` (the trace
formats) and ``vocab`` (the tokenizer's literals).
"""

from backtrack.tasks.base import extract_answer
from backtrack.tasks.countdown.problem import CountdownConfig, CountdownProblem
from backtrack.tasks.countdown.rules import (
    OPS,
    Step,
    apply_step,
    check_step,
    combine,
    numbers_error,
    reachable_values,
    reaches,
    rule_text,
    steps_to_expression,
)
from backtrack.tasks.countdown.task import Countdown
from backtrack.tasks.countdown.text import detect_kind, is_number, parse_step, parse_steps
from backtrack.tasks.countdown.verify import verify_expression

__all__ = [
    "OPS",
    "Countdown",
    "CountdownConfig",
    "CountdownProblem",
    "Step",
    "apply_step",
    "check_step",
    "combine",
    "detect_kind",
    "extract_answer",
    "is_number",
    "numbers_error",
    "parse_step",
    "parse_steps",
    "reachable_values",
    "reaches",
    "rule_text",
    "steps_to_expression",
    "verify_expression",
]
