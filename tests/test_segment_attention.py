"""Segment attention (one fused causal attention per packed example) against transformers' masked sdpa."""

from __future__ import annotations

import pytest
import torch

from backtrack.models import build_model
from backtrack.tokenizer import build_tokenizer
from backtrack.train.packing import packing_max_difference
from backtrack.train.segment_attention import SEGMENT_SDPA, segment_attention


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return build_model("tiny", build_tokenizer("countdown"), 64, seed=3)


def _packed_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Three rows of 24 tokens; use_cache=False as in training (a cache turns off transformers'
    packed-sequence detection, and the masked reference would then leak across examples)."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (3, 24), generator=generator)
    rows = [[10, 9, 5], [24], [1, 7, 16]]  # different boundaries per row, a 1-token example included
    position_ids = torch.stack([torch.cat([torch.arange(n) for n in row]) for row in rows])
    return ids, position_ids


def test_logits_and_gradients_match_masked_sdpa(model: torch.nn.Module) -> None:
    ids, position_ids = _packed_batch()
    results = {}
    for segments in (False, True):
        model.zero_grad()
        with segment_attention(model, segments) as used:
            assert used is segments
            out = model(input_ids=ids, position_ids=position_ids, labels=ids, use_cache=False)
            out.loss.backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        results[segments] = (out.logits.detach(), grads)
    assert torch.allclose(results[True][0], results[False][0], atol=1e-5)
    assert torch.allclose(results[True][1], results[False][1], atol=1e-5)


def test_packed_examples_do_not_see_each_other(model: torch.nn.Module) -> None:
    with segment_attention(model):
        assert packing_max_difference(model) < 1e-5


def test_the_model_gets_its_own_attention_back(model: torch.nn.Module) -> None:
    before = model.config._attn_implementation
    with pytest.raises(RuntimeError, match="boom"), segment_attention(model):
        assert model.config._attn_implementation == SEGMENT_SDPA
        raise RuntimeError("boom")
    assert model.config._attn_implementation == before


def test_generation_with_a_cache_is_refused(model: torch.nn.Module) -> None:
    ids = torch.randint(5, 100, (1, 6))
    with segment_attention(model), pytest.raises(RuntimeError, match="training attention"):
        model.generate(ids, max_new_tokens=3, do_sample=False)
