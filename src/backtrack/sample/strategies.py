"""Inference strategies at matched compute: sequential search, parallel best-of-n, and their hybrid.

Every strategy verifies with the task's own safe verifier and records the compute it actually spent,
in generated tokens and in FLOPs from ``backtrack.budget``, so all strategies share one x-axis.

How compute is matched (as in the analysis code of Qin et al. 2025):

``sequential``
    One run per problem, capped at the largest budget. The accuracy at a smaller budget ``L`` is read
    off the same run: the problem counts as solved at ``L`` when the text of its first ``L`` generated
    tokens verifies. For greedy decoding this is exactly what a separate run capped at ``L`` would
    produce (the first ``L`` tokens of a greedy run do not depend on the cap), at a fifth of the cost
    for five budgets. The compute at ``L`` is ``min(L, tokens generated)``: a run that stops at EOS
    early spends less than its budget.
``parallel``
    ``n`` independent samples. ``oracle`` is best-of-n with a perfect checker (pass@n, the paper's
    direct-model curve); ``majority`` checks the most common claimed answer (``answer_key``);
    ``first_valid`` takes samples in order until the verifier accepts one, so its accuracy equals the
    oracle's but its compute stops at that sample (a verifier used as an early stop). Compute is the
    samples' actual lengths, not ``n * max_new_tokens``.
``hybrid``
    ``m`` sampled sequential runs of ``total_budget // m`` tokens each: solved when any run verifies.

``pass_at_k`` is the unbiased estimator of Chen et al. (2021), for curves over ``k <= n`` from one set
of ``n`` samples.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from backtrack.budget import flops_of_lengths, sequence_flops
from backtrack.sample.backends import Backend, Completion
from backtrack.tasks import Verdict

__all__ = [
    "DEFAULT_BUDGETS",
    "SELECTIONS",
    "ParallelResult",
    "SequentialResult",
    "answer_key",
    "hybrid",
    "mean_pass_at_k",
    "parallel",
    "pass_at_k",
    "sequential",
    "sequential_curve",
]

DEFAULT_BUDGETS = (256, 512, 1024, 2048, 4096)  # the paper's sequential budgets
SELECTIONS = ("oracle", "majority", "first_valid")
AnswerKey = Callable[[Any, Any, str], "str | None"]


# ---- results -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SequentialResult:
    """One problem under ``sequential``: per budget, solved or not and the compute spent up to it."""

    index: int  # position of the problem in the input
    budgets: tuple[int, ...]
    solved: dict[int, bool]  # budget -> the first min(budget, generated) tokens verify
    tokens: dict[int, int]  # budget -> min(budget, generated)
    flops: dict[int, float]  # budget -> sequence_flops(tokens[budget])
    generated: int  # tokens the one run generated (at most max(budgets))
    stopped: bool  # the run ended with EOS
    reason: str  # the verifier's reason at the largest budget
    text: str = ""  # the run's text (for trace statistics)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("solved", "tokens", "flops"):
            out[name] = [getattr(self, name)[b] for b in self.budgets]  # JSON keys would become strings
        out["budgets"] = list(self.budgets)
        return out


@dataclass(frozen=True)
class ParallelResult:
    """One problem under ``parallel`` or ``hybrid``: the selection, the votes and the compute."""

    index: int
    strategy: str  # "parallel" or "hybrid"
    select: str
    n: int
    max_new_tokens: int  # the cap of each sample
    solved: bool  # the selected answer verifies
    chosen: int | None  # index of the selected sample (None: nothing to select)
    correct: int  # samples the verifier accepts (c of pass@k)
    tokens: int  # generated tokens charged to the strategy
    flops: float  # flops_of_lengths of the charged samples
    lengths: tuple[int, ...]  # every sample's generated tokens
    verified: tuple[bool, ...]  # every sample's verdict
    keys: tuple[str | None, ...]  # every sample's claimed answer (``answer_key``)

    def pass_at(self, k: int) -> float:
        return pass_at_k(self.n, self.correct, k)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("lengths", "verified", "keys"):
            out[name] = list(out[name])
        return out


# ---- sequential ----------------------------------------------------------------------------------
def _check_inputs(problems: Sequence[Any], prompts: Sequence[str]) -> None:
    if len(problems) != len(prompts):
        raise ValueError(f"{len(problems)} problems but {len(prompts)} prompts")


def _check_budgets(budgets: Sequence[int]) -> tuple[int, ...]:
    values = tuple(sorted(set(budgets)))
    if not values or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in values):
        raise ValueError(f"budgets must be positive integers, got {list(budgets)!r}")
    return values


def _prefix_text(backend: Backend, completion: Completion, tokens: int) -> str:
    """The text of the first ``tokens`` generated tokens of ``completion``."""
    if tokens >= completion.tokens:
        return completion.text
    if len(completion.token_ids) != completion.tokens:
        raise ValueError("cutting a completion at a budget needs its token_ids; the backend gave none")
    return backend.decode(completion.token_ids[:tokens])


def _score_run(
    backend: Backend, task: Any, index: int, problem: Any, run: Completion, budgets: tuple[int, ...]
) -> SequentialResult:
    verdicts: dict[int, Verdict] = {}  # by prefix length: budgets past the run's end share one verdict
    solved, tokens, flops = {}, {}, {}
    for budget in budgets:
        used = min(budget, run.tokens)
        if used not in verdicts:
            verdicts[used] = task.verify(problem, _prefix_text(backend, run, used))
        solved[budget] = verdicts[used].ok
        tokens[budget] = used
        flops[budget] = float(sequence_flops(backend.config, used))
    reason = verdicts[min(budgets[-1], run.tokens)].reason
    return SequentialResult(index, budgets, solved, tokens, flops, run.tokens, run.stopped, reason, run.text)


def sequential(
    backend: Backend,
    task: Any,
    problems: Sequence[Any],
    prompts: Sequence[str],
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    *,
    greedy: bool = True,
    temperature: float = 0.7,
    seed: int = 0,
) -> list[SequentialResult]:
    """One run per problem capped at ``max(budgets)``; accuracy at every budget read off that run.

    ``greedy=False`` samples the one run at ``temperature`` (then a budget's prefix is a sample of a
    run capped there, not the same run, but its distribution is the same).
    """
    _check_inputs(problems, prompts)
    caps = _check_budgets(budgets)
    runs = backend.generate(
        list(prompts), n=1, max_new_tokens=caps[-1], temperature=0.0 if greedy else temperature, seed=seed
    )
    return [
        _score_run(backend, task, i, problem, samples[0], caps)
        for i, (problem, samples) in enumerate(zip(problems, runs, strict=True))
    ]


def sequential_curve(results: Sequence[SequentialResult]) -> list[dict[str, float]]:
    """Per budget: accuracy, mean tokens and mean FLOPs over problems (the sequential x/y points)."""
    if not results:
        return []
    count = len(results)
    return [
        {
            "budget": budget,
            "accuracy": sum(r.solved[budget] for r in results) / count,
            "mean_tokens": sum(r.tokens[budget] for r in results) / count,
            "mean_flops": sum(r.flops[budget] for r in results) / count,
        }
        for budget in results[0].budgets
    ]


# ---- parallel ------------------------------------------------------------------------------------
def _majority(keys: Sequence[str | None]) -> int | None:
    """The first sample holding the most common non-None key (ties: the key seen first)."""
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None
    top = max(counts.values())
    return next(i for i, k in enumerate(keys) if k is not None and counts[k] == top)


def _select(select: str, verified: Sequence[bool], keys: Sequence[str | None]) -> tuple[int | None, int]:
    """(chosen sample, number of samples charged as compute)."""
    first_ok = next((i for i, ok in enumerate(verified) if ok), None)
    if select == "oracle":
        return first_ok, len(verified)
    if select == "first_valid":
        return first_ok, len(verified) if first_ok is None else first_ok + 1
    return _majority(keys), len(verified)


def _score_samples(
    backend: Backend,
    task: Any,
    index: int,
    problem: Any,
    samples: Sequence[Completion],
    select: str,
    key_of: AnswerKey,
    strategy: str,
    cap: int,
) -> ParallelResult:
    verified = tuple(task.verify(problem, s.text).ok for s in samples)
    keys = tuple(key_of(task, problem, s.text) for s in samples)
    chosen, charged = _select(select, verified, keys)
    lengths = tuple(s.tokens for s in samples)
    return ParallelResult(
        index=index,
        strategy=strategy,
        select=select,
        n=len(samples),
        max_new_tokens=cap,
        solved=chosen is not None and verified[chosen],
        chosen=chosen,
        correct=sum(verified),
        tokens=sum(lengths[:charged]),
        flops=float(flops_of_lengths(backend.config, list(lengths[:charged]))),
        lengths=lengths,
        verified=verified,
        keys=keys,
    )


def parallel(
    backend: Backend,
    task: Any,
    problems: Sequence[Any],
    prompts: Sequence[str],
    n: int,
    max_new_tokens: int,
    *,
    temperature: float = 0.7,
    select: str = "oracle",
    seed: int = 0,
    key: AnswerKey | None = None,
    strategy: str = "parallel",
) -> list[ParallelResult]:
    """``n`` samples per problem, one answer selected by ``select`` (see the module docstring).

    ``key`` maps (task, problem, text) to the claimed answer that majority voting counts; the
    default is ``answer_key``. Every sample is verified whatever ``select`` is, so ``correct`` (and
    pass@k for any k <= n) is available from the same run.
    """
    if select not in SELECTIONS:
        raise ValueError(f"unknown select {select!r} (known: {', '.join(SELECTIONS)})")
    _check_inputs(problems, prompts)
    samples = backend.generate(
        list(prompts), n=n, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed
    )
    key_of = answer_key if key is None else key
    return [
        _score_samples(backend, task, i, problem, group, select, key_of, strategy, max_new_tokens)
        for i, (problem, group) in enumerate(zip(problems, samples, strict=True))
    ]


def hybrid(
    backend: Backend,
    task: Any,
    problems: Sequence[Any],
    prompts: Sequence[str],
    m: int,
    total_budget: int,
    *,
    temperature: float = 0.7,
    seed: int = 0,
) -> list[ParallelResult]:
    """``m`` sampled runs of ``total_budget // m`` tokens each; solved when any run verifies.

    The search model explores sequentially inside each run and the runs explore in parallel, so
    ``m = 1`` (sampled) is the sequential end of the trade-off and large ``m`` the parallel end.
    """
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    cap = total_budget // m
    if cap < 1:
        raise ValueError(f"total_budget {total_budget} leaves no tokens for each of {m} runs")
    return parallel(
        backend,
        task,
        problems,
        prompts,
        m,
        cap,
        temperature=temperature,
        select="oracle",
        seed=seed,
        strategy="hybrid",
    )


# ---- pass@k --------------------------------------------------------------------------------------
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from ``n`` samples of which ``c`` are correct (Chen et al. 2021).

    ``1 - C(n-c, k) / C(n, k)``, computed as a product of ``1 - k/i`` so it neither overflows nor
    loses precision for large ``n``.
    """
    for name, value in (("n", n), ("c", c), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(results: Sequence[ParallelResult], k: int) -> float:
    """pass@k averaged over problems (0 for no problems)."""
    if not results:
        return 0.0
    return sum(r.pass_at(k) for r in results) / len(results)


# ---- claimed answers (majority voting) ------------------------------------------------------------
def answer_key(task: Any, problem: Any, text: str) -> str | None:
    """The final answer ``text`` claims, in the task's canonical form (``task.answer_key``), or None
    when it claims none. Majority voting must count *claims*, not verified answers (else it is the
    oracle), so this never checks correctness."""
    return task.answer_key(problem, text)
