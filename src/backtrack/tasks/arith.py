"""A bounded, exact evaluator for untrusted arithmetic text (CountDown answers).

Hand-written rather than ``ast.parse`` + a node walker: ``ast.parse`` itself recurses without a
bound on nesting (deeply nested brackets raise ``RecursionError``/``MemoryError`` inside CPython's
parser) and accepts far more syntax than we want to think about. This grammar is four operators,
brackets and ASCII integers; every size is bounded before any arithmetic happens.

    expr   := term (("+" | "-") term)*
    term   := factor (("*" | "/") factor)*
    factor := INT | "(" expr ")"
"""

from __future__ import annotations

from fractions import Fraction

MAX_EXPRESSION_CHARS = 1_000
MAX_DEPTH = 32
MAX_LITERAL_DIGITS = 9
MAX_LITERALS = 32
_ALLOWED = frozenset("0123456789+-*/() \t")


class ExpressionError(ValueError):
    """The text is not an acceptable expression; the message says why."""


def _tokenize(text: str) -> list[str]:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch not in _ALLOWED:
            shown = ch if ch.isprintable() else repr(ch)
            raise ExpressionError(f"character {shown!r} is not allowed; use digits, + - * / and brackets")
        if ch in " \t":
            i += 1
        elif ch.isdigit():
            j = i
            while j < n and text[j] in "0123456789":
                j += 1
            literal = text[i:j]
            if len(literal) > MAX_LITERAL_DIGITS:
                raise ExpressionError(f"number {literal[:12]}... is too long")
            if len(literal) > 1 and literal[0] == "0":
                raise ExpressionError(f"number {literal} has a leading zero")
            tokens.append(literal)
            i = j
        else:
            if ch == "*" and i + 1 < n and text[i + 1] == "*":
                raise ExpressionError("'**' (power) is not allowed")
            tokens.append(ch)
            i += 1
    if not tokens:
        raise ExpressionError("empty expression")
    if sum(t[0].isdigit() for t in tokens) > MAX_LITERALS:
        raise ExpressionError(f"more than {MAX_LITERALS} numbers")
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], positive_integers: bool) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.literals: list[int] = []
        self.positive_integers = positive_integers

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expr(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.tokens[self.pos]
            self.pos += 1
            value = self.apply(value, op, self.term())
        return value

    def term(self) -> Fraction:
        value = self.factor()
        while self.peek() in ("*", "/"):
            op = self.tokens[self.pos]
            self.pos += 1
            value = self.apply(value, op, self.factor())
        return value

    def factor(self) -> Fraction:
        tok = self.peek()
        if tok is None:
            raise ExpressionError("expression ends early")
        if tok == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExpressionError(f"brackets nested deeper than {MAX_DEPTH}")
            self.pos += 1
            value = self.expr()
            if self.peek() != ")":
                raise ExpressionError("unbalanced brackets: missing ')'")
            self.pos += 1
            self.depth -= 1
            return value
        if tok[0].isdigit():
            self.pos += 1
            self.literals.append(int(tok))
            return Fraction(int(tok))
        if tok in "+-":
            raise ExpressionError(f"unary {tok!r} is not allowed")
        raise ExpressionError(f"unexpected {tok!r}")

    def apply(self, x: Fraction, op: str, y: Fraction) -> Fraction:
        if op == "+":
            out = x + y
        elif op == "-":
            out = x - y
        elif op == "*":
            out = x * y
        else:
            if y == 0:
                raise ExpressionError("division by zero")
            out = x / y
        if self.positive_integers and (out.denominator != 1 or out <= 0):
            raise ExpressionError(
                f"{_show(x)}{op}{_show(y)} = {_show(out)}: every intermediate must be a positive integer"
            )
        return out


def _show(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def evaluate_expression(text: str, *, positive_integers: bool = True) -> tuple[Fraction, list[int]]:
    """The exact value of ``text`` and the integer literals it uses, in order.

    Sizes are bounded (length, nesting, digits per literal, number of literals), so the work is
    bounded; with ``positive_integers`` every intermediate must be a positive integer (the game's rule).
    Raises ``ExpressionError`` with a reason for anything else.
    """
    parser = _Parser(_tokenize(text), positive_integers)
    value = parser.expr()
    if parser.pos != len(parser.tokens):
        tok = parser.tokens[parser.pos]
        raise ExpressionError("unbalanced brackets: extra ')'" if tok == ")" else f"unexpected {tok!r}")
    return value, parser.literals
