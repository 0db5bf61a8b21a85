"""Supervised fine-tuning on (prompt, completion) traces: packed rows, completion-only loss, exact resume.

``train_sft(model, tokenizer, "data/cd4", SFTSettings(output_dir="ckpt/cd4-dfs", max_steps=5000))`` trains
with the Hugging Face ``Trainer``, so ``accelerate launch`` / ``torchrun`` run the same call on many GPUs
(DDP, FSDP, DeepSpeed) with no code change, and checkpoints are ordinary Trainer checkpoints.

Why it is built this way:

- **No compute spent on padding.** The reference trainer padded every example to the context length;
  CountDown traces are mostly far shorter than 4096 tokens, so most of its compute went to pad tokens.
  Here examples are packed whole into rows of at most ``max_length`` tokens by best-fit decreasing
  (``pack_lengths``), and a batch is padded only to its longest row. An example is never split across
  rows: a continuation chunk without its prompt (what the reference did with long traces) teaches the
  model to continue states it was never shown.
- **Packed examples do not see each other.** Each example's ``position_ids`` restart at 0 and no 2-D
  ``attention_mask`` is passed. transformers 5 then detects the packed format
  (``masking_utils.find_packed_sequence_indices``: a new sequence wherever the position does not grow
  by one) and builds a block-diagonal causal mask for sdpa and eager attention; flash attention uses the
  same ``position_ids`` as varlen boundaries. The detection is skipped when a KV cache exists, so every
  batch carries ``use_cache=False``. This is verified, not assumed: ``packing_max_difference`` compares
  the logits of examples packed in one row with the same examples run alone, ``train_sft`` runs it on the
  given model before training (``verify_packing``), and the tests require agreement to 1e-5 in float32.
  RoPE sees the restarted positions, so a packed example is computed exactly as if it were alone.
- **Labels never cross an example boundary.** The causal-LM loss shifts labels by one inside a row, so
  the last token of one example is scored against the first token of the next. The first token of
  every example (BOS) therefore always has label -100, also with ``loss_on="all"``.
- **Completion-only loss by default.** Prompt tokens get label -100 and EOS is appended to every
  completion (the tokenizer adds BOS but not EOS), so the model learns to stop. ``loss_on="all"`` is
  the reference's choice (loss on the whole sequence except the initial BOS).
- **Resume loses no step.** Trainer checkpoints hold weights, optimizer, scheduler, RNG states and the
  step; the packed rows are a deterministic function of the data and the settings, so after a kill
  ``resume=True`` replays exactly the batches an uninterrupted run would have seen. The settings that
  shape the data are saved beside the checkpoints and must match on resume.
- **Useful tokens per second.** The Trainer counts non-pad input tokens across processes
  (``include_num_input_tokens_seen="non_padding"``); a callback shows that rate on the progress bar.
- **Atomic final save.** Model and tokenizer are saved into ``output_dir/.final-tmp`` and only then
  moved into ``output_dir`` (one rename per file, weights last), so a crash during the save never
  leaves a half-written weights file where ``from_pretrained`` would load it.

Why not TRL's ``SFTTrainer``: TRL is not a dependency of this package, and in TRL 1.x packing with its
default ``packing_strategy="bfd"`` forces ``padding_free``, which flattens the whole batch into one
sequence and is documented as supported with FlashAttention 2/3 only. This module must run on a CPU
with sdpa, where one flattened row of ``batch * max_length`` tokens would cost that length squared in
masked attention; rows bounded by ``max_length`` keep the attention cost of a plain batch, and with
flash attention they are as cheap as TRL's flattened batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backtrack.train.segment_attention import segment_attention

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback

SEGMENT_ATTENTION_MIN_LENGTH = 2048  # see SFTSettings.segment_attention

__all__ = [
    "IGNORE_INDEX",
    "LOSS_ON",
    "PackedCollator",
    "PackedDataset",
    "SFTResult",
    "SFTSettings",
    "encode_example",
    "pack_lengths",
    "packing_max_difference",
    "train_sft",
]

IGNORE_INDEX = -100  # label value the causal-LM loss skips
LOSS_ON = ("completion", "all")
OVERLONG = ("truncate", "drop")
SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")
SETTINGS_FILE = "sft_settings.json"
RESULT_FILE = "sft_result.json"
FINAL_TMP = ".final-tmp"
CACHE_DIR = ".sft-cache"
# Settings that decide which tokens land in which batch: a resume with other values would not continue
# the same run, so they are checked against the saved ones.
RESUME_KEYS = (
    "max_length",
    "per_device_batch_size",
    "gradient_accumulation_steps",
    "loss_on",
    "packing",
    "overlong",
    "seed",
)
_ENCODING_VERSION = 1  # bump when _encode_columns changes, so stale token caches are not reused
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class CheckedSettings:
    """Base of the training settings dataclasses: ``_check(need)`` calls ``need(ok, message)`` per rule,
    and construction fails with one ``ValueError`` naming every broken rule at once."""

    def __post_init__(self) -> None:
        problems: list[str] = []

        def need(ok: bool, message: str) -> None:
            if not ok:
                problems.append(message)

        self._check_shared(need)
        self._check(need)
        if problems:
            raise ValueError(f"invalid {type(self).__name__}: " + "; ".join(problems))

    def _check_shared(self, need: Callable[[bool, str], None]) -> None:
        """Rules for the fields every training settings class has."""
        need(
            isinstance(self.output_dir, str | os.PathLike) and str(self.output_dir) != "",
            f"output_dir must be a non-empty path, got {self.output_dir!r}",
        )
        need(
            _is_number(self.learning_rate) and self.learning_rate > 0,
            f"learning_rate must be positive, got {self.learning_rate!r}",
        )
        need(
            self.lr_scheduler in SCHEDULERS,
            f"lr_scheduler must be one of {SCHEDULERS}, got {self.lr_scheduler!r}",
        )
        need(_is_int(self.seed) and self.seed >= 0, f"seed must be a non-negative integer, got {self.seed!r}")
        need(not (self.resume is True and self.overwrite is True), "resume and overwrite exclude each other")

    def _check(self, need: Callable[[bool, str], None]) -> None:
        raise NotImplementedError

    def _positive_ints(
        self, need: Callable[[bool, str], None], names: Sequence[str], *, optional: bool
    ) -> None:
        """Each named field is a positive integer (or None, when ``optional``)."""
        for name in names:
            value = getattr(self, name)
            ok = _is_int(value) and value > 0
            if optional:
                need(value is None or ok, f"{name} must be a positive integer or None, got {value!r}")
            else:
                need(ok, f"{name} must be a positive integer, got {value!r}")

    def _flags(self, need: Callable[[bool, str], None], names: Sequence[str]) -> None:
        for name in names:
            value = getattr(self, name)
            need(isinstance(value, bool), f"{name} must be True or False, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output_dir"] = str(self.output_dir)
        return data


@dataclass
class SFTSettings(CheckedSettings):
    """How ``train_sft`` trains (TRL-style config: every field documented, checked on construction).

    Batch size is counted in *rows*: with packing a row holds up to ``max_length`` tokens of whole
    examples, so one optimizer step sees about ``per_device_batch_size * max_length *
    gradient_accumulation_steps * world_size`` tokens (the returned ``fill`` says how full rows are).
    Without packing a row is one example.
    """

    output_dir: str | os.PathLike[str]
    """Checkpoints (``checkpoint-<step>``), then the final model and tokenizer, go here."""
    max_steps: int | None = None
    """Optimizer steps to train; ``None`` trains for ``epochs`` instead (this wins when both are set)."""
    epochs: float = 1.0
    """Passes over the packed rows when ``max_steps`` is None."""
    per_device_batch_size: int = 8
    """Rows per device per forward pass (see the class docstring)."""
    gradient_accumulation_steps: int = 1
    """Forward passes per optimizer step."""
    max_length: int = 512
    """Row capacity in tokens and the longest example kept (the model's context: 4096 for traces)."""
    learning_rate: float = 5e-4
    """Peak learning rate (small models trained from scratch tolerate far more than fine-tuning's 2e-5)."""
    lr_scheduler: str = "cosine"
    """One of ``SCHEDULERS``; cosine decays to 0 over the run after warm-up."""
    warmup_ratio: float = 0.0
    """Share of all steps spent warming up linearly from 0; in [0, 1). Exclusive with ``warmup_steps``."""
    warmup_steps: int = 0
    """Warm-up length in steps. Exclusive with ``warmup_ratio``."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm (0 disables clipping)."""
    loss_on: str = "completion"
    """``"completion"``: loss on completion tokens and EOS only; ``"all"``: whole sequence (the reference)."""
    packing: bool = True
    """Pack whole examples into rows of ``max_length`` tokens; False gives one example per row."""
    overlong: str = "truncate"
    """Examples longer than ``max_length``: ``"truncate"`` keeps their first ``max_length`` tokens (no EOS
    then), ``"drop"`` leaves them out. Both are counted in the result."""
    bf16: bool | None = None
    """bf16 mixed precision; ``None`` turns it on where it is fast: a CUDA device with bf16 or an AMX CPU."""
    seed: int = 0
    """Seeds the Trainer (row order, RNG) and the tie-breaking of packing."""
    logging_steps: int = 10
    """Log loss, learning rate and useful tokens/s every this many steps."""
    save_steps: int | None = 500
    """Checkpoint every this many steps; ``None`` saves only the final model (no resume possible)."""
    save_total_limit: int | None = 2
    """Checkpoints kept (oldest removed first); ``None`` keeps all."""
    resume: bool = False
    """Continue from the last checkpoint in ``output_dir`` (a fresh start when there is none)."""
    overwrite: bool = False
    """Without ``resume``, delete checkpoints of an earlier run in ``output_dir`` instead of refusing."""
    progress: bool = True
    """Show a progress bar with useful tokens/s (and ``datasets``' bar while tokenizing)."""
    verify_packing: bool = True
    """Before training, check on the given model that packed examples do not attend to each other."""
    segment_attention: bool | None = None
    """With packing, train with one fused causal attention per packed example
    (``backtrack.train.segment_attention``) instead of sdpa over a block-diagonal mask. ``None`` turns it
    on for rows of 2,048 tokens or more: on this project's CPU it halves a 4,096-token step of the 250K
    model, while at 256-1,088 tokens the per-example calls cost more than the mask saves. Models loaded
    with a flash attention implementation keep it (it already reads packed ``position_ids``)."""
    num_proc: int | None = None
    """Processes for tokenization (``datasets.map``); ``None`` tokenizes in this process."""
    dataloader_num_workers: int = 0
    """Worker processes building batches; 0 builds them in the training process."""

    def _check(self, need: Callable[[bool, str], None]) -> None:
        self._positive_ints(need, ("max_steps", "save_steps", "save_total_limit", "num_proc"), optional=True)
        need(_is_number(self.epochs) and self.epochs > 0, f"epochs must be positive, got {self.epochs!r}")
        self._positive_ints(
            need,
            ("per_device_batch_size", "gradient_accumulation_steps", "max_length", "logging_steps"),
            optional=False,
        )
        need(
            _is_number(self.warmup_ratio) and 0 <= self.warmup_ratio < 1,
            f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}",
        )
        need(
            _is_int(self.warmup_steps) and self.warmup_steps >= 0,
            f"warmup_steps must be a non-negative integer, got {self.warmup_steps!r}",
        )
        if _is_number(self.warmup_ratio) and _is_int(self.warmup_steps):
            need(
                not (self.warmup_ratio > 0 and self.warmup_steps > 0),
                "set warmup_ratio or warmup_steps, not both",
            )
        for name in ("weight_decay", "max_grad_norm"):
            value = getattr(self, name)
            need(_is_number(value) and value >= 0, f"{name} must be a non-negative number, got {value!r}")
        need(self.loss_on in LOSS_ON, f"loss_on must be one of {LOSS_ON}, got {self.loss_on!r}")
        need(self.overlong in OVERLONG, f"overlong must be one of {OVERLONG}, got {self.overlong!r}")
        need(
            self.bf16 is None or isinstance(self.bf16, bool),
            f"bf16 must be True, False or None, got {self.bf16!r}",
        )
        need(
            self.segment_attention is None or isinstance(self.segment_attention, bool),
            f"segment_attention must be True, False or None, got {self.segment_attention!r}",
        )
        need(
            _is_int(self.dataloader_num_workers) and self.dataloader_num_workers >= 0,
            f"dataloader_num_workers must be a non-negative integer, got {self.dataloader_num_workers!r}",
        )
        self._flags(need, ("packing", "resume", "overwrite", "progress", "verify_packing"))


@dataclass
class SFTResult:
    """What a ``train_sft`` call did. Token and time figures cover this call only (not earlier runs
    that a resume continued); ``steps`` is the global step reached."""

    output_dir: Path
    steps: int  # global optimizer step at the end
    steps_this_run: int
    resumed_from: str | None  # the checkpoint this call continued, if any
    train_loss: float  # mean training loss over this call's steps
    final_loss: float | None  # the last logged loss
    losses: list[tuple[int, float]]  # (step, loss) as logged, earlier runs included after a resume
    useful_tokens: int  # non-pad input tokens processed in this call, all processes together
    tokens_per_second: float  # useful tokens per wall-clock second of training
    wall_seconds: float  # training only (tokenization, packing and the final save excluded)
    examples: int  # training examples after dropping
    rows: int  # packed rows per epoch
    fill: float  # tokens / (rows * max_length): how full the packed rows are
    truncated: int  # examples cut to max_length
    dropped: int  # examples left out (overlong with overlong="drop", or no loss token left)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output_dir"] = str(self.output_dir)
        return data

    def summary(self) -> str:
        loss = "n/a" if self.final_loss is None else f"{self.final_loss:.4f}"
        return (
            f"{self.output_dir}: step {self.steps} ({self.steps_this_run} this run), final loss {loss}, "
            f"{self.useful_tokens:,} useful tokens in {self.wall_seconds:.1f}s "
            f"({self.tokens_per_second:,.0f} tokens/s), {self.examples} examples in {self.rows} rows "
            f"({self.fill:.1%} full)"
        )


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
    (with BOS), the completion without special tokens, then EOS.
    """
    prompts = tokenizer(list(batch["prompt"]))["input_ids"]
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


def _verify_packing(model: PreTrainedModel) -> None:
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


# ---- data ---------------------------------------------------------------------------------------
def _train_split(dataset: Any) -> datasets.Dataset:
    """The training rows from a ``Dataset``, a ``DatasetDict`` (its ``train`` split) or a saved one."""
    import datasets

    if isinstance(dataset, str | os.PathLike):
        path = Path(dataset).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"no dataset at {str(path)!r}")
        dataset = datasets.load_from_disk(str(path))
    if isinstance(dataset, datasets.DatasetDict):
        if "train" not in dataset:
            raise ValueError(f"the dataset has no 'train' split (splits: {', '.join(dataset)})")
        dataset = dataset["train"]
    if not isinstance(dataset, datasets.Dataset):
        raise TypeError(f"expected a datasets.Dataset, DatasetDict or a path, got {type(dataset).__name__}")
    missing = {"prompt", "completion"} - set(dataset.column_names)
    if missing:
        raise ValueError(
            f"the dataset lacks column(s) {sorted(missing)} (has {dataset.column_names}); "
            "build it with backtrack.data.build_dataset"
        )
    if len(dataset) == 0:
        raise ValueError("the training split is empty")
    return dataset


def _tokenize(train: datasets.Dataset, tokenizer: Any, settings: SFTSettings, out: Path) -> datasets.Dataset:
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


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    """Turn ``datasets``' and ``transformers``' own bars (tokenizing, writing shards) off when asked."""
    import datasets
    from transformers.utils import logging as hf_logging

    if enabled:
        yield
        return
    datasets_on = not datasets.are_progress_bars_disabled()
    transformers_on = hf_logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if datasets_on:
            datasets.enable_progress_bars()
        if transformers_on:
            hf_logging.enable_progress_bar()


def _column(dataset: datasets.Dataset, name: str) -> np.ndarray:
    return np.asarray(dataset.select_columns([name]).with_format("numpy")[:][name])


# ---- progress -----------------------------------------------------------------------------------
def _token_rate_callback(show_bar: bool) -> TrainerCallback:
    """A callback that tracks useful (non-pad) tokens per second and shows them on a progress bar."""
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class TokenRateCallback(TrainerCallback):
        def __init__(self) -> None:
            self.bar: Any = None
            self.start_time = self.end_time = time.perf_counter()
            self.start_tokens = self.tokens = 0
            self.start_step = self.step = 0
            self.last_loss: float | None = None

        @property
        def useful_tokens(self) -> int:
            return self.tokens - self.start_tokens

        @property
        def seconds(self) -> float:
            return max(self.end_time - self.start_time, 1e-9)

        @property
        def rate(self) -> float:
            return self.useful_tokens / self.seconds

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.start_time = self.end_time = time.perf_counter()
            self.start_tokens = self.tokens = state.num_input_tokens_seen
            self.start_step = self.step = state.global_step
            if show_bar and state.is_world_process_zero:
                self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="sft", unit="step")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.end_time = time.perf_counter()
            self.tokens = state.num_input_tokens_seen
            if self.bar is not None:
                self.bar.update(state.global_step - self.step)
                postfix = {"tok/s": f"{self.rate:,.0f}"}
                if self.last_loss is not None:
                    postfix["loss"] = f"{self.last_loss:.4f}"
                self.bar.set_postfix(postfix, refresh=False)
            self.step = state.global_step

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
        ) -> None:
            if logs is None:
                return
            if "loss" in logs:
                self.last_loss = float(logs["loss"])
                logs["useful_tokens_per_second"] = round(self.rate, 1)
                if self.bar is not None:
                    lr = logs.get("learning_rate")
                    self.bar.write(
                        f"step {state.global_step}/{state.max_steps}  loss {self.last_loss:.4f}"
                        + (f"  lr {lr:.3g}" if isinstance(lr, float) else "")
                        + f"  {self.rate:,.0f} useful tokens/s"
                    )

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return TokenRateCallback()


# ---- output directory ---------------------------------------------------------------------------
def _is_main_process() -> bool:
    """Rank 0 before the Trainer exists (accelerate/torchrun export RANK); True when not distributed."""
    return int(os.environ.get("RANK", "0")) == 0


def _last_checkpoint(out: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not out.is_dir():
        return None
    last = get_last_checkpoint(str(out))
    return Path(last) if last else None


def _prepare_output_dir(out: Path, settings: SFTSettings) -> Path | None:
    """The checkpoint to resume from (or None); refuses to mix a new run into an old one's checkpoints."""
    last = _last_checkpoint(out)
    saved = out / SETTINGS_FILE
    if settings.resume:
        if last is not None and saved.is_file():
            before = json.loads(saved.read_text())
            changed = [k for k in RESUME_KEYS if k in before and before[k] != getattr(settings, k)]
            if changed:
                details = ", ".join(f"{k}: {before[k]!r} -> {getattr(settings, k)!r}" for k in changed)
                raise ValueError(
                    f"cannot resume {out}: settings that decide the batches changed ({details}); "
                    "resume with the original values or start a new output_dir"
                )
        return last
    if last is not None:
        if not settings.overwrite:
            raise ValueError(
                f"{out} holds checkpoints of an earlier run ({last.name}); pass resume=True to continue it "
                "or overwrite=True to start again"
            )
        for checkpoint in out.glob("checkpoint-*"):
            shutil.rmtree(checkpoint, ignore_errors=True)  # every rank may try; errors mean already gone
    return None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to a temporary file and rename it into place (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _save_final(trainer: Trainer, out: Path) -> None:
    """Model + tokenizer into ``out`` via a temporary directory; weights are moved last.

    ``save_model`` runs on every process (FSDP/DeepSpeed gather the weights there) and writes on the
    main one only.
    """
    tmp = out / FINAL_TMP
    if trainer.is_world_process_zero() and tmp.exists():
        shutil.rmtree(tmp)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp))
    if trainer.is_world_process_zero():
        for path in sorted(tmp.iterdir(), key=lambda p: (p.name in _WEIGHT_FILES, p.name)):
            target = out / path.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(path, target)
        tmp.rmdir()
    trainer.accelerator.wait_for_everyone()


def _set_special_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Fill missing pad/bos/eos ids of the model's configs from the tokenizer, so the saved model's
    ``generate`` stops at EOS with no extra arguments."""
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        value = getattr(tokenizer, name)
        for config in (model.config, getattr(model, "generation_config", None)):
            if config is not None and value is not None and getattr(config, name, None) is None:
                setattr(config, name, value)


def _training_arguments(settings: SFTSettings, out: Path, bf16: bool) -> Any:
    import torch
    from transformers import TrainingArguments

    warmup: float = float(settings.warmup_ratio) if settings.warmup_ratio > 0 else int(settings.warmup_steps)
    return TrainingArguments(
        output_dir=str(out),
        max_steps=settings.max_steps if settings.max_steps is not None else -1,
        num_train_epochs=float(settings.epochs),
        per_device_train_batch_size=settings.per_device_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=float(settings.learning_rate),
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=warmup,
        weight_decay=float(settings.weight_decay),
        max_grad_norm=float(settings.max_grad_norm),
        bf16=bf16,
        # The Trainer refuses bf16 without a GPU unless told the run is on CPU on purpose.
        use_cpu=bf16 and not torch.cuda.is_available(),
        logging_strategy="steps",
        logging_steps=settings.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if settings.save_steps else "no",
        save_steps=settings.save_steps or 500,
        save_total_limit=settings.save_total_limit,
        seed=settings.seed,
        report_to="none",
        disable_tqdm=True,  # the token-rate callback draws the bar
        remove_unused_columns=False,  # rows are built by PackedDataset, not from dataset columns
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=settings.dataloader_num_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        ddp_find_unused_parameters=False,  # a causal LM uses every parameter; the search costs a graph walk
    )


def bf16_supported() -> bool:
    """Whether bf16 autocast is fast here: a CUDA device with bf16, or (without CUDA) a CPU with AMX
    tiles, where oneDNN runs bf16 matmuls on the matrix unit (1.5x the fp32 training rate of the 1M
    model at context 1088 on this project's CPU machine; see docs/benchmarks.md)."""
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    cpu = getattr(torch, "cpu", None)
    amx = getattr(cpu, "_is_amx_tile_supported", None)  # a private probe: absent means "don't know"
    return bool(amx and amx())


def _resolve_bf16(requested: bool | None) -> bool:
    import torch

    if requested is None:
        return bf16_supported()
    if requested and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        raise ValueError("bf16=True but this CUDA device has no bf16; use bf16=None to pick automatically")
    return requested


# ---- training -----------------------------------------------------------------------------------
def train_sft(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Any,
    settings: SFTSettings,
    *,
    callbacks: Sequence[TrainerCallback] = (),
) -> SFTResult:
    """Train ``model`` on the ``train`` split of ``dataset`` and save model and tokenizer to
    ``settings.output_dir``.

    ``dataset`` is a ``datasets.Dataset`` / ``DatasetDict`` with ``prompt`` and ``completion`` columns
    or the path of one saved with ``save_to_disk`` (as ``backtrack.data.build_dataset`` writes).
    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (the tests use one to simulate a
    kill). ``model`` is trained in place (and moved to the training device). Under ``accelerate launch``
    or ``torchrun`` every process runs this same call; on CPUs, ``accelerate launch --cpu`` (or
    ``ACCELERATE_USE_CPU=true``) is needed for the Trainer to use DDP instead of independent processes.
    """
    if not isinstance(settings, SFTSettings):
        raise TypeError(f"settings must be SFTSettings, got {type(settings).__name__}")
    for name in ("pad_token_id", "eos_token_id"):
        if getattr(tokenizer, name, None) is None:
            raise ValueError(
                f"the tokenizer has no {name[:-3]} token; SFT needs one (set tokenizer.{name[:-3]})"
            )
    out = Path(settings.output_dir).expanduser()
    train = _train_split(dataset)
    bf16 = _resolve_bf16(settings.bf16)
    resume_from = _prepare_output_dir(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    args = _training_arguments(settings, out, bf16)

    with args.main_process_first(desc="tokenizing"), _progress_bars(settings.progress):
        tokens = _tokenize(train, tokenizer, settings, out)
    if len(tokens) == 0:
        raise ValueError(
            f"no training example is left after encoding (all {len(train)} dropped: overlong with "
            f"overlong='drop', or prompts of max_length={settings.max_length} tokens or more)"
        )
    lengths = _column(tokens, "length")
    if settings.packing:
        rows = pack_lengths(lengths, settings.max_length, seed=settings.seed)
    else:
        rows = [[i] for i in range(len(tokens))]
    packed = PackedDataset(tokens, rows)
    _set_special_ids(model, tokenizer)
    if _is_main_process():
        _write_json(out / SETTINGS_FILE, settings.to_dict())

    use_segments = settings.segment_attention
    if use_segments is None:
        use_segments = settings.max_length >= SEGMENT_ATTENTION_MIN_LENGTH
    with segment_attention(model, settings.packing and use_segments) as segments:
        if settings.verify_packing:
            _verify_packing(model)
        trainer, rate, output = _fit(model, tokenizer, args, packed, settings, resume_from, callbacks)
    with _progress_bars(settings.progress):
        _save_final(trainer, out)  # after the block: the saved config names the model's own attention

    state = trainer.state
    losses = [(int(entry["step"]), float(entry["loss"])) for entry in state.log_history if "loss" in entry]
    result = SFTResult(
        output_dir=out,
        steps=int(state.global_step),
        steps_this_run=int(state.global_step - rate.start_step),
        resumed_from=str(resume_from) if resume_from else None,
        train_loss=float(output.training_loss),
        final_loss=losses[-1][1] if losses else None,
        losses=losses,
        useful_tokens=int(rate.useful_tokens),
        tokens_per_second=float(rate.rate),
        wall_seconds=float(rate.seconds),
        examples=len(tokens),
        rows=len(rows),
        fill=float(lengths.sum() / (len(rows) * settings.max_length)),
        truncated=int(_column(tokens, "truncated").sum()),
        dropped=len(train) - len(tokens),
        extra={"bf16": bf16, "world_size": int(args.world_size), "segment_attention": segments},
    )
    if trainer.is_world_process_zero():
        _write_json(out / RESULT_FILE, result.to_dict())
    return result


def _fit(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    args: Any,
    packed: PackedDataset,
    settings: SFTSettings,
    resume_from: Path | None,
    callbacks: Sequence[TrainerCallback],
) -> tuple[Any, Any, Any]:
    """Build the Trainer and train; returns (trainer, token-rate callback, train output)."""
    from transformers import PrinterCallback, ProgressCallback, Trainer

    use_cache = getattr(model.config, "use_cache", None)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=packed,
        data_collator=PackedCollator(pad_token_id=int(tokenizer.pad_token_id)),
        processing_class=tokenizer,
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    rate = _token_rate_callback(settings.progress)
    trainer.add_callback(rate)
    for callback in callbacks:
        trainer.add_callback(callback)
    with _progress_bars(settings.progress):
        try:
            output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        finally:
            if use_cache is not None:
                model.config.use_cache = use_cache  # the Trainer turned it off; sampling wants it on
            # Mixed precision wraps model.forward in autocast; unwrap it so the caller's model runs in
            # its own precision (as the saved copy does) rather than bf16 ever after.
            trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    return trainer, rate, output
