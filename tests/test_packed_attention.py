"""The attention that keeps packed examples apart: chosen by device, exact on every path that runs here.

Exactness is packed logits == the same examples run alone (``packing_max_difference``). FlexAttention's
forward runs on the CPU (compiled by inductor), so the CUDA path's mask is checked here too; its
backward exists only on CUDA.
"""

from __future__ import annotations

import shutil

import pytest
import torch

from backtrack.models import build_model
from backtrack.tokenizer import build_tokenizer
from backtrack.train.packed_attention import choose_packed_attention, packed_attention
from backtrack.train.packing import packing_max_difference

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return build_model("tiny", build_tokenizer("countdown"), 64, seed=3)


def test_the_path_follows_the_device(model: torch.nn.Module) -> None:
    def choose(device: torch.device, **kwargs) -> str:
        return choose_packed_attention(model, device, **{"packing": True, "max_length": 4096, **kwargs})

    assert choose(CUDA) == "flex"
    assert choose(CPU) == "segment"  # long rows
    assert choose(CPU, max_length=512) == "sdpa"  # short rows: the masked kernel is cheaper
    assert choose(CUDA, flex_attention=False) == "segment"
    assert choose(CUDA, segment_attention=True) == "segment"  # an explicit request wins
    assert choose(CPU, flex_attention=True) == "flex"
    assert choose(CUDA, packing=False) == "model"


def test_a_flash_model_keeps_its_attention(model: torch.nn.Module, monkeypatch) -> None:
    monkeypatch.setattr(model.config, "_attn_implementation", "flash_attention_2")
    assert choose_packed_attention(model, CUDA, packing=True, max_length=4096) == "flash"


NO_COMPILER = not any(shutil.which(cc) for cc in ("g++", "c++", "clang++"))
FLEX_ON_CPU = pytest.param(
    "flex", marks=pytest.mark.skipif(NO_COMPILER, reason="FlexAttention on the CPU compiles C++ (inductor)")
)


@pytest.mark.parametrize("path", ["sdpa", "segment", FLEX_ON_CPU])
def test_packed_examples_do_not_see_each_other_on_every_path(model: torch.nn.Module, path: str) -> None:
    before = model.config._attn_implementation
    with packed_attention(model, path) as used:
        assert used == path
        assert packing_max_difference(model, (7, 3, 12, 1)) < 1e-5
    assert model.config._attn_implementation == before


def test_sdpa_applies_the_document_mask_only_without_a_cache(model: torch.nn.Module) -> None:
    """transformers 5.x builds the packed-sequence mask from position_ids only when there is no 2-D
    attention mask and no KV cache. The config's ``use_cache=True`` creates a cache even in train mode,
    so a packed batch without ``use_cache=False`` runs plain causal attention across examples (fast and
    wrong): this is why the collator sends ``use_cache=False``."""
    generator = torch.Generator().manual_seed(0)
    examples = [torch.randint(5, 100, (n,), generator=generator) for n in (7, 3, 12)]
    ids = torch.cat(examples)[None]
    positions = torch.cat([torch.arange(len(e)) for e in examples])[None]
    assert model.config.use_cache is True
    with torch.no_grad():
        alone = torch.cat([model(input_ids=e[None], use_cache=False).logits[0] for e in examples])
        masked = model(input_ids=ids, position_ids=positions, use_cache=False).logits[0]
        cached = model(input_ids=ids, position_ids=positions).logits[0]
    assert (masked - alone).abs().max() < 1e-5
    assert (cached - alone).abs().max() > 1e-2  # the later examples saw the earlier ones


def test_an_unknown_path_is_refused(model: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="unknown packed attention"), packed_attention(model, "ring"):
        pass
