"""CountDown's verifier: an expression, a list of steps, or a whole trace, checked exactly.

Model text is untrusted: it is never evaluated as code. Expressions go through the bounded
evaluator in ``arith``, steps and traces through hand parsers, and every step is replayed against
the state it acts on.
"""

from __future__ import annotations

from backtrack.tasks.base import MAX_ANSWER_CHARS, MAX_ANSWER_LINES, Verdict, accept, extract_answer, reject
from backtrack.tasks.countdown.arith import ExpressionError, evaluate_expression
from backtrack.tasks.countdown.problem import CountdownProblem
from backtrack.tasks.countdown.rules import Step, apply_step, check_step, numbers_error, rule_text
from backtrack.tasks.countdown.text import detect_kind, is_number, parse_steps


def verify_text(problem: CountdownProblem, text: str, *, use_all: bool = True) -> Verdict:
    """Check untrusted model text of any kind (see ``detect_kind``); never raises."""
    try:
        return _verify_text(problem, text, use_all)
    except Exception as exc:  # a verifier bug must not crash a reward worker
        return reject(f"verifier error: {type(exc).__name__}: {exc}", "error")


def _verify_text(problem: CountdownProblem, answer: str, use_all: bool) -> Verdict:
    if not isinstance(answer, str):
        return reject(f"answer must be text, got {type(answer).__name__}")
    if len(answer) > MAX_ANSWER_CHARS:
        return reject(f"answer is {len(answer)} characters, over the {MAX_ANSWER_CHARS} limit")
    lines = answer.count("\n") + 1
    if lines > MAX_ANSWER_LINES:
        return reject(f"answer has {lines} lines, over the {MAX_ANSWER_LINES} limit")
    kind = detect_kind(answer)
    if kind == "trace":
        from backtrack.tasks.countdown.formats import dfs

        parsed = dfs.parse(problem, answer, use_all=use_all)
        return Verdict(parsed.valid, parsed.reason, "trace")
    if kind == "compact":
        from backtrack.tasks.countdown.formats import compact

        parsed = compact.parse(problem, answer, use_all=use_all)
        return Verdict(parsed.valid, parsed.reason, "compact")
    if kind == "think":
        from backtrack.tasks.countdown.formats import backtrack_k

        parsed = backtrack_k.parse(problem, answer, use_all=use_all)
        return Verdict(parsed.valid, parsed.reason, "think")
    if kind == "steps":
        return verify_steps(problem, parse_steps(answer), use_all=use_all)
    return verify_expression(problem, extract_answer(answer), use_all=use_all)


def verify_steps(problem: CountdownProblem, steps: list[Step] | str, *, use_all: bool = True) -> Verdict:
    """Replay steps from the problem's numbers; each must be legal on the state it acts on. A string
    is a parser's reason for not reading steps, rejected as it is."""
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
    if use_all and len(numbers) != 1:
        return reject(f"numbers {list(numbers[:-1])} not used; the rule is {rule_text(use_all)}", kind)
    if steps[-1].result != problem.target:
        return reject(f"the last step gives {steps[-1].result}, not the target {problem.target}", kind)
    return accept(f"{len(steps)} legal steps reach {problem.target}", kind)


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
