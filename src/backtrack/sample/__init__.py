"""Sampling: backends that turn prompts into completions, and strategies that spend a compute budget.

``HFBackend`` (batched ``model.generate``, CPU or GPU) and ``VLLMBackend`` share the ``Backend``
protocol; ``sequential``, ``parallel`` and ``hybrid`` run a task's problems through a backend and
return per-problem results with the tokens and FLOPs they spent (``backtrack.budget``).
"""

from __future__ import annotations

from backtrack.sample.backends import Backend, Completion, HFBackend, VLLMBackend
from backtrack.sample.strategies import (
    DEFAULT_BUDGETS,
    SELECTIONS,
    ParallelResult,
    SequentialResult,
    answer_key,
    hybrid,
    mean_pass_at_k,
    parallel,
    pass_at_k,
    sequential,
    sequential_curve,
)

__all__ = [
    "DEFAULT_BUDGETS",
    "SELECTIONS",
    "Backend",
    "Completion",
    "HFBackend",
    "ParallelResult",
    "SequentialResult",
    "VLLMBackend",
    "answer_key",
    "hybrid",
    "mean_pass_at_k",
    "parallel",
    "pass_at_k",
    "sequential",
    "sequential_curve",
]
