"""Which attention keeps packed examples apart during training, chosen by device in one place.

Packed rows carry ``position_ids`` that restart at 0 per example and no 2-D ``attention_mask``; every path
below turns that into attention within each example only, and ``packing.packing_max_difference`` checks it
on the model before training (packed logits equal the examples run alone).

- ``flex`` (CUDA): transformers' ``flex_attention`` implementation. ``masking_utils.create_causal_mask``
  finds the example boundaries from the positions (``find_packed_sequence_indices``) and ANDs a
  same-example rule into the causal mask function, and ``flex_attention_mask`` compiles that into a
  ``BlockMask``: PyTorch's FlexAttention kernel then skips every block outside the diagonal ones. A
  maintained kernel with a backward pass on CUDA, so packed rows cost about what causal rows do.
- ``segment`` (CPU, rows of 2,048 tokens or more): one fused causal sdpa call per example
  (``backtrack.train.segment_attention``). FlexAttention has no backward on CPU.
- ``sdpa`` (CPU, short rows): the model's sdpa over the block-diagonal boolean mask that
  ``create_causal_mask`` builds from the same positions.
- ``flash``: a model loaded with a flash attention implementation keeps it (it reads packed
  ``position_ids`` as variable-length boundaries).
- ``model``: without packing, one example per row; the model's own attention.

All of these depend on transformers seeing no KV cache: with one (``use_cache=True``, the config default,
even in train mode) the packed-sequence detection is skipped and examples attend to each other. The
collator therefore sends ``use_cache=False`` with every batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from backtrack.train.config import SEGMENT_ATTENTION_MIN_LENGTH
from backtrack.train.segment_attention import segment_attention

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

__all__ = ["PACKED_ATTENTION", "choose_packed_attention", "packed_attention"]

PACKED_ATTENTION = ("flex", "segment", "sdpa", "flash", "model")
FLEX_PAD_MULTIPLE = 128  # FlexAttention's block size: rows padded to it give whole blocks, few shapes


def choose_packed_attention(
    model: PreTrainedModel,
    device: torch.device,
    *,
    packing: bool,
    max_length: int,
    segment_attention: bool | None = None,
    flex_attention: bool | None = None,
) -> str:
    """The path (one of ``PACKED_ATTENTION``) for training ``model`` on ``device``; ``None`` settings
    follow the device: flex on CUDA, segments for long rows on the CPU, masked sdpa for short ones."""
    if not packing:
        return "model"
    own = str(getattr(model.config, "_attn_implementation", "") or "")
    if own.startswith("flash"):
        return "flash"
    if flex_attention is None:
        flex_attention = device.type == "cuda" and segment_attention is not True
    if flex_attention:
        return "flex"
    if segment_attention is None:
        segment_attention = max_length >= SEGMENT_ATTENTION_MIN_LENGTH
    if segment_attention and own in ("sdpa", "eager"):
        return "segment"
    return "sdpa" if own == "sdpa" else "model"


@contextmanager
def packed_attention(model: PreTrainedModel, path: str) -> Iterator[str]:
    """Run ``model`` with the attention of ``path`` inside the block; the model's own attention is put
    back afterwards (a saved config names it, and generation with left padding needs it)."""
    if path not in PACKED_ATTENTION:
        raise ValueError(f"unknown packed attention {path!r} (one of {PACKED_ATTENTION})")
    if path == "segment":
        with segment_attention(model, True) as used:
            yield "segment" if used else str(model.config._attn_implementation)
        return
    if path != "flex":
        yield path
        return
    previous = model.config._attn_implementation
    model.set_attn_implementation("flex_attention")
    try:
        yield "flex"
    finally:
        model.set_attn_implementation(previous)
