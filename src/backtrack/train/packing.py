"""Encoding and packing for SFT: examples become token rows, whole examples are packed into rows of at most
``max_length`` tokens with ``position_ids`` that restart at 0 per example, and a check that packed examples
do not attend to each other (see ``backtrack.train.sft`` for why it is built this way).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backtrack.chat import format_prompts

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from backtrack.train.config import SFTSettings

__all__ = [
    "IGNORE_INDEX",
    "PackedCollator",
    "PackedDataset",
    "encode_example",
    "pack_lengths",
    "packing_max_difference",
    "tokenize_examples",
    "verify_packing",
]

IGNORE_INDEX = -100  # label value the causal-LM loss skips
CACHE_DIR = ".sft-cache"
_ENCODING_VERSION = 2  # bump when _encode_columns changes, so stale token caches are not reused


# ---- encoding -----------------------------------------------------------------------------------
def _encode_columns(
    batch: dict[str, list[Any]],
    *,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    loss_on: str,
    overlong: str,
) -> dict[str, list[Any]]:
    """``input_ids``, ``loss_start`` (labels before it are -100), ``length`` and ``truncated`` for a
    batch of rows; examples that are dropped are left out, so the output may be shorter.

    Prompt and completion are tokenized separately: the prompt exactly as a sampler will encode it
    (through the chat template when the tokenizer has one, ``backtrack.chat.format_prompt``; with BOS),
    the completion without special tokens, then EOS.
    """
    prompts = tokenizer(format_prompts(tokenizer, list(batch["prompt"])))["input_ids"]
    completions = tokenizer(list(batch["completion"]), add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    out: dict[str, list[Any]] = {"input_ids": [], "loss_start": [], "length": [], "truncated": []}
    for prompt, completion in zip(prompts, completions, strict=True):
        ids = [*prompt, *completion, eos]
        truncated = len(ids) > max_length
        if truncated:
            if overlong == "drop":
                continue
            ids = ids[:max_length]
        # Position 0 is never a target: it is BOS, and in a packed row its label would otherwise be
        # scored from the previous example's last token.
        start = max(len(prompt), 1) if loss_on == "completion" else 1
        if start >= len(ids):
            continue  # nothing left to learn from (the prompt alone fills max_length)
        out["input_ids"].append(ids)
        out["loss_start"].append(start)
        out["length"].append(len(ids))
        out["truncated"].append(truncated)
    return out


def encode_example(
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    completion: str,
    *,
    max_length: int = 4096,
    loss_on: str = "completion",
    overlong: str = "truncate",
) -> dict[str, list[int]] | None:
    """``{"input_ids", "labels"}`` for one example as ``train_sft`` builds it; None if it is dropped."""
    encoded = _encode_columns(
        {"prompt": [prompt], "completion": [completion]},
        tokenizer=tokenizer,
        max_length=max_length,
        loss_on=loss_on,
        overlong=overlong,
    )
    if not encoded["input_ids"]:
        return None
    ids, start = encoded["input_ids"][0], encoded["loss_start"][0]
    return {"input_ids": ids, "labels": [IGNORE_INDEX] * start + ids[start:]}


# ---- packing ------------------------------------------------------------------------------------
def pack_lengths(lengths: Sequence[int] | np.ndarray, capacity: int, *, seed: int = 0) -> list[list[int]]:
    """Rows of example indices, each row's lengths summing to at most ``capacity`` (best-fit decreasing).

    Longest examples are placed first, each into the open row with the least room that still fits it,
    or a new row. Any fit rule leaves at most one row at most half full; decreasing order makes rows
    nearly full when short examples are plentiful. Ties in length are broken by a ``seed``-ed shuffle
    so equal-length examples do not always share rows in dataset order. Deterministic for given inputs.
    """
    sizes = np.asarray(lengths, dtype=np.int64)
    if sizes.ndim != 1:
        raise ValueError("lengths must be one-dimensional")
    if sizes.size and (sizes.min() < 1 or sizes.max() > capacity):
        raise ValueError(f"lengths must be in 1..{capacity}, got {sizes.min()}..{sizes.max()}")
    order = np.random.default_rng(seed).permutation(sizes.size)
    order = order[np.argsort(-sizes[order], kind="stable")]
    open_rows: list[list[int]] = [[] for _ in range(capacity + 1)]  # row ids by room left
    has_room = np.zeros(capacity + 1, dtype=bool)
    rows: list[list[int]] = []
    for index in order.tolist():
        size = int(sizes[index])
        offset = int(has_room[size:].argmax())
        room = size + offset
        if has_room[room]:
            row = open_rows[room].pop()
            if not open_rows[room]:
                has_room[room] = False
        else:
            row, room = len(rows), capacity
            rows.append([])
        rows[row].append(index)
        left = room - size
        if left:  # full rows need no bookkeeping: nothing fits in them
            open_rows[left].append(row)
            has_room[left] = True
    return rows


class PackedDataset:
    """A map-style dataset of packed rows: item ``i`` concatenates the examples of ``rows[i]``.

    ``position_ids`` restart at 0 for each example (which is what keeps them apart in attention) and
    ``labels`` hold -100 before each example's ``loss_start``.
    """

    def __init__(self, tokens: datasets.Dataset, rows: list[list[int]]) -> None:
        self.tokens = tokens.select_columns(["input_ids", "loss_start"]).with_format(None)
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        picked = self.tokens[self.rows[i]]
        input_ids: list[int] = []
        labels: list[int] = []
        position_ids: list[int] = []
        for ids, start in zip(picked["input_ids"], picked["loss_start"], strict=True):
            input_ids.extend(ids)
            labels.extend([IGNORE_INDEX] * start)
            labels.extend(ids[start:])
            position_ids.extend(range(len(ids)))
        return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}


@dataclass
class PackedCollator:
    """Pads packed rows to the longest row of the batch (not to ``max_length``).

    Pad tokens sit after every real token of their row, get label -100, and positions restarting at 0,
    so they form a block of their own that no real token attends to. No ``attention_mask`` is returned:
    its presence would turn off transformers' packed-sequence detection.
    """

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(row["input_ids"]) for row in rows)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        position_ids = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            n = len(row["input_ids"])
            input_ids[r, :n] = torch.tensor(row["input_ids"])
            labels[r, :n] = torch.tensor(row["labels"])
            position_ids[r, :n] = torch.tensor(row["position_ids"])
            position_ids[r, n:] = torch.arange(width - n)
        return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids, "use_cache": False}


# ---- checks -------------------------------------------------------------------------------------
def packing_max_difference(
    model: PreTrainedModel, lengths: Sequence[int] = (7, 3, 12), *, seed: int = 0
) -> float:
    """Largest |logit difference| between random examples packed in one row and run one at a time.

    Near zero (float rounding) when the model's attention honours packed ``position_ids``; of the
    order of the logits themselves when packed examples leak into each other.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    vocab = int(model.config.vocab_size)
    device = next(model.parameters()).device
    examples = [torch.randint(0, vocab, (n,), generator=generator).to(device) for n in lengths]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            packed = model(
                input_ids=torch.cat(examples)[None],
                position_ids=torch.cat([torch.arange(len(e), device=device) for e in examples])[None],
                use_cache=False,
            ).logits[0]
            alone = torch.cat([model(input_ids=e[None], use_cache=False).logits[0] for e in examples])
    finally:
        model.train(was_training)
    return float((packed.float() - alone.float()).abs().max())


def verify_packing(model: PreTrainedModel) -> None:
    import torch

    dtype = next(model.parameters()).dtype
    difference = packing_max_difference(model)
    tolerance = 1e-4 if dtype == torch.float32 else 5e-2
    if difference > tolerance:
        raise RuntimeError(
            f"packed examples attend to each other in this model (logits differ by {difference:.3g} from "
            f"running them alone; attention {getattr(model.config, '_attn_implementation', '?')!r}); "
            "train with packing=False or use an architecture whose masks honour packed position_ids"
        )


# ---- tokenizing a dataset ---------------------------------------------------------------------
def tokenize_examples(
    train: datasets.Dataset, tokenizer: Any, settings: SFTSettings, out: Path
) -> datasets.Dataset:
    import datasets

    key = hashlib.sha256(
        json.dumps(
            [
                _ENCODING_VERSION,
                train._fingerprint,
                settings.max_length,
                settings.loss_on,
                settings.overlong,
                tokenizer.backend_tokenizer.to_str()
                if hasattr(tokenizer, "backend_tokenizer")
                else repr(tokenizer),
                tokenizer.eos_token_id,
                getattr(tokenizer, "chat_template", None),
            ]
        ).encode()
    ).hexdigest()[:16]
    features = datasets.Features(
        {
            "input_ids": datasets.Sequence(datasets.Value("int32")),
            "loss_start": datasets.Value("int32"),
            "length": datasets.Value("int32"),
            "truncated": datasets.Value("bool"),
        }
    )
    kwargs: dict[str, Any] = {
        "batched": True,
        "batch_size": 1000,
        "remove_columns": train.column_names,
        "features": features,
        "num_proc": settings.num_proc,
        "new_fingerprint": key,
        "fn_kwargs": {
            "tokenizer": tokenizer,
            "max_length": settings.max_length,
            "loss_on": settings.loss_on,
            "overlong": settings.overlong,
        },
        "desc": "tokenizing",
    }
    if train.cache_files:  # on-disk data: cache the tokens in the run directory, not beside the data
        (out / CACHE_DIR).mkdir(parents=True, exist_ok=True)
        kwargs["cache_file_name"] = str(out / CACHE_DIR / f"tokens-{key}.arrow")
    else:
        kwargs["keep_in_memory"] = True
    return train.map(_encode_columns, **kwargs)


def column(dataset: datasets.Dataset, name: str) -> np.ndarray:
    return np.asarray(dataset.select_columns([name]).with_format("numpy")[:][name])
