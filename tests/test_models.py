"""Model sizes, Qwen2 configs, building, loading and parameter counts."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, Qwen2Config

from backtrack.models import (
    MODEL_SIZES,
    PAPER_SIZES,
    ModelSize,
    build_model,
    describe_sizes,
    get_size,
    load_model,
    parameter_count,
    qwen2_config,
)
from backtrack.tokenizer import build_tokenizer

# The paper's model table (Qin et al. 2025): name -> (hidden, layers, heads, kv heads, ffn), written
# out independently here.
REFERENCE_TABLE = {
    "3M": (256, 6, 4, 1, 512),
    "17M": (512, 8, 4, 1, 1024),
    "38M": (512, 10, 8, 2, 2048),
    "144M": (1024, 12, 8, 2, 3072),
    "365M": (1024, 24, 16, 4, 4096),
}


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer("countdown")


@pytest.fixture(scope="module")
def tiny(tokenizer):
    return build_model("tiny", tokenizer, context=128, seed=0)


def _ids(tokenizer, text: str = "Current State: 72:[62, 36, 6, 70], Operations: []\n") -> torch.Tensor:
    return torch.tensor([tokenizer(text)["input_ids"]])


@pytest.mark.parametrize("name", list(REFERENCE_TABLE))
def test_paper_sizes_build_configs_with_the_reference_dims(name):
    hidden, layers, heads, kv_heads, ffn = REFERENCE_TABLE[name]
    config = qwen2_config(name, vocab_size=50, context=4096)
    assert isinstance(config, Qwen2Config)
    assert (
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
        config.num_key_value_heads,
        config.intermediate_size,
    ) == (hidden, layers, heads, kv_heads, ffn)
    assert config.max_position_embeddings == 4096
    assert config.rope_parameters["rope_theta"] == 1e6
    assert config.tie_word_embeddings is True
    assert config.vocab_size == 50


def test_the_size_table_holds_exactly_the_paper_sizes_plus_cpu_sizes():
    assert {
        n: (s.hidden, s.layers, s.heads, s.kv_heads, s.ffn) for n, s in PAPER_SIZES.items()
    } == REFERENCE_TABLE
    assert set(MODEL_SIZES) == {"tiny", "250K", "1M", *REFERENCE_TABLE}


def test_config_takes_special_ids_from_the_tokenizer(tokenizer):
    config = qwen2_config("tiny", vocab_size=len(tokenizer), context=256, tokenizer=tokenizer)
    assert (config.pad_token_id, config.bos_token_id, config.eos_token_id) == (
        tokenizer.pad_token_id,
        tokenizer.bos_token_id,
        tokenizer.eos_token_id,
    )
    assert config.max_position_embeddings == 256


def test_overrides_apply_and_rope_theta_moves_into_rope_parameters():
    config = qwen2_config("tiny", vocab_size=40, context=64, rope_theta=1e4, tie_word_embeddings=False)
    assert config.rope_parameters["rope_theta"] == 1e4
    assert config.tie_word_embeddings is False
    explicit = qwen2_config(ModelSize(48, 1, 3, 1, 96), vocab_size=40, context=64)
    assert (explicit.hidden_size, explicit.num_attention_heads) == (48, 3)


def test_unknown_size_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model size '17m'.*tiny.*17M.*365M"):
        get_size("17m")
    with pytest.raises(ValueError, match="unknown model size"):
        qwen2_config("huge", vocab_size=10, context=10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"context": 0}, "context must be a positive integer"),
        ({"context": -5}, "context must be a positive integer"),
        ({"vocab_size": 0}, "vocab_size must be a positive integer"),
        ({"num_attention_heads": 3}, r"heads \(3\) must divide hidden \(32\)"),
        ({"num_key_value_heads": 2, "num_attention_heads": 1}, r"kv_heads \(2\) must divide heads \(1\)"),
    ],
)
def test_config_validation(kwargs, message):
    args = {"vocab_size": 40, "context": 64, **kwargs}
    with pytest.raises(ValueError, match=message):
        qwen2_config("tiny", **args)


def test_model_size_validation():
    with pytest.raises(ValueError, match=r"heads \(3\) must divide hidden \(64\)"):
        ModelSize(64, 2, 3, 1, 128)
    with pytest.raises(ValueError, match=r"kv_heads \(3\) must divide heads \(4\)"):
        ModelSize(64, 2, 4, 3, 128)
    with pytest.raises(ValueError, match="positive integer"):
        ModelSize(64, 0, 4, 1, 128)


def test_config_rejects_a_vocab_smaller_than_the_tokenizer(tokenizer):
    with pytest.raises(ValueError, match="tokenizer has"):
        qwen2_config("tiny", vocab_size=len(tokenizer) - 1, context=64, tokenizer=tokenizer)


def test_tiny_forward_pass_with_the_countdown_vocabulary(tiny, tokenizer):
    ids = _ids(tokenizer)
    out = tiny(input_ids=ids, labels=ids)
    assert out.logits.shape == (1, ids.shape[1], len(tokenizer))
    assert torch.isfinite(out.logits).all()
    # Random init over V tokens: the loss is near ln V (a broken init or wiring gives something else).
    assert abs(out.loss.item() - torch.log(torch.tensor(float(len(tokenizer)))).item()) < 0.5
    assert tiny.config._attn_implementation == "sdpa"
    assert tiny.lm_head.weight is tiny.model.embed_tokens.weight  # tied


def test_tiny_model_generates_and_knows_eos(tiny, tokenizer):
    assert tiny.generation_config.eos_token_id == tokenizer.eos_token_id
    assert tiny.generation_config.pad_token_id == tokenizer.pad_token_id
    ids = _ids(tokenizer, "72:[62, 36, 6, 70]")
    out = tiny.generate(ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] <= ids.shape[1] + 5 and torch.equal(out[:, : ids.shape[1]], ids)


def test_build_is_deterministic_per_seed_and_leaves_global_rng_alone(tokenizer):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = build_model("tiny", tokenizer, context=64, seed=7)
    assert torch.equal(torch.rand(3), expected_next)
    b = build_model("tiny", tokenizer, context=64, seed=7)
    c = build_model("tiny", tokenizer, context=64, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["model.embed_tokens.weight"], sc["model.embed_tokens.weight"])


def test_build_in_bfloat16(tokenizer):
    model = build_model("tiny", tokenizer, context=64, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_save_and_load_round_trip_gives_identical_logits(tiny, tokenizer, tmp_path):
    tiny.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, tok = load_model(tmp_path)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert not model.training
    ids = _ids(tokenizer)
    # A qwen2 config.json next to the tokenizer must not turn it into Qwen's byte-level BPE (which
    # AutoTokenizer does in transformers 5 and which drops whole words of the trace format).
    text = "Current State: 72:[36, 6, 8], Operations: ['70-62=8']\nMoving to Node #0,0\n"
    assert tok(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text
    tiny.eval()
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, tiny(input_ids=ids).logits)
    assert model.config.rope_parameters["rope_theta"] == 1e6
    assert model.config.max_position_embeddings == 128


def test_load_model_with_dtype_and_separate_tokenizer(tiny, tokenizer, tmp_path):
    tiny.save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "tok")
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load_model(tmp_path / "ckpt")
    model, tok = load_model(
        tmp_path / "ckpt", tokenizer_path=tmp_path / "tok", dtype=torch.bfloat16, device="cpu"
    )
    assert model.dtype == torch.bfloat16
    assert len(tok) == len(tokenizer)


def test_load_model_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model directory"):
        load_model(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="holds no saved model"):
        load_model(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError):
        load_model(tmp_path / "file.txt")


def test_parameter_count_from_config_equals_the_built_model(tiny):
    built = sum(p.numel() for p in tiny.parameters())
    from_config = parameter_count(tiny.config)
    assert from_config["total"] == built
    assert parameter_count(tiny) == from_config
    assert from_config["embedding"] == tiny.config.vocab_size * tiny.config.hidden_size
    assert from_config["non_embedding"] == built - from_config["embedding"]


def test_parameter_count_untied_counts_the_output_head(tokenizer):
    model = build_model("tiny", tokenizer, context=64, tie_word_embeddings=False)
    counts = parameter_count(model.config)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["embedding"] == 2 * len(tokenizer) * 32
    assert parameter_count(model) == counts


@pytest.mark.parametrize("name", list(MODEL_SIZES))
def test_parameter_count_arithmetic_matches_a_meta_build(name):
    # The meta device allocates no weights, so even 365M is cheap to check against the real module tree.
    config = qwen2_config(name, vocab_size=50, context=4096)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    assert parameter_count(config) == parameter_count(model)


def test_parameter_count_of_other_architectures():
    llama = LlamaConfig(
        vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, attention_bias=True, mlp_bias=True, head_dim=8,
    )  # fmt: skip
    gpt2 = GPT2Config(
        vocab_size=50, n_embd=32, n_layer=2, n_head=2, n_positions=64, bos_token_id=1, eos_token_id=2
    )
    for config in (llama, gpt2):
        model = AutoModelForCausalLM.from_config(config)
        assert parameter_count(config)["total"] == sum(p.numel() for p in model.parameters())
    with pytest.raises(TypeError, match="config or model"):
        parameter_count("17M")


def test_paper_size_names_count_non_embedding_parameters():
    print("\nsize   total(V=50)  non-embedding  name/non-embedding")
    for name in PAPER_SIZES:
        counts = parameter_count(qwen2_config(name, vocab_size=50, context=4096))
        nominal = float(name[:-1]) * 1e6
        ratio = counts["non_embedding"] / nominal
        print(f"{name:>5} {counts['total']:>12,} {counts['non_embedding']:>14,}  {ratio:.3f}")
        # Within 12% of the name (3M is really 3.35M); the embedding (50 x hidden) is far too small to
        # decide between "total" and "non-embedding", and both readings fit.
        assert abs(ratio - 1) < 0.12
    assert (
        17_000_000 < parameter_count(qwen2_config("17M", vocab_size=50, context=4096))["total"] < 18_500_000
    )


def test_describe_sizes_rows():
    rows = describe_sizes(vocab_size=64)
    assert [r["name"] for r in rows] == list(MODEL_SIZES)
    row = next(r for r in rows if r["name"] == "17M")
    assert (row["hidden"], row["layers"], row["heads"], row["kv_heads"], row["ffn"], row["head_dim"]) == (
        512, 8, 4, 1, 1024, 128,
    )  # fmt: skip
    assert row["params"] == row["non_embedding_params"] + 64 * 512
    assert row["paper"] and not rows[0]["paper"]
    default = describe_sizes()
    assert default[0]["vocab_size"] == len(build_tokenizer("countdown"))
