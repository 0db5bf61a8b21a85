"""A bounded, exact evaluator for untrusted arithmetic text (CountDown answers).

Hand-written rather than ``ast.parse`` + a node walker: ``ast.parse`` recurses without a bound on
nesting (deeply nested brackets raise ``RecursionError``/``MemoryError`` inside CPython's parser) and
accepts far more syntax than we want to reason about. The grammar is four binary operators, brackets
and ASCII integers; every size is bounded before any arithmetic happens, and evaluation is an
iterative shunting-yard (no recursion, so nesting depth cannot exhaust the stack).

With ``positive_integers`` (the game's rule: every intermediate a positive integer) arithmetic stays
in ``int`` (exact division is checked with ``%``); otherwise it is exact ``Fraction`` arithmetic.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_EXPRESSION_CHARS = 1_000
MAX_DEPTH = 32
MAX_LITERAL_DIGITS = 9
MAX_LITERALS = 32
_ALLOWED = frozenset("0123456789+-*/() \t")
_TOKEN = re.compile(r"[0-9]+|[-+*/()]", re.ASCII)
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


class ExpressionError(ValueError):
    """The text is not an acceptable expression; the message says why."""


def _tokenize(text: str) -> list[str]:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    if not _ALLOWED.issuperset(text):
        bad = next(ch for ch in text if ch not in _ALLOWED)
        shown = bad if bad.isprintable() else repr(bad)
        raise ExpressionError(f"character {shown!r} is not allowed; use digits, + - * / and brackets")
    if "**" in text.replace(" ", ""):
        raise ExpressionError("'**' (power) is not allowed")
    tokens = _TOKEN.findall(text)
    if not tokens:
        raise ExpressionError("empty expression")
    return tokens


def _show(x: int | Fraction) -> str:
    if isinstance(x, int) or x.denominator == 1:
        return str(int(x))
    return f"{x.numerator}/{x.denominator}"


def _apply(op: str, x: int | Fraction, y: int | Fraction, positive_integers: bool) -> int | Fraction:
    if positive_integers:
        if op == "+":
            out = x + y
        elif op == "*":
            out = x * y
        elif op == "-":
            out = x - y
        elif y == 0:
            raise ExpressionError("division by zero")
        elif x % y:
            raise ExpressionError(f"{_show(x)}/{_show(y)} is not a whole number; division must be exact")
        else:
            out = x // y
        if out <= 0:
            raise ExpressionError(
                f"{_show(x)}{op}{_show(y)} = {_show(out)}: every intermediate must be a positive integer"
            )
        return out
    x, y = Fraction(x), Fraction(y)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        raise ExpressionError("division by zero")
    return x / y


def evaluate_expression(text: str, *, positive_integers: bool = True) -> tuple[int | Fraction, list[int]]:
    """The exact value of ``text`` and the integer literals it uses, in order.

    Sizes are bounded (length, nesting, digits per literal, number of literals), so the work is
    bounded. Raises ``ExpressionError`` with a reason for anything else, including unary signs.
    """
    tokens = _tokenize(text)
    values: list[int | Fraction] = []
    ops: list[str] = []
    literals: list[int] = []
    depth = 0
    expect_operand = True
    precedence_of = _PRECEDENCE

    def reduce() -> None:
        op = ops.pop()
        y = values.pop()
        values[-1] = _apply(op, values[-1], y, positive_integers)

    for tok in tokens:
        if expect_operand:
            if tok == "(":
                depth += 1
                if depth > MAX_DEPTH:
                    raise ExpressionError(f"brackets nested deeper than {MAX_DEPTH}")
                ops.append(tok)
            elif tok in precedence_of:
                raise ExpressionError(
                    f"unary {tok!r} is not allowed" if tok in "+-" else f"unexpected {tok!r}"
                )
            elif tok == ")":
                raise ExpressionError("unexpected ')'")
            else:
                if len(tok) > 1 and (tok[0] == "0" or len(tok) > MAX_LITERAL_DIGITS):
                    if tok[0] == "0":
                        raise ExpressionError(f"number {tok[:12]} has a leading zero")
                    raise ExpressionError(f"number {tok[:12]}... is too long")
                value = int(tok)
                literals.append(value)
                values.append(value)
                expect_operand = False
        elif tok == ")":
            while ops and ops[-1] != "(":
                reduce()
            if not ops:
                raise ExpressionError("unbalanced brackets: extra ')'")
            ops.pop()
            depth -= 1
        elif tok in precedence_of:
            precedence = precedence_of[tok]
            while ops and ops[-1] != "(" and precedence_of[ops[-1]] >= precedence:
                reduce()
            ops.append(tok)
            expect_operand = True
        else:
            raise ExpressionError(f"unexpected {tok!r} after a number")
    if len(literals) > MAX_LITERALS:
        raise ExpressionError(f"more than {MAX_LITERALS} numbers")
    if expect_operand:
        raise ExpressionError("expression ends early")
    while ops:
        if ops[-1] == "(":
            raise ExpressionError("unbalanced brackets: missing ')'")
        reduce()
    return values[0], literals
