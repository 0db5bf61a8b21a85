"""Attention for packed rows: one fused causal attention per packed example.

Packed rows keep their examples apart with ``position_ids`` that restart at 0. transformers' ``sdpa``
path turns that into a (batch, 1, T, T) block-diagonal boolean mask, and a masked
``scaled_dot_product_attention`` on CPU runs the unfused kernel over the whole T x T square. Running
torch's fused causal kernel on each example's slice instead computes only the blocks on the diagonal:
the attention alone (forward + backward, a 4,096-token row holding three traces) is 5.5x faster on this CPU
(``benchmarks/bench_sft.py`` shows the end-to-end effect). FlashAttention-2's variable-length kernel does
the same on GPUs, and transformers already uses it from ``position_ids`` when a model is loaded with
``attn_implementation="flash_attention_2"``; this module is that idea for plain sdpa on any device.

It is a training-time implementation: it reads example boundaries from ``position_ids`` and takes no
padding mask, so :func:`segment_attention` switches a model to it for the duration of a block and then
back (generation with left padding needs the model's own masks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

__all__ = ["SEGMENT_SDPA", "segment_attention", "segment_sdpa"]

SEGMENT_SDPA = "backtrack_segment_sdpa"
_registered = False


def segment_sdpa(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    position_ids: torch.Tensor | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """An ``AttentionInterface`` function: query (B, H, T, D), key/value (B, KV, T, D) -> (B, T, H, D)."""
    import torch
    from torch.nn import functional as F

    if query.shape[2] != key.shape[2]:
        raise RuntimeError(
            f"{SEGMENT_SDPA} is a training attention (no KV cache); got {query.shape[2]} queries "
            f"against {key.shape[2]} keys"
        )
    if key.shape[1] != query.shape[1]:  # grouped-query attention: share each KV head across its group
        groups = query.shape[1] // key.shape[1]
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    dropout = dropout if module.training else 0.0
    if attention_mask is not None:  # a caller-built 4D mask: honour it as given
        out = F.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling
        )
        return out.transpose(1, 2).contiguous(), None
    batch, _, length, _ = query.shape
    if position_ids is None:
        position_ids = torch.arange(length, device=query.device).expand(batch, length)
    # Example starts: position 0, or any position that does not follow its left neighbour by one.
    breaks = (position_ids[:, 1:] != position_ids[:, :-1] + 1).cpu()  # .cpu(): a no-op on CPU
    starts_of = [[0, *(torch.nonzero(row).flatten() + 1).tolist()] for row in breaks]
    rows = []
    for b, starts in enumerate(starts_of):
        ends = [*starts[1:], length]
        # torch.cat, not slice assignment into one buffer: its backward is a cheap split, while each
        # in-place slice write would copy the whole buffer again on the way back.
        pieces = [
            F.scaled_dot_product_attention(
                query[b : b + 1, :, start:end],
                key[b : b + 1, :, start:end],
                value[b : b + 1, :, start:end],
                dropout_p=dropout,
                is_causal=True,
                scale=scaling,
            )
            for start, end in zip(starts, ends, strict=True)
        ]
        rows.append(pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2))
    out = rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)
    return out.transpose(1, 2).contiguous(), None


def _register() -> None:
    global _registered
    if not _registered:
        from transformers import AttentionInterface

        AttentionInterface.register(SEGMENT_SDPA, segment_sdpa)
        _registered = True


def supports_segment_attention(model: PreTrainedModel) -> bool:
    """Whether switching is useful and safe: the model uses plain sdpa or eager attention (a flash
    implementation already handles packed rows), and its layers pass ``position_ids`` down."""
    return getattr(model.config, "_attn_implementation", None) in ("sdpa", "eager")


@contextmanager
def segment_attention(model: PreTrainedModel, enabled: bool = True) -> Iterator[bool]:
    """Run ``model`` with :func:`segment_sdpa` inside the block; yields whether it is in use."""
    if not enabled or not supports_segment_attention(model):
        yield False
        return
    _register()
    previous = model.config._attn_implementation
    model.set_attn_implementation(SEGMENT_SDPA)
    try:
        yield True
    finally:
        model.set_attn_implementation(previous)
