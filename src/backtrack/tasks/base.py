"""What every task shares: the verdict type, the ``Task`` protocol, ``TaskBase`` defaults, input bounds.

A task is one package ``backtrack.tasks.<name>`` that owns everything about its puzzle (rules,
generator, solver, verifier, trace formats, vocabulary); generic modules (datasets, rewards, sampling,
the CLI, tokenizers) call only what ``Task`` names here and never branch on a task's name.

A verifier is a security boundary: it receives untrusted model text. It never evaluates that text as
code; it parses it with a bounded hand parser, computes exactly, and always returns a ``Verdict``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from backtrack.traces.base import Trace, TraceFormat

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
    """A puzzle family: everything generic code may ask of a task. ``TaskBase`` implements the parts
    marked *default*; a task package subclasses it and writes the rest.

    Problems are frozen dataclasses with ``to_dict()``; ``problem_from_dict`` is its inverse (dataset
    rows, ``backtrack verify --input``), and ignores keys it does not know.
    """

    name: ClassVar[str]
    config: Any  # a frozen dataclass of options, validated in its __post_init__

    @classmethod
    def from_config(cls, **options: Any) -> Task:
        """The task with these config fields overridden; an unknown or bad option is a ValueError
        naming it. *default* (``TaskBase``: from ``config_class``)."""
        ...

    def config_dict(self) -> dict[str, Any]:
        """The full config as JSON-able values (metadata, tokenizer config). *default*"""
        ...

    def generate(self, rng: random.Random) -> Any:
        """A random problem; the same ``rng`` state gives the same problem."""
        ...

    def problem_from_dict(self, row: Mapping[str, Any]) -> Any:
        """The problem of a dataset row (``Problem.to_dict()`` plus other columns, ignored)."""
        ...

    def parse_problem(self, text: str) -> Any:
        """A problem in the task's own notation (the CLI's ``backtrack solve TASK TEXT``); ValueError
        with a message showing the accepted form (also for ``""``)."""
        ...

    def content_key(self, problem: Any) -> str:
        """The problem's identity, for de-duplication and the train/test split."""
        ...

    def split_of(self, problem: Any) -> str:
        """``"train"`` or ``"test"``, decided by content only. *default* (a hash of ``content_key``)."""
        ...

    def solve(self, problem: Any) -> Any | None:
        """A solution by the exact solver (the task's own object), or None when there is none."""
        ...

    def reference_answer(self, problem: Any, trace: Trace | None = None) -> str:
        """A correct final answer as text: the dataset's ``solution`` column, and what ``verify``
        accepts inside ``<answer>...</answer>``. ``trace`` is a rendered trace of the problem; a task
        whose traces carry a solution (``trace.answer``) answers with it, so the column agrees with
        the trace; others ignore it. ``""`` when the problem has no solution."""
        ...

    def prompt(self, problem: Any) -> str:
        """The natural-language (or grid) prompt a model is given."""
        ...

    def verify(self, problem: Any, text: str) -> Verdict:
        """Check untrusted model text (reads ``<answer>...</answer>`` when present); never raises."""
        ...

    def answer_key(self, problem: Any, text: str) -> str | None:
        """The answer ``text`` claims, canonical (equal claims, equal keys), for majority votes; None
        when it claims none. Never checks correctness. *default* (the stripped ``<answer>`` body)."""
        ...

    def output_kind(self, text: str) -> str:
        """Which of the task's answer forms ``text`` is in (``Verdict.kind`` of its verdict), so a
        format reward can accept only the forms a model was trained to write. *default* ``"answer"``."""
        ...

    def well_formed(self, problem: Any, text: str) -> bool:
        """Whether ``text`` is a complete answer in one of the task's forms, right or wrong (the format
        reward: 1 correct, 0.1 well formed but wrong, 0 otherwise). Never raises."""
        ...

    def formats(self) -> Mapping[str, TraceFormat]:
        """Trace formats by name, bound to this task's config."""
        ...

    def vocabulary(self) -> list[str] | None:
        """Literals for a word-level tokenizer (every string the formats and prompt write must split
        into them, digits and whitespace aside), or None for the generic character-level one.
        *default* None."""
        ...


DEFAULT_TEST_FRACTION = 0.1


class TaskBase:
    """Defaults for the parts of ``Task`` that most tasks share. Subclass it as a dataclass with a
    ``config`` field and set ``name`` and ``config_class``::

        @dataclass
        class Nim(TaskBase):
            name: ClassVar[str] = "nim"
            config_class: ClassVar[type] = NimConfig
            config: NimConfig = field(default_factory=NimConfig)
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    config: Any

    def __init__(self, config: Any = None) -> None:  # replaced by the subclass's dataclass __init__
        self.config = self.config_class() if config is None else config

    @classmethod
    def from_config(cls, **options: Any) -> Any:
        known = {f.name for f in dataclasses.fields(cls.config_class)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(
                f"unknown {cls.name} option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(cls.config_class(**options))

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def split_of(self, problem: Any) -> str:
        """A stable hash of the content key against the config's ``test_fraction`` (0.1 without one),
        so a problem always lands in the same split, whatever the seed or index."""
        fraction = getattr(self.config, "test_fraction", DEFAULT_TEST_FRACTION)
        key = f"{self.name}:{self.content_key(problem)}".encode()  # type: ignore[attr-defined]
        share = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64
        return "test" if share < fraction else "train"

    def answer_key(self, problem: Any, text: str) -> str | None:
        del problem
        body = extract_answer(text) if isinstance(text, str) else ""
        return body or None

    def output_kind(self, text: str) -> str:
        del text
        return "answer"

    def vocabulary(self) -> list[str] | None:
        return None
