"""Pieces shared by tasks whose answer is one short value in an ``<answer>...</answer>`` block.

The reasoning-gym tasks (list_functions, zebra_puzzles, self_reference) ask for a single final value
(a list, a name, a count), so their verifiers share the same first steps: refuse non-text and
over-long text before reading anything, then read the last answer block. Their ``direct`` format
is the same shape too: ``<think>short reasoning</think>`` then the answer block.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backtrack.tasks.base import MAX_ANSWER_CHARS, Verdict, extract_answer, reject
from backtrack.traces.base import ParsedTrace, Trace

OPEN, CLOSE = "<answer>", "</answer>"


def answer_block(text: str) -> str | None:
    """The stripped content of the last complete ``<answer>...</answer>`` block, or None."""
    end = text.rfind(CLOSE)
    if end == -1 or text.rfind(OPEN, 0, end) == -1:
        return None
    return extract_answer(text)


def checked_answer(text: object, kind: str) -> str | Verdict:
    """The answer text to parse (the answer block when there is one, else the whole text), or the
    rejection for input that is not text or is too long to read."""
    if not isinstance(text, str):
        return reject(f"answer must be text, got {type(text).__name__}", kind)
    if len(text) > MAX_ANSWER_CHARS:
        return reject(f"answer is {len(text)} characters, over the {MAX_ANSWER_CHARS} limit", kind)
    return extract_answer(text)


def parse_small_int(text: str, max_digits: int) -> int | None:
    """An optionally signed integer of ASCII digits (at most ``max_digits``), or None.

    ``str.isdigit`` alone accepts '٣' and '²', and ``int`` accepts '1_000' and refuses over 4300
    digits, so the characters and the length are checked before ``int`` sees the text.
    """
    body = text[1:] if text[:1] in "+-" else text
    if not body or len(body) > max_digits or not (body.isascii() and body.isdigit()):
        return None
    return int(text)


@dataclass(frozen=True, slots=True)
class ThinkAnswerFormat:
    """The ``direct`` format: ``<think>{think(problem)}</think>`` then ``<answer>{reference}</answer>``.

    ``think`` writes the short reasoning from the task's exact solution; ``answer`` is the task's
    reference answer; ``verify`` and ``answer_key`` are the task's own, so a parsed trace is valid
    exactly when the task's verifier accepts the text.
    """

    think: Callable[[Any], str]
    answer: Callable[[Any], str]
    verify: Callable[[Any, str], Verdict]
    answer_key: Callable[[Any, str], str | None]

    def render(self, problem: Any, rng: random.Random | None = None, **options: Any) -> Trace:
        if options:
            raise ValueError(f"the direct format takes no options, got {', '.join(sorted(options))}")
        answer = self.answer(problem)
        text = f"<think>{self.think(problem)}</think>\n{OPEN}{answer}{CLOSE}"
        return Trace(text=text, solved=True, backtracks=0, dead_ends=0, steps=1, answer=answer)

    def parse(self, problem: Any, text: str, **options: Any) -> ParsedTrace:
        if options:
            raise ValueError(f"the direct format takes no options, got {', '.join(sorted(options))}")
        claimed = isinstance(text, str) and len(text) <= MAX_ANSWER_CHARS and answer_block(text) is not None
        verdict = self.verify(problem, text)
        return ParsedTrace(
            goal_claimed=claimed,
            valid=verdict.ok and claimed,
            backtracks=0,
            dead_ends=0,
            steps=1 if claimed else 0,
            answer=self.answer_key(problem, text) if claimed else None,
            errors=[] if verdict.ok and claimed else [verdict.reason if claimed else "no <answer> block"],
        )


def load_small_json(text: str, *, max_chars: int, max_depth: int, form: str) -> Any:
    """JSON from a command line, after bounding its length and bracket nesting (``json`` recurses
    per level). ``form`` shows the accepted notation in the error message."""
    import json

    if not isinstance(text, str) or len(text) > max_chars:
        raise ValueError(f"the problem must be JSON text of at most {max_chars} characters, like {form}")
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    if deepest > max_depth:
        raise ValueError(
            f"the problem nests brackets {deepest} deep (at most {max_depth}); write it like {form}"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the problem is not valid JSON ({exc.msg}); write it like {form}") from None
