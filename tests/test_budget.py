"""Inference FLOP accounting (the formula of Qin et al. 2025's analysis code)."""

from __future__ import annotations

import pytest
from transformers import LlamaConfig

from backtrack.budget import (
    DEFAULT_BUDGETS,
    DEFAULT_SAMPLES,
    ModelDims,
    budget_table,
    flops_of_lengths,
    inference_flops,
    linear_flops,
    sequence_flops,
    tokens_for_flops,
)
from backtrack.models import MODEL_SIZES, build_model, qwen2_config
from backtrack.tokenizer import build_tokenizer


def test_17m_formula_by_hand():
    # 17M: h=512, 8 layers, 4 heads (head_dim 128), 1 kv head -> kv_dim 128, ffn 1024.
    h, layers, kv_dim, ffn = 512, 8, 128, 1024
    linear = 2 * h * h + 2 * h * kv_dim + 3 * h * ffn
    assert linear == 524_288 + 131_072 + 1_572_864 == 2_228_224
    assert linear_flops("17M") == linear
    # flops(256) = 8 * (2228224*256 + 512*256*257/2) = 8 * (570425344 + 16842752)
    assert sequence_flops("17M", 256) == 8 * (570_425_344 + 16_842_752) == 4_698_144_768
    assert sequence_flops("17M", 256) == layers * (linear * 256 + h * 256 * 257 / 2)
    # flops(4096) = 8 * (2228224*4096 + 512*4096*4097/2) = 8 * (9126805504 + 4296015872)
    assert sequence_flops("17M", 4096) == 8 * (9_126_805_504 + 4_296_015_872) == 107_382_571_008
    assert sequence_flops("17M", 4096) == layers * (linear * 4096 + h * 4096 * 4097 / 2)


def test_print_17m_figures():
    print("\n17M inference FLOPs per sequence (prompt excluded)")
    previous = 0.0
    for tokens in DEFAULT_BUDGETS:
        flops = sequence_flops("17M", tokens)
        print(f"  L={tokens:>5}: {flops:.4e}  ({flops / sequence_flops('17M', 256):.2f}x L=256)")
        assert flops > 2 * previous  # superlinear: the attention term grows with L^2
        previous = flops


def test_zero_tokens_cost_nothing_and_bad_arguments_fail():
    assert sequence_flops("17M", 0) == 0.0
    assert inference_flops("17M", 100, samples=0) == 0.0
    assert flops_of_lengths("17M", []) == 0.0
    with pytest.raises(ValueError, match="tokens must be a non-negative integer"):
        sequence_flops("17M", -1)
    with pytest.raises(ValueError, match="samples"):
        inference_flops("17M", 10, samples=-2)
    with pytest.raises(ValueError, match="each length"):
        flops_of_lengths("17M", [3, 2.5])
    with pytest.raises(ValueError, match="unknown model size"):
        sequence_flops("17m", 10)
    with pytest.raises(TypeError, match="cannot read model dims"):
        ModelDims.of(object())


@pytest.mark.parametrize("name", ["tiny", "1M", "17M", "365M"])
def test_inference_flops_scale_linearly_in_samples(name):
    one = sequence_flops(name, 700)
    assert inference_flops(name, 700) == one
    for n in DEFAULT_SAMPLES:
        assert inference_flops(name, 700, samples=n) == n * one


def test_flops_of_lengths_is_the_sum_of_sequence_flops():
    lengths = [212, 0, 4096, 37, 512, 512]
    assert flops_of_lengths("17M", lengths) == sum(sequence_flops("17M", n) for n in lengths)
    assert flops_of_lengths("17M", iter(lengths)) == flops_of_lengths("17M", lengths)  # any iterable
    # Early stopping saves compute: 8 samples that end at 250 tokens cost less than 8 padded to 512.
    assert flops_of_lengths("17M", [250] * 8) < inference_flops("17M", 512, samples=8)


def test_model_dims_agree_for_name_size_config_and_model():
    tokenizer = build_tokenizer("countdown")
    model = build_model("tiny", tokenizer, context=64)
    config = qwen2_config("tiny", vocab_size=len(tokenizer), context=64)
    expected = ModelDims(hidden=32, layers=2, heads=2, kv_heads=1, ffn=64)
    assert ModelDims.of("tiny") == expected
    assert ModelDims.of(MODEL_SIZES["tiny"]) == expected
    assert ModelDims.of(config) == expected
    assert ModelDims.of(model) == expected
    assert ModelDims.of(expected) is expected
    assert sequence_flops(model, 300) == sequence_flops("tiny", 300) == sequence_flops(config, 300)
    for name in ("3M", "17M", "38M", "144M", "365M"):
        assert ModelDims.of(qwen2_config(name, vocab_size=50, context=4096)) == ModelDims.of(name)


def test_llama_config_and_explicit_head_dim():
    same = LlamaConfig(hidden_size=512, num_hidden_layers=8, num_attention_heads=4, num_key_value_heads=1,
                       intermediate_size=1024)  # fmt: skip
    assert ModelDims.of(same) == ModelDims.of("17M")  # Llama stores head_dim = 128 = 512 / 4: not special
    # A wider-than-usual head (Qwen3/Gemma style): q width = heads * head_dim replaces h in q/o and attention.
    wide = LlamaConfig(hidden_size=512, num_hidden_layers=8, num_attention_heads=4, num_key_value_heads=1,
                       intermediate_size=1024, head_dim=256)  # fmt: skip
    dims = ModelDims.of(wide)
    assert (dims.q_dim, dims.kv_dim) == (1024, 256)
    assert linear_flops(dims) == 2 * 512 * 1024 + 2 * 512 * 256 + 3 * 512 * 1024
    assert sequence_flops(dims, 10) == 8 * (linear_flops(dims) * 10 + 1024 * 10 * 11 // 2)


def test_tokens_for_flops_inverts_sequence_flops():
    for tokens in (1, 212, 4096, 10_000):
        assert tokens_for_flops("17M", sequence_flops("17M", tokens)) == pytest.approx(tokens, rel=1e-9)
    assert tokens_for_flops("17M", 0.0) == 0.0
    with pytest.raises(ValueError):
        tokens_for_flops("17M", -1.0)


def test_budget_table_rows():
    rows = budget_table("17M", sample_tokens=512)
    sequential = [r for r in rows if r["strategy"] == "sequential"]
    parallel = [r for r in rows if r["strategy"] == "parallel"]
    assert [r["tokens"] for r in sequential] == list(DEFAULT_BUDGETS)
    assert [r["samples"] for r in parallel] == list(DEFAULT_SAMPLES)
    for r in sequential:
        assert r["flops"] == sequence_flops("17M", r["tokens"])
        assert r["equivalent_tokens"] == pytest.approx(r["tokens"])
        assert r["samples"] == 1 and r["total_tokens"] == r["tokens"]
    one = sequence_flops("17M", 512)
    for r in parallel:
        assert r["flops"] == inference_flops("17M", 512, r["samples"])
        assert r["equivalent_samples"] == pytest.approx(r["samples"])
        assert r["total_tokens"] == 512 * r["samples"]
        assert sequence_flops("17M", round(r["equivalent_tokens"])) == pytest.approx(r["flops"], rel=1e-3)
    # Quadratic attention: one 4096-token run costs more than eight 512-token samples.
    assert sequential[-1]["flops"] / one > 8
    custom = budget_table("tiny", budgets=[10], samples=[3], sample_tokens=20)
    assert [(r["strategy"], r["samples"], r["tokens"]) for r in custom] == [
        ("sequential", 1, 10),
        ("parallel", 3, 20),
    ]
    with pytest.raises(ValueError):
        budget_table("tiny", sample_tokens=0)
