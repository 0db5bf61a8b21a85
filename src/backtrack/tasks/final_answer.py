"""Pieces shared by tasks whose answer is one short value in an ``<answer>...</answer>`` block.

The reasoning-gym tasks (list_functions, zebra_puzzles, self_reference) ask for a single final value
(a list, a name, a count), so their verifiers share the same first steps: refuse non-text and
over-long text before reading anything, then read the last answer block. Their ``direct`` format
is the same shape too: ``<think>short reasoning</think>`` then the answer block.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from backtrack.tasks.base import MAX_ANSWER_CHARS, TaskBase, Verdict, extract_answer, reject
from backtrack.traces.base import Format, ParsedTrace, Trace

OPEN, CLOSE = "<answer>", "</answer>"
KIND = "answer"  # the verdict kind of every final-answer task (TaskBase.output_kind says the same)


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


def check_config(config: Any, **bounds: tuple[int, int]) -> None:
    """Validate a final-answer task's config: ``test_fraction`` in [0, 1), every other field an
    integer within its ``bounds`` (``max_tries`` in 1..10000 unless told otherwise)."""
    bounds = {"max_tries": (1, 10_000), **bounds}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name == "test_fraction":
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
                raise ValueError(f"test_fraction must be a number in [0, 1), got {value!r}")
            continue
        low, high = bounds[f.name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{f.name} must be an integer in {low}..{high}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an answer text could not be read (``read_answer`` returns it instead of a value)."""

    reason: str


Value = TypeVar("Value")


class FinalAnswerTask(TaskBase, Generic[Value]):
    """What list_functions, zebra_puzzles and self_reference share on top of ``TaskBase``: a verifier
    built from three task-specific steps, answer keys and well-formedness from the same reader, and
    the ``direct`` format.

    A subclass (a dataclass with a ``config`` field, ``name`` and ``config_class``) supplies
    ``read_answer`` (answer text -> claimed value, or a ``Rejection`` saying why it is unreadable),
    ``format_value`` (claimed value -> canonical text, the answer key), ``check`` (claimed value ->
    Verdict against the exact solution) and ``think`` (the direct format's short reasoning), besides
    the problem methods. Splits are by a hash of ``content_key`` (``TaskBase.split_of``): reasoning-gym's
    item i of seed s is item i-1 of seed s+1, so a split by seed would leak.
    """

    # ---- supplied by each task ------------------------------------------------------------
    def read_answer(self, problem: Any, answer: str) -> Value | Rejection:
        raise NotImplementedError

    def format_value(self, value: Value) -> str:
        raise NotImplementedError

    def check(self, problem: Any, value: Value) -> Verdict:
        raise NotImplementedError

    def think(self, problem: Any) -> str:
        raise NotImplementedError

    # ---- verifying ------------------------------------------------------------------------
    def _claimed(self, problem: Any, text: str) -> Any:
        answer = checked_answer(text, KIND)
        if isinstance(answer, Verdict):
            return answer
        value = self.read_answer(problem, answer)
        return reject(value.reason, KIND) if isinstance(value, Rejection) else value

    def verify(self, problem: Any, text: str) -> Verdict:
        """Check untrusted text: the answer block (or the whole text, without one) is read by a
        bounded parser and compared exactly with the solution; every rejection says why."""
        try:
            claimed = self._claimed(problem, text)
            return claimed if isinstance(claimed, Verdict) else self.check(problem, claimed)
        except Exception as exc:  # a verifier bug must not crash a reward worker
            return reject(f"verifier error: {type(exc).__name__}: {exc}", "error")

    def answer_key(self, problem: Any, text: str) -> str | None:
        """The claimed answer written canonically (for majority votes), or None when unreadable."""
        claimed = self._claimed(problem, text)
        return None if isinstance(claimed, Verdict) else self.format_value(claimed)

    def well_formed(self, problem: Any, text: str) -> bool:
        """An ``<answer>`` block whose content reads as an answer of the right shape (right or wrong)."""
        if not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS:
            return False
        block = answer_block(text)
        return block is not None and not isinstance(self.read_answer(problem, block), Rejection)

    # ---- the direct format ------------------------------------------------------------------
    def render_direct(self, problem: Any, rng: random.Random | None = None) -> Trace:
        """``<think>{think(problem)}</think>`` then ``<answer>{reference answer}</answer>``."""
        answer = self.reference_answer(problem)
        text = f"<think>{self.think(problem)}</think>\n{OPEN}{answer}{CLOSE}"
        return Trace(text=text, solved=True, backtracks=0, dead_ends=0, steps=1, answer=answer)

    def parse_direct(self, problem: Any, text: str) -> ParsedTrace:
        """Valid exactly when the text has an answer block and the verifier accepts it."""
        claimed = isinstance(text, str) and len(text) <= MAX_ANSWER_CHARS and answer_block(text) is not None
        verdict = self.verify(problem, text)
        valid = verdict.ok and claimed
        return ParsedTrace(
            goal_claimed=claimed,
            valid=valid,
            backtracks=0,
            dead_ends=0,
            steps=1 if claimed else 0,
            answer=self.answer_key(problem, text) if claimed else None,
            errors=[] if valid else [verdict.reason if claimed else "no <answer> block"],
        )

    def formats(self) -> dict[str, Format]:
        return {"direct": Format(self.render_direct, self.parse_direct)}
