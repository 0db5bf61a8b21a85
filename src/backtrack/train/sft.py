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
  by one) and builds a block-diagonal causal mask for sdpa and eager attention, a FlexAttention block
  mask for ``flex_attention``; flash attention uses the same ``position_ids`` as varlen boundaries. The
  attention is chosen by device in ``backtrack.train.packed_attention`` (FlexAttention on CUDA, one
  fused causal call per example for long rows on the CPU). The detection is skipped when a KV cache
  exists, so every batch carries ``use_cache=False``. This is verified, not assumed:
  ``packing_max_difference`` compares the logits of examples packed in one row with the same examples
  run alone, ``train_sft`` runs it on the given model before training (``verify_packing``), and the
  tests require agreement to 1e-5 in float32.
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

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtrack.train.callbacks import progress_bars, token_rate_callback
from backtrack.train.checkpoints import (
    check_resume_settings,
    is_main_process,
    last_checkpoint,
    remove_checkpoints,
    save_final,
    set_special_ids,
    write_json,
)
from backtrack.train.config import (
    SFTSettings,
    resolve_bf16,
    sft_training_arguments,
    training_device,
)
from backtrack.train.lora import merge_lora, with_lora
from backtrack.train.packed_attention import FLEX_PAD_MULTIPLE, choose_packed_attention, packed_attention
from backtrack.train.packing import (
    PackedCollator,
    PackedDataset,
    column,
    pack_lengths,
    tokenize_examples,
    verify_packing,
)
from backtrack.train.splits import load_splits

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback

__all__ = ["RESULT_FILE", "SETTINGS_FILE", "SFTResult", "SFTSettings", "train_sft"]

SETTINGS_FILE = "sft_settings.json"
RESULT_FILE = "sft_result.json"
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
    "lora_r",
)


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


# ---- data and output directory -----------------------------------------------------------------
def _train_split(dataset: Any) -> datasets.Dataset:
    """The training rows from a ``Dataset``, a ``DatasetDict`` (its ``train`` split) or a saved one."""
    train, _ = load_splits(dataset)
    missing = {"prompt", "completion"} - set(train.column_names)
    if missing:
        raise ValueError(
            f"the dataset lacks column(s) {sorted(missing)} (has {train.column_names}); "
            "build it with backtrack.data.build_dataset"
        )
    if len(train) == 0:
        raise ValueError("the training split is empty")
    return train


def _prepare_output_dir(out: Path, settings: SFTSettings) -> Path | None:
    """The checkpoint to resume from (or None); refuses to mix a new run into an old one's checkpoints."""
    last = last_checkpoint(out)
    if settings.resume:
        if last is not None:
            check_resume_settings(out, SETTINGS_FILE, settings.to_dict(), RESUME_KEYS, "the batches")
        return last
    if last is not None:
        if not settings.overwrite:
            raise ValueError(
                f"{out} holds checkpoints of an earlier run ({last.name}); pass resume=True to continue it "
                "or overwrite=True to start again"
            )
        remove_checkpoints(out)
    return None


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
    device = training_device(settings.device)
    bf16 = resolve_bf16(settings.bf16, device)
    resume_from = _prepare_output_dir(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    args = sft_training_arguments(settings, out, bf16, device)

    with args.main_process_first(desc="tokenizing"), progress_bars(settings.progress):
        tokens = tokenize_examples(train, tokenizer, settings, out)
    if len(tokens) == 0:
        raise ValueError(
            f"no training example is left after encoding (all {len(train)} dropped: overlong with "
            f"overlong='drop', or prompts of max_length={settings.max_length} tokens or more)"
        )
    lengths = column(tokens, "length")
    if settings.packing:
        rows = pack_lengths(lengths, settings.max_length, seed=settings.seed)
    else:
        rows = [[i] for i in range(len(tokens))]
    packed = PackedDataset(tokens, rows)
    set_special_ids(model, tokenizer)
    if is_main_process():
        write_json(out / SETTINGS_FILE, settings.to_dict())

    path = choose_packed_attention(
        model,
        device,
        packing=settings.packing,
        max_length=settings.max_length,
        segment_attention=settings.segment_attention,
        flex_attention=settings.flex_attention,
    )
    with packed_attention(model, path) as attention:
        if settings.verify_packing:
            verify_packing(model)
        trained = with_lora(model, settings.lora_r)  # the model itself without LoRA
        trainer, rate, output = _fit(
            trained, tokenizer, args, packed, settings, resume_from, callbacks, attention
        )
    if settings.lora_r is not None:
        trainer.model = merge_lora(trainer.model)  # into ``model``'s own weights: saved (and kept) whole
    with progress_bars(settings.progress):
        save_final(trainer, out)  # after the block: the saved config names the model's own attention

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
        truncated=int(column(tokens, "truncated").sum()),
        dropped=len(train) - len(tokens),
        extra={
            "bf16": bf16,
            "world_size": int(args.world_size),
            "attention": attention,
            "segment_attention": attention == "segment",
            "device": str(args.device),
        },
    )
    if trainer.is_world_process_zero():
        write_json(out / RESULT_FILE, result.to_dict())
    return result


def _fit(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    args: Any,
    packed: PackedDataset,
    settings: SFTSettings,
    resume_from: Path | None,
    callbacks: Sequence[TrainerCallback],
    attention: str,
) -> tuple[Any, Any, Any]:
    """Build the Trainer and train; returns (trainer, token-rate callback, train output)."""
    from transformers import PrinterCallback, ProgressCallback, Trainer

    use_cache = getattr(model.config, "use_cache", None)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=packed,
        data_collator=PackedCollator(
            pad_token_id=int(tokenizer.pad_token_id),
            pad_to_multiple_of=FLEX_PAD_MULTIPLE if attention == "flex" else None,
        ),
        processing_class=tokenizer,
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    rate = token_rate_callback(settings.progress)
    trainer.add_callback(rate)
    for callback in callbacks:
        trainer.add_callback(callback)
    with progress_bars(settings.progress):
        try:
            output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        finally:
            if use_cache is not None:
                model.config.use_cache = use_cache  # the Trainer turned it off; sampling wants it on
            # Mixed precision wraps model.forward in autocast; unwrap it so the caller's model runs in
            # its own precision (as the saved copy does) rather than bf16 ever after.
            trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    return trainer, rate, output
