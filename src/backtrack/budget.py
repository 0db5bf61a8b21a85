"""Inference compute, so that sequential search and parallel sampling share one x-axis.

The reference study compares a backtracking model given one long greedy run of ``L`` tokens with a direct
model given ``n`` short samples, at equal inference FLOPs. We use its accounting exactly, so our curves
sit on the same axis as the published ones::

    linear   = 2*h*h + 2*h*kv_dim + 3*h*ffn          # q,o + k,v + SwiGLU MLP, per token per layer
    flops(L) = n_layers * (linear*L + h*L*(L+1)/2)    # second term: attention over the growing context
    total    = n_samples * flops(L)

Conventions of that formula, kept on purpose (they shift every strategy by the same factor, so the
comparisons it is used for do not change):

- one unit per weight per token (multiply-accumulates, not 2x "FLOPs");
- attention as ``h`` per context position (QK and AV together); GQA shrinks only the k/v projections;
- the prompt, the output head, norms and biases are left out: the prompt is the same for every strategy
  and the vocabulary is tiny.

Where a config has a ``head_dim`` with ``heads * head_dim != hidden`` (Qwen3- or Gemma-like), the query
width ``heads * head_dim`` takes ``h``'s place in the q/o and attention terms; for the reference's sizes
the two are equal and the formula is exactly the one above.

This module does no tensor work and imports neither torch nor transformers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from backtrack.models import ModelSize, get_size

__all__ = [
    "DEFAULT_BUDGETS",
    "DEFAULT_SAMPLES",
    "ModelDims",
    "budget_table",
    "flops_of_lengths",
    "inference_flops",
    "linear_flops",
    "sequence_flops",
    "tokens_for_flops",
    "training_flops",
]

DEFAULT_BUDGETS = (256, 512, 1024, 2048, 4096)  # the reference's sequential budgets (CountDown)
DEFAULT_SAMPLES = (1, 2, 4, 8, 16, 32)  # the reference's best-of-n sample counts


@dataclass(frozen=True)
class ModelDims:
    """What the FLOP count needs from a model: its shape, whatever object it came from.

    ``head_dim`` is None when it is ``hidden // heads`` (every size here); it is set only for configs
    that say otherwise.
    """

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    head_dim: int | None = None

    def __post_init__(self) -> None:
        for name in ("hidden", "layers", "heads", "kv_heads", "ffn"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"ModelDims.{name} must be a positive integer, got {value!r}")
        if self.heads % self.kv_heads:
            raise ValueError(f"kv_heads ({self.kv_heads}) must divide heads ({self.heads})")
        if self.head_dim is None and self.hidden % self.heads:
            raise ValueError(
                f"heads ({self.heads}) must divide hidden ({self.hidden}) unless head_dim is given"
            )

    @property
    def attention_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden // self.heads

    @property
    def q_dim(self) -> int:
        return self.heads * self.attention_head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.attention_head_dim

    @classmethod
    def of(cls, x: Any) -> ModelDims:
        """Dims of a size name (``"17M"``), a ``ModelSize``, a Llama/Qwen2-like HF config, or a model."""
        if isinstance(x, ModelDims):
            return x
        if isinstance(x, (str, ModelSize)):
            size = get_size(x)
            return cls(size.hidden, size.layers, size.heads, size.kv_heads, size.ffn)
        config = x.config if hasattr(x, "config") and not hasattr(x, "hidden_size") else x
        # Multimodal / composite configs keep the language model's shape in ``text_config``.
        if not hasattr(config, "hidden_size") and hasattr(config, "get_text_config"):
            config = config.get_text_config()
        try:
            hidden = config.hidden_size
            heads = config.num_attention_heads
            layers = config.num_hidden_layers
            ffn = config.intermediate_size
        except AttributeError as err:
            raise TypeError(
                f"cannot read model dims from {type(x).__name__}: expected a size name, ModelSize, a "
                "Llama/Qwen2-like config (hidden_size, num_hidden_layers, num_attention_heads, "
                f"num_key_value_heads, intermediate_size) or a model with such a config ({err})"
            ) from None
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None)
        if head_dim is not None and head_dim * heads == hidden:
            head_dim = None
        return cls(hidden, layers, heads, kv_heads, ffn, head_dim)


def _dims(dims_or_config: Any) -> ModelDims:
    return ModelDims.of(dims_or_config)


def _check_tokens(tokens: Any, what: str = "tokens") -> int:
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {tokens!r}")
    return tokens


def linear_flops(dims_or_config: Any) -> int:
    """Per token per layer cost of the projections: ``2*h*h + 2*h*kv_dim + 3*h*ffn`` (q,o; k,v; MLP)."""
    d = _dims(dims_or_config)
    return 2 * d.hidden * d.q_dim + 2 * d.hidden * d.kv_dim + 3 * d.hidden * d.ffn


def _sequence_flops_exact(d: ModelDims, tokens: int) -> int:
    # Integers throughout: exact for any realistic size, and the tests compare with hand arithmetic.
    return d.layers * (linear_flops(d) * tokens + d.q_dim * tokens * (tokens + 1) // 2)


def sequence_flops(dims_or_config: Any, tokens: int) -> float:
    """FLOPs to generate one sequence of ``tokens`` tokens (prompt excluded), by the reference's formula."""
    return float(_sequence_flops_exact(_dims(dims_or_config), _check_tokens(tokens)))


def inference_flops(dims_or_config: Any, tokens: int, samples: int = 1) -> float:
    """``samples`` independent sequences of ``tokens`` tokens each: best-of-n at a fixed length."""
    _check_tokens(samples, "samples")
    return float(samples * _sequence_flops_exact(_dims(dims_or_config), _check_tokens(tokens)))


def flops_of_lengths(dims_or_config: Any, lengths: Iterable[int]) -> float:
    """Total over sequences of the lengths actually generated (samples that stop early at EOS cost less)."""
    d = _dims(dims_or_config)
    return float(sum(_sequence_flops_exact(d, _check_tokens(n, "each length")) for n in lengths))


def tokens_for_flops(dims_or_config: Any, flops: float) -> float:
    """The (real-valued) length ``L`` whose ``sequence_flops`` equals ``flops``: the inverse, for matching.

    ``flops(L) = layers * (a*L + b*L*(L+1)/2)`` with ``a = linear``, ``b = q_dim`` is a quadratic in ``L``
    with one non-negative root.
    """
    if flops < 0 or math.isnan(flops):
        raise ValueError(f"flops must be non-negative, got {flops!r}")
    d = _dims(dims_or_config)
    a, b = linear_flops(d), d.q_dim
    # layers * (b/2 * L^2 + (a + b/2) * L) = flops
    qa, qb, qc = b / 2, a + b / 2, -flops / d.layers
    return (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)


def training_flops(dims_or_config: Any, rows: int, row_length: int) -> float:
    """Training compute of ``rows`` packed rows of ``row_length`` tokens: forward plus backward is about
    three forward passes, and a multiply-accumulate is two FLOPs, so ``6 x sequence_flops`` per row; that
    is ``6 x non-embedding params x tokens`` plus the attention term. An upper estimate: packed rows are
    taken as full and attention as spanning the whole row (segment attention spans less)."""
    _check_tokens(rows, "rows")
    return 6.0 * rows * sequence_flops(dims_or_config, row_length)


def budget_table(
    dims: Any,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    samples: Sequence[int] = DEFAULT_SAMPLES,
    *,
    sample_tokens: int = 512,
) -> list[dict[str, Any]]:
    """Planning rows: the sequential budgets and the parallel sample counts, each with its FLOPs.

    Sequential rows are one run of ``tokens`` tokens; parallel rows are ``samples`` runs of
    ``sample_tokens`` tokens each (512 = the reference's direct-model context for CountDown). Each row
    also gives its FLOPs relative to one parallel sample (``equivalent_samples``) and the single-run length
    of equal FLOPs (``equivalent_tokens``), which is what matching the two strategies needs: because
    attention grows quadratically, one 4096-token run costs more than 8 runs of 512.

    Row keys: ``strategy`` ("sequential" | "parallel"), ``samples``, ``tokens`` (per sample),
    ``total_tokens``, ``flops``, ``equivalent_samples``, ``equivalent_tokens``.
    """
    d = _dims(dims)
    _check_tokens(sample_tokens, "sample_tokens")
    if sample_tokens == 0:
        raise ValueError("sample_tokens must be positive")
    one_sample = _sequence_flops_exact(d, sample_tokens)
    rows: list[dict[str, Any]] = []
    for strategy, n, length in [
        *(("sequential", 1, _check_tokens(b, "budget")) for b in budgets),
        *(("parallel", _check_tokens(s, "samples"), sample_tokens) for s in samples),
    ]:
        flops = n * _sequence_flops_exact(d, length)
        rows.append(
            {
                "strategy": strategy,
                "samples": n,
                "tokens": length,
                "total_tokens": n * length,
                "flops": float(flops),
                "equivalent_samples": flops / one_sample,
                "equivalent_tokens": tokens_for_flops(d, flops),
            }
        )
    return rows
