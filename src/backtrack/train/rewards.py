"""Verifiable rewards for GRPO, in TRL's reward-function shape, and a guard for any reward callable.

A TRL reward function is called once per generation batch as ``fn(prompts=..., completions=...,
completion_ids=..., **columns)`` and returns one ``float`` (or ``None``) per completion; every dataset
column other than ``prompt``/``completion`` arrives as a keyword holding one value per completion, plus
TRL's own keywords (``trainer_state``, ``log_metric``, ``log_extra``).

- ``verifier_reward(task)`` scores a completion with the task's own verifier, the problem rebuilt from
  the row's columns (``task.problem_from_dict``). ``scheme="binary"``: 1 when correct, else 0.
  ``scheme="format"``: paper 2's 1 / 0.1 / 0 — 1 when correct, 0.1 when the output is *well formed*
  but wrong (``task.well_formed``), 0 otherwise.
- ``safe_reward(fn)`` wraps any callable so that one bad completion cannot poison a batch or turn into
  a silent wrong gradient: a completion whose reward raises or is not a finite number gets 0.0 and a
  logged warning naming its index and the reason; a return that cannot be matched to the completions
  (wrong length, not a list) raises ``RewardError``. Failures are counted on the wrapper and reported to
  the trainer as ``rewards/<name>/failures`` (the share of completions whose reward failed).
- ``resolve_reward("binary" | "format" | "module:function", task)`` turns a name into a callable.

Verifiers see the completion only, as the evaluation does (``backtrack.sample``): the prompt states the
problem, the completion is the model's answer (a trace, steps, an expression or a grid).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
import numbers
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "FORMAT_REWARD",
    "REWARD_SCHEMES",
    "RewardError",
    "SafeReward",
    "expected_kinds",
    "resolve_reward",
    "safe_reward",
    "verifier_reward",
    "well_formed",
]

logger = logging.getLogger(__name__)

REWARD_SCHEMES = ("binary", "format")
FORMAT_REWARD = 0.1  # paper 2: a well-formed but wrong answer earns a tenth of a correct one
MAX_WARNINGS_PER_CALL = 8  # a reward that fails on a whole batch logs this many lines, then a summary

RewardFunc = Callable[..., list[float | None]]


class RewardError(ValueError):
    """A reward function's output cannot be matched to the completions it was asked to score."""


# ---- the task verifier as a reward ------------------------------------------------------------
def verifier_reward(task: Any, scheme: str = "binary", *, kinds: Sequence[str] | None = None) -> RewardFunc:
    """A reward function that checks each completion with ``task.verify``.

    ``scheme="binary"`` pays 1.0 for a correct answer and 0.0 otherwise; ``scheme="format"`` pays 1.0,
    ``FORMAT_REWARD`` (0.1) for a well-formed wrong answer, 0.0 otherwise. ``kinds`` restricts what
    counts as well formed to those output kinds (e.g. ``{"trace"}`` for a DFS-trace model, so a bare
    expression is not rewarded for its form); ``None`` accepts every kind the task reads. The problem of
    each completion is ``task.problem_from_dict`` of its row's columns (``numbers`` and ``target`` for
    CountDown, ``puzzle`` and ``solution`` for Sudoku), which TRL passes as keyword lists.
    """
    if scheme not in REWARD_SCHEMES:
        raise ValueError(f"unknown reward scheme {scheme!r} (known: {', '.join(REWARD_SCHEMES)})")
    if scheme == "format":
        for method in ("well_formed", "output_kind"):  # unsupported tasks fail here, not at the first batch
            if not callable(getattr(task, method, None)):
                raise ValueError(f"the format reward needs task.{method}; {task!r} has none")
    allowed = frozenset(kinds) if kinds is not None else None

    def reward(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
        rows = _rows(columns, len(completions))
        scores = []
        for text, row in zip(completions, rows, strict=True):
            problem = task.problem_from_dict(row)
            answer = _text(text)
            if task.verify(problem, answer).ok:
                scores.append(1.0)
            elif scheme == "format" and well_formed(task, problem, answer, kinds=allowed):
                scores.append(FORMAT_REWARD)
            else:
                scores.append(0.0)
        return scores

    reward.__name__ = "verifier" if scheme == "binary" else "verifier_format"  # TRL's metric name
    reward.__qualname__ = reward.__name__
    return reward


def _rows(columns: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Per-completion rows from TRL's column keywords; scalars and callables (``trainer_state``,
    ``log_metric``) are TRL's own arguments, not columns."""
    lists = {k: v for k, v in columns.items() if isinstance(v, list) and len(v) == n}
    return [{k: v[i] for k, v in lists.items()} for i in range(n)]


def _text(completion: Any) -> str:
    """A completion's text: plain prompts give strings; a conversational one would be a message list."""
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return completion if isinstance(completion, str) else str(completion)


# ---- "well formed": the output is in one of the task's answer forms and commits to an answer ------
def well_formed(task: Any, problem: Any, text: str, *, kinds: frozenset[str] | None = None) -> bool:
    """Whether ``text`` is a well-formed answer to ``problem``, right or wrong (``task.well_formed``:
    in one of the task's answer forms, complete, every line readable; see each task's docs).

    ``kinds`` restricts the forms accepted to those ``task.output_kind`` names (e.g. ``{"trace"}`` for a
    DFS-trace model, so a bare expression is not rewarded for its form). An empty or truncated output
    is never well formed.
    """
    if not isinstance(text, str):
        return False
    if kinds is not None and task.output_kind(text) not in kinds:
        return False
    return bool(task.well_formed(problem, text))


def expected_kinds(task: Any, completions: Sequence[str]) -> frozenset[str]:
    """The output kinds of reference completions (a dataset's ``completion`` column): what a model
    trained on them should write, so what ``verifier_reward(..., kinds=...)`` should accept."""
    return frozenset(task.output_kind(text) for text in completions)


# ---- guarding any reward callable -------------------------------------------------------------
class SafeReward:
    """``fn`` made safe to train on (see ``safe_reward``). Callable like ``fn``; TRL names its metrics
    after ``__name__`` (``rewards/<name>/mean``)."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, *, allow_none: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"a reward function must be callable, got {type(fn).__name__}")
        if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__):
            raise TypeError("async reward functions are not supported by safe_reward; pass a plain function")
        self.fn = fn
        self.__name__ = name or _callable_name(fn)
        self.allow_none = allow_none
        self.failures = 0  # completions whose reward failed and was set to 0.0, over all calls
        self.scored = 0  # completions scored, over all calls
        self.reasons: Counter[str] = Counter()  # failures by kind ("returned None", ...), over all calls

    def __repr__(self) -> str:
        return f"safe_reward({self.__name__}, failures={self.failures}/{self.scored})"

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        n = len(completions)
        if len(prompts) != n:
            raise RewardError(f"{len(prompts)} prompts for {n} completions")
        failed: dict[int, str] = {}
        try:
            raw = self.fn(prompts=prompts, completions=completions, **kwargs)
        except Exception as exc:
            # The batch call failed: score each completion alone, so only the ones that fail get 0.0.
            logger.debug(
                "reward %r raised on the batch (%s); scoring completions one by one", self.__name__, exc
            )
            values = [self._one(prompts, completions, kwargs, i, failed) for i in range(n)]
        else:
            items = self._as_list(raw, n)
            values = [self._check(items[i], i, failed) for i in range(n)]
        self._record(failed, n, kwargs.get("log_metric"))
        return values

    def _one(
        self,
        prompts: list[Any],
        completions: list[Any],
        kwargs: dict[str, Any],
        i: int,
        failed: dict[int, str],
    ) -> float | None:
        """The reward of completion ``i`` alone: every per-completion list cut to its ``i``-th item."""
        n = len(completions)
        alone = {k: v[i : i + 1] if isinstance(v, list) and len(v) == n else v for k, v in kwargs.items()}
        try:
            raw = self.fn(prompts=prompts[i : i + 1], completions=completions[i : i + 1], **alone)
            items = self._as_list(raw, 1)
        except Exception as exc:
            failed[i] = f"raised {type(exc).__name__}: {exc}"
            return 0.0
        return self._check(items[0], i, failed)

    def _as_list(self, raw: Any, n: int) -> list[Any]:
        """``raw`` as a list of ``n`` items, or ``RewardError``: a batch-level mismatch cannot be
        assigned to completions, and guessing which reward belongs where would train on noise."""
        if hasattr(raw, "tolist") and not isinstance(raw, str | bytes):  # numpy arrays, torch tensors
            raw = raw.tolist()
        if isinstance(raw, str | bytes | dict) or not isinstance(raw, Sequence):
            raise RewardError(
                f"reward function {self.__name__!r} returned {type(raw).__name__}, not a list of one "
                f"reward per completion ({n} expected)"
            )
        if len(raw) != n:
            raise RewardError(
                f"reward function {self.__name__!r} returned {len(raw)} rewards for {n} completions; "
                "it must return exactly one per completion, in order"
            )
        return list(raw)

    def _check(self, value: Any, i: int, failed: dict[int, str]) -> float | None:
        """A finite float (bools count as 0/1), ``None`` where allowed, else 0.0 with the reason noted."""
        if value is None:
            if self.allow_none:
                return None  # TRL: this reward does not apply to this completion (NaN, left out)
            failed[i] = "returned None"
            return 0.0
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
            value = value.item()  # a numpy scalar or a 0-d tensor
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, numbers.Real):
            number = float(value)
            if math.isfinite(number):
                return number
            failed[i] = f"returned {number}"
            return 0.0
        failed[i] = f"returned {type(value).__name__} {value!r:.40}, not a number"
        return 0.0

    def _record(self, failed: dict[int, str], n: int, log_metric: Any) -> None:
        self.scored += n
        self.failures += len(failed)
        for k, (i, reason) in enumerate(sorted(failed.items())):
            self.reasons[" ".join(reason.split()[:2]).rstrip(":")] += 1  # "raised KeyError", "returned nan"
            if k < MAX_WARNINGS_PER_CALL:
                logger.warning("reward %r: completion %d %s; its reward is 0.0", self.__name__, i, reason)
        if len(failed) > MAX_WARNINGS_PER_CALL:
            logger.warning(
                "reward %r: %d more completions of this batch failed (0.0 each)",
                self.__name__,
                len(failed) - MAX_WARNINGS_PER_CALL,
            )
        if callable(log_metric) and n:
            log_metric(f"rewards/{self.__name__}/failures", len(failed) / n)


def safe_reward(fn: Callable[..., Any], name: str | None = None, *, allow_none: bool = False) -> SafeReward:
    """``fn`` wrapped so that a failure costs one completion its reward, never the run or the gradient.

    Per completion: an exception, ``None`` (unless ``allow_none``; TRL reads ``None`` as "this reward
    does not apply here"), NaN, ±inf, or anything that is not a real number gives 0.0 and a warning on
    the ``backtrack.train.rewards`` logger naming the completion's index and the reason. ``True``/``False``
    count as 1.0/0.0. When ``fn`` raises on the batch, each completion is scored alone so that the others
    keep their rewards. A return that is not a list of one value per completion raises ``RewardError``.
    Already-wrapped functions are returned as they are.
    """
    if isinstance(fn, SafeReward):
        return fn
    return SafeReward(fn, name, allow_none=allow_none)


def _callable_name(fn: Any) -> str:
    while hasattr(fn, "func") and callable(fn.func):  # functools.partial
        fn = fn.func
    return str(getattr(fn, "__name__", type(fn).__name__))


# ---- names to callables -----------------------------------------------------------------------
def resolve_reward(
    spec: str | Callable[..., Any], task: Any, *, kinds: Sequence[str] | None = None
) -> RewardFunc:
    """The reward function ``spec`` names: ``"binary"`` or ``"format"`` (the task verifier, see
    ``verifier_reward``), a ``"package.module:function"`` import path, or a callable (returned as is)."""
    if callable(spec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a reward must be a scheme name or 'module:function', got {spec!r}")
    if spec in REWARD_SCHEMES:
        return verifier_reward(task, spec, kinds=kinds)
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError(
            f"unknown reward {spec!r}: use {' or '.join(REWARD_SCHEMES)}, or 'module:function' for your own"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import the reward module {module_name!r}: {exc}") from None
    fn = module
    for part in attribute.split("."):
        fn = getattr(fn, part, None)
        if fn is None:
            raise ValueError(f"module {module_name!r} has no reward function {attribute!r}")
    if not callable(fn):
        raise ValueError(f"{spec!r} is a {type(fn).__name__}, not a reward function")
    return fn
