"""Named model sizes as Hugging Face Qwen2 configs, and loading any causal LM by path.

The reference study trains small Qwen2 models from random initialisation on one task each. Keeping the
sizes as plain data (``ModelSize``) and producing a stock ``transformers.Qwen2Config`` from them means a
checkpoint is an ordinary HF directory: ``AutoModelForCausalLM.from_pretrained(path)`` loads it with no
code from this package, and vLLM or TRL can use it as it is.

Size names follow the reference: they count *non-embedding* parameters (with a vocabulary of a few
dozen tokens the embedding adds well under 1% anyway). ``tiny`` exists for tests; ``250K`` and ``1M``
are for the default study, which must train in minutes on a 2-core CPU.

``torch`` and ``transformers`` are imported inside the functions that need them, so that ``budget``
(FLOP arithmetic over ``MODEL_SIZES``) and the CLI stay quick to import.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase, Qwen2Config

__all__ = [
    "DEFAULT_ROPE_THETA",
    "MODEL_SIZES",
    "PAPER_SIZES",
    "ModelSize",
    "build_model",
    "describe_sizes",
    "get_size",
    "is_named_size",
    "load_model",
    "load_tokenizer",
    "looks_like_path",
    "parameter_count",
    "pretrained_fingerprint",
    "qwen2_config",
]

DEFAULT_ROPE_THETA = 1e6  # the reference's value; long DFS traces (4096 tokens) need slow-turning RoPE


@dataclass(frozen=True)
class ModelSize:
    """The shape of a decoder: width, depth, attention heads, key/value heads (GQA) and MLP width."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"ModelSize.{name} must be a positive integer, got {value!r}")
        _check_heads(self.hidden, self.heads, self.kv_heads)

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        """Width of the key (and of the value) projection: smaller than ``hidden`` under GQA."""
        return self.kv_heads * self.head_dim


def _check_heads(hidden: int, heads: int, kv_heads: int) -> None:
    if hidden % heads:
        raise ValueError(f"heads ({heads}) must divide hidden ({hidden})")
    if heads % kv_heads:
        raise ValueError(f"kv_heads ({kv_heads}) must divide heads ({heads}) for grouped-query attention")


# The reference study's sizes (Qin et al. 2025), exactly as the paper lists them.
PAPER_SIZES: dict[str, ModelSize] = {
    "3M": ModelSize(hidden=256, layers=6, heads=4, kv_heads=1, ffn=512),
    "17M": ModelSize(hidden=512, layers=8, heads=4, kv_heads=1, ffn=1024),
    "38M": ModelSize(hidden=512, layers=10, heads=8, kv_heads=2, ffn=2048),
    "144M": ModelSize(hidden=1024, layers=12, heads=8, kv_heads=2, ffn=3072),
    "365M": ModelSize(hidden=1024, layers=24, heads=16, kv_heads=4, ffn=4096),
}

MODEL_SIZES: dict[str, ModelSize] = {
    # Tests only: builds and runs a forward pass in milliseconds.
    "tiny": ModelSize(hidden=32, layers=2, heads=2, kv_heads=1, ffn=64),
    # CPU study sizes. Head dim 16/32 and one KV head as in the paper's small models; ffn = 4x hidden
    # because at this width the MLP is cheap and the extra capacity helps more than depth would.
    "250K": ModelSize(hidden=64, layers=4, heads=4, kv_heads=1, ffn=256),
    "1M": ModelSize(hidden=128, layers=4, heads=4, kv_heads=1, ffn=512),
    **PAPER_SIZES,
}


def get_size(size: str | ModelSize) -> ModelSize:
    """``size`` itself, or the named size; an unknown name lists the known ones."""
    if isinstance(size, ModelSize):
        return size
    try:
        return MODEL_SIZES[size]
    except (KeyError, TypeError):
        known = ", ".join(MODEL_SIZES)
        raise ValueError(f"unknown model size {size!r} (known: {known})") from None


def qwen2_config(
    size: str | ModelSize,
    *,
    vocab_size: int,
    context: int,
    tokenizer: PreTrainedTokenizerBase | None = None,
    **overrides: Any,
) -> Qwen2Config:
    """A ``Qwen2Config`` for a named (or explicit) size.

    ``context`` becomes ``max_position_embeddings``: 4096 for trace models, 512/1024 for direct models in
    the reference. ``tokenizer`` supplies the pad/bos/eos ids (so ``generate`` stops at EOS and pads
    correctly without extra arguments) and must fit in ``vocab_size``. ``overrides`` are passed to
    ``Qwen2Config`` last (``rope_theta=...`` is accepted and moved into ``rope_parameters``); the result
    is validated after they apply.
    """
    from transformers import Qwen2Config

    dims = get_size(size)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= 0:
        raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    if isinstance(context, bool) or not isinstance(context, int) or context <= 0:
        raise ValueError(f"context must be a positive integer (tokens), got {context!r}")
    special: dict[str, int | None] = {}
    if tokenizer is not None:
        if len(tokenizer) > vocab_size:
            raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but vocab_size is {vocab_size}")
        special = {
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
    rope_theta = overrides.pop("rope_theta", DEFAULT_ROPE_THETA)
    kwargs: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": dims.hidden,
        "num_hidden_layers": dims.layers,
        "num_attention_heads": dims.heads,
        "num_key_value_heads": dims.kv_heads,
        "intermediate_size": dims.ffn,
        "max_position_embeddings": context,
        "rope_parameters": {"rope_type": "default", "rope_theta": float(rope_theta)},
        # With a vocabulary of ~50-160 tokens the output head is a negligible share of the parameters,
        # so untying buys no capacity; tying keeps the reference's choice and one fewer matrix to learn
        # from few examples of rare tokens.
        "tie_word_embeddings": True,
        "use_sliding_window": False,
        **special,
        **overrides,
    }
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads"):
        value = kwargs[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    _check_heads(kwargs["hidden_size"], kwargs["num_attention_heads"], kwargs["num_key_value_heads"])
    if kwargs["max_position_embeddings"] <= 0:
        raise ValueError(f"max_position_embeddings must be positive, got {kwargs['max_position_embeddings']}")
    return Qwen2Config(**kwargs)


def build_model(
    size: str | ModelSize,
    tokenizer: PreTrainedTokenizerBase,
    context: int,
    *,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    **overrides: Any,
) -> PreTrainedModel:
    """A randomly initialised ``Qwen2ForCausalLM`` sized for ``tokenizer``'s vocabulary.

    Initialisation draws from a private copy of torch's RNG seeded with ``seed``: the same seed gives the
    same weights, and the caller's global RNG state is left as it was.
    """
    import torch
    from transformers import AutoModelForCausalLM

    config = qwen2_config(size, vocab_size=len(tokenizer), context=context, tokenizer=tokenizer, **overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model


def is_named_size(size: str) -> bool:
    """True for a size of ``MODEL_SIZES`` (a model built from scratch); anything else names a saved model."""
    return size in MODEL_SIZES


def looks_like_path(size: str) -> bool:
    """True when ``size`` is written as a path (``models/Qwen2.5-3B-Instruct``, ``./m``, ``~/m``), so a
    mistyped size name (``17m``) is reported as unknown instead of being looked for on disk."""
    return "/" in size or "\\" in size or size.startswith(("~", ".")) or Path(size).is_dir()


def pretrained_fingerprint(path: str | os.PathLike[str]) -> list[tuple[str, int, int]]:
    """(name, bytes, mtime) of the files directly in a saved model's directory: a cheap stand-in for its
    content in stage hashes (replacing the weights under the same path retrains what depends on them)."""
    directory = Path(path).expanduser()
    if not directory.is_dir():
        return []
    return sorted(
        (f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in directory.iterdir() if f.is_file()
    )


def load_tokenizer(path: str | os.PathLike[str]) -> PreTrainedTokenizerBase:
    """The tokenizer saved in a model directory, as ``load_model`` loads it (without the weights)."""
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"no model directory at {str(directory)!r}")
    return _load_tokenizer(directory)


def _has_weights(directory: Path) -> bool:
    names = (
        "model.safetensors",
        "pytorch_model.bin",
        "model.safetensors.index.json",
        "pytorch_model.bin.index.json",
    )
    return any((directory / name).is_file() for name in names)


def load_model(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype | str | None = None,
    tokenizer_path: str | os.PathLike[str] | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """``(model, tokenizer)`` from a local HF directory: ours or any causal LM saved with ``save_pretrained``.

    Only local files are read (``local_files_only``): a mistyped path must fail here, not turn into a
    Hub download. ``device`` follows ``backtrack.device.resolve_device`` (default: CUDA when present, else
    the CPU; ``"cuda"`` without CUDA is a ``DeviceError``). ``dtype`` defaults to the dtype the
    checkpoint was saved in. ``tokenizer_path`` is for checkpoints saved without their tokenizer (e.g.
    intermediate trainer checkpoints). The tokenizer is loaded as the class it was saved as, not by
    ``AutoTokenizer``'s guess (see ``_load_tokenizer``).
    """
    from transformers import AutoModelForCausalLM

    from backtrack.device import resolve_device

    target = resolve_device(device)  # before loading: a bad request fails fast
    directory = Path(path).expanduser()
    if not directory.exists():
        raise FileNotFoundError(f"no model directory at {str(directory)!r}")
    if not directory.is_dir():
        raise NotADirectoryError(f"{str(directory)!r} is a file; load_model expects a directory")
    if not (directory / "config.json").is_file() or not _has_weights(directory):
        raise FileNotFoundError(
            f"{str(directory)!r} holds no saved model (config.json and model.safetensors or "
            "pytorch_model.bin expected, as written by save_pretrained)"
        )
    tok_dir = Path(tokenizer_path).expanduser() if tokenizer_path is not None else directory
    if not ((tok_dir / "tokenizer.json").is_file() or (tok_dir / "tokenizer_config.json").is_file()):
        raise FileNotFoundError(
            f"no tokenizer in {str(tok_dir)!r} (tokenizer.json or tokenizer_config.json expected); "
            "pass tokenizer_path= to load it from elsewhere"
        )
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype or "auto", local_files_only=True)
    model = model.to(target)
    model.eval()  # loaded for sampling or evaluation; a trainer switches back to train mode itself
    return model, _load_tokenizer(tok_dir)


# Tokenizer classes whose whole pipeline lives in ``tokenizer.json`` (what ``backtrack.tokenizer`` saves).
_PLAIN_FAST_TOKENIZERS = {"TokenizersBackend", "PreTrainedTokenizerFast"}


def _load_tokenizer(directory: Path) -> PreTrainedTokenizerBase:
    """The tokenizer saved in ``directory``, as the class it was saved as.

    ``AutoTokenizer`` cannot be trusted here: in transformers 5, when ``config.json`` in the same directory
    says ``model_type: qwen2``, it ignores ``tokenizer_class`` and rebuilds Qwen's byte-level BPE tokenizer
    around our vocabulary, which silently drops whole words ("Moving to Node #0,0" encodes as "#0,0").
    A plain fast tokenizer is therefore loaded by its own class; anything else goes through AutoTokenizer.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    declared = None
    config_file = directory / "tokenizer_config.json"
    if config_file.is_file():
        declared = json.loads(config_file.read_text(encoding="utf-8")).get("tokenizer_class")
    if declared in _PLAIN_FAST_TOKENIZERS or (declared is None and (directory / "tokenizer.json").is_file()):
        return PreTrainedTokenizerFast.from_pretrained(directory, local_files_only=True)
    return AutoTokenizer.from_pretrained(directory, local_files_only=True)


# Architectures whose parameter count follows from the config alone, with which projections carry a
# bias: Qwen2 has biases on q, k and v only; Llama-likes read it from ``attention_bias``/``mlp_bias``.
_QKV_BIAS_ALWAYS = {"qwen2"}
_LLAMA_LIKE = {"llama", "qwen2"}


def _analytic_count(config: PretrainedConfig) -> dict[str, int] | None:
    """Counts from the config for Llama-like decoders; None where the layout is not one we know."""
    if getattr(config, "model_type", None) not in _LLAMA_LIKE:
        return None
    h = config.hidden_size
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    q_dim, kv_dim = heads * head_dim, kv_heads * head_dim
    ffn, vocab = config.intermediate_size, config.vocab_size
    qkv_bias = config.model_type in _QKV_BIAS_ALWAYS or bool(getattr(config, "attention_bias", False))
    o_bias = config.model_type not in _QKV_BIAS_ALWAYS and bool(getattr(config, "attention_bias", False))
    mlp_bias = bool(getattr(config, "mlp_bias", False))
    attention = (
        2 * h * q_dim + 2 * h * kv_dim + (q_dim + 2 * kv_dim if qkv_bias else 0) + (h if o_bias else 0)
    )
    mlp = 3 * h * ffn + (2 * ffn + h if mlp_bias else 0)
    norms = 2 * h
    body = config.num_hidden_layers * (attention + mlp + norms) + h  # + the final norm
    embedding = vocab * h * (1 if config.tie_word_embeddings else 2)
    return {"total": body + embedding, "non_embedding": body, "embedding": embedding}


def _module_count(model: Any) -> dict[str, int]:
    """Counts from a built model (parameters shared by tying are counted once, as ``parameters()`` does)."""
    total = sum(p.numel() for p in model.parameters())
    embedding_params = {id(model.get_input_embeddings().weight): model.get_input_embeddings().weight}
    output = model.get_output_embeddings()
    if output is not None:
        embedding_params[id(output.weight)] = output.weight
    embedding = sum(p.numel() for p in embedding_params.values())
    return {"total": total, "non_embedding": total - embedding, "embedding": embedding}


def parameter_count(model_or_config: Any) -> dict[str, int]:
    """``{"total", "non_embedding", "embedding"}`` parameter counts of a model, config or size name.

    ``embedding`` is the token embedding plus the output head when untied. For a config of a known
    Llama-like architecture the counts are arithmetic on the config (instant even for large sizes); other
    configs are built on the ``meta`` device, which allocates no weights.
    """
    import torch

    if isinstance(model_or_config, torch.nn.Module):
        return _module_count(model_or_config)
    config = model_or_config
    if isinstance(config, (str, ModelSize)):
        raise TypeError(
            "parameter_count needs a config or model; use qwen2_config(size, vocab_size=..., context=...)"
        )
    counts = _analytic_count(config)
    if counts is not None:
        return counts
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return _module_count(AutoModelForCausalLM.from_config(config))


def describe_sizes(vocab_size: int | None = None, *, context: int = 4096) -> list[dict[str, Any]]:
    """One row per named size (dims and parameter counts), for the ``backtrack models`` table.

    ``vocab_size`` defaults to the default task's tokenizer's; it changes only the embedding columns.
    """
    if vocab_size is None:
        from backtrack.tasks import DEFAULT_TASK
        from backtrack.tokenizer import build_tokenizer

        vocab_size = len(build_tokenizer(DEFAULT_TASK))
    rows = []
    for name, size in MODEL_SIZES.items():
        counts = parameter_count(qwen2_config(size, vocab_size=vocab_size, context=context))
        rows.append(
            {
                "name": name,
                **asdict(size),
                "head_dim": size.head_dim,
                "vocab_size": vocab_size,
                "params": counts["total"],
                "non_embedding_params": counts["non_embedding"],
                "embedding_params": counts["embedding"],
                "paper": name in PAPER_SIZES,
            }
        )
    return rows
