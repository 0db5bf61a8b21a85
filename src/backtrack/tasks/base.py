"""What every task shares: the verdict type, the task protocol, and input bounds for verifiers.

A verifier is a security boundary: it receives untrusted model text. It never evaluates that text as
code; it parses it with a bounded hand parser, computes exactly, and always returns a ``Verdict``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

# Model output longer than these is rejected before any parsing, which keeps every verdict within
# ~50 ms: a 4096-token output has at most 4096 lines, and the longest 4-number CountDown DFS trace
# we render (~135k characters) has ~3,200.
MAX_ANSWER_CHARS = 200_000
MAX_ANSWER_LINES = 4_096


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking one answer: ``ok`` and a human-readable ``reason``."""

    ok: bool
    reason: str
    kind: str = ""  # which kind of output was checked: "expression", "steps", "trace", "grid", ...

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "kind": self.kind}


def extract_answer(text: str) -> str:
    """The content of the last ``<answer>...</answer>`` (stripped), or the whole text stripped."""
    end = text.rfind("</answer>")
    if end != -1:
        start = text.rfind("<answer>", 0, end)
        if start != -1:
            return text[start + len("<answer>") : end].strip()
    return text.strip()


def reject(reason: str, kind: str = "") -> Verdict:
    return Verdict(False, reason, kind)


def accept(reason: str = "correct", kind: str = "") -> Verdict:
    return Verdict(True, reason, kind)


@runtime_checkable
class Task(Protocol):
    """A puzzle family. Problems and solutions are plain frozen dataclasses with ``to_dict``."""

    name: ClassVar[str]

    def generate(self, rng: random.Random) -> Any: ...

    def solve(self, problem: Any) -> Any | None: ...

    def verify(self, problem: Any, answer: str) -> Verdict: ...

    def prompt(self, problem: Any) -> str: ...

    def problem_from_dict(self, row: dict[str, Any]) -> Any: ...
