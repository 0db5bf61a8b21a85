"""Training settings: ``SFTSettings`` and ``GRPOSettings`` (checked on construction), and how they become
the Hugging Face arguments their trainers run with (``TrainingArguments``, TRL's ``GRPOConfig``).

The trainers (``backtrack.train.sft``, ``backtrack.train.grpo``) take these objects, in the manner of TRL's
``XConfig`` beside ``XTrainer``. Every field is documented where it is declared; ``CheckedSettings`` turns
every broken rule into one ``ValueError`` that names them all, so a recipe or a CLI call fails before any
model is loaded.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtrack.device import DEVICE_PATTERN
from backtrack.train.rewards import REWARD_SCHEMES

if TYPE_CHECKING:
    import torch

__all__ = [
    "LOSS_ON",
    "LOSS_TYPES",
    "OVERLONG",
    "SCALE_REWARDS",
    "SCHEDULERS",
    "SEGMENT_ATTENTION_MIN_LENGTH",
    "CheckedSettings",
    "GRPOSettings",
    "SFTSettings",
    "bf16_supported",
]

SEGMENT_ATTENTION_MIN_LENGTH = 2048  # see SFTSettings.segment_attention
LOSS_ON = ("completion", "all")
OVERLONG = ("truncate", "drop")
SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")
LOSS_TYPES = ("dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo")
SCALE_REWARDS = ("group", "batch", "none")


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
        need(
            self.device is None or (isinstance(self.device, str) and re.match(DEVICE_PATTERN, self.device)),
            f"device must be None, 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}",
        )

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

    def _optional_flags(self, need: Callable[[bool, str], None], names: Sequence[str]) -> None:
        """Flags where ``None`` means "decide by the device"."""
        for name in names:
            value = getattr(self, name)
            need(
                value is None or isinstance(value, bool), f"{name} must be True, False or None, got {value!r}"
            )

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
    """bf16 mixed precision; ``None`` turns it on for a CUDA device with bf16 and leaves it off on a CPU
    (``True`` asks for it there: faster on AMX CPUs, but results then depend on the instruction set)."""
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
    on for rows of 2,048 tokens or more where FlexAttention is not used (the CPU): on this project's CPU
    it halves a 4,096-token step of the 250K model, while at 256-1,088 tokens the per-example calls cost
    more than the mask saves. ``True`` also wins over FlexAttention on CUDA. Models loaded with a flash
    attention implementation keep it (it already reads packed ``position_ids``). The choice is made in
    ``backtrack.train.packed_attention``."""
    flex_attention: bool | None = None
    """With packing, train through transformers' ``flex_attention`` (PyTorch FlexAttention with a block
    mask built from the packed ``position_ids``; ``backtrack.train.packed_attention``). ``None`` turns it
    on on CUDA (FlexAttention has no backward pass on the CPU); ``segment_attention=True`` then wins."""
    num_proc: int | None = None
    """Processes for tokenization (``datasets.map``); ``None`` tokenizes in this process."""
    dataloader_num_workers: int = 0
    """Worker processes building batches; 0 builds them in the training process."""
    lora_r: int | None = None
    """Train rank-``lora_r`` LoRA adapters (``backtrack.train.lora``) instead of every weight; the final
    model is saved with the adapters merged. ``None``: full fine-tuning."""
    device: str | None = None
    """``cpu`` or ``cuda``; ``None`` follows ``backtrack.device``'s rule (CUDA when present, else the CPU;
    the CPU in processes started by ``accelerate launch --cpu``). Under a multi-process launcher each
    process takes its own GPU whatever this says."""

    def _check(self, need: Callable[[bool, str], None]) -> None:
        self._positive_ints(
            need, ("max_steps", "save_steps", "save_total_limit", "num_proc", "lora_r"), optional=True
        )
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
        self._optional_flags(need, ("bf16", "segment_attention", "flex_attention"))
        need(
            _is_int(self.dataloader_num_workers) and self.dataloader_num_workers >= 0,
            f"dataloader_num_workers must be a non-negative integer, got {self.dataloader_num_workers!r}",
        )
        self._flags(need, ("packing", "resume", "overwrite", "progress", "verify_packing"))


@dataclass
class GRPOSettings(CheckedSettings):
    """How ``train_grpo`` trains (every field documented, all checked on construction)."""

    output_dir: str | os.PathLike[str]
    """Checkpoints (``checkpoint-<step>``), ``metrics.jsonl``, then the final model and tokenizer."""
    max_steps: int = 100
    """Optimizer steps (each one generation round of ``per_device_batch_size`` completions per device)."""
    learning_rate: float = 1e-5
    """Peak learning rate. RL moves a trained policy: far below SFT's rate (TRL's default is 1e-6 for
    billion-parameter models; models of a few million parameters take more)."""
    lr_scheduler: str = "constant"
    """One of ``SCHEDULERS``; RL runs are usually stopped by judgement, so constant is the default."""
    warmup_steps: int = 0
    """Linear warm-up steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm (0 disables clipping)."""
    per_device_batch_size: int = 16
    """Completions (not prompts) per device per forward pass, as in TRL; see the module docstring."""
    gradient_accumulation_steps: int = 1
    """Forward passes per optimizer step (TRL generates for all of them at once)."""
    num_generations: int = 8
    """Group size G: completions sampled per prompt; advantages are rewards minus their group's mean."""
    max_completion_length: int | None = None
    """Tokens generated per completion at most. ``None`` picks one from the dataset's completions
    (``suggest_max_completion_length``): long for trace models, short for direct ones."""
    temperature: float = 1.0
    """Sampling temperature (full vocabulary: no top-k or top-p)."""
    beta: float = 0.0
    """KL coefficient against the starting policy. 0 (TRL's default) loads no reference model and logs
    no ``kl``: TRL 1.x computes KL only when it is in the loss."""
    epsilon: float = 0.2
    """Clipping range of the probability ratio (lower side, and upper side unless ``epsilon_high``)."""
    epsilon_high: float | None = None
    """Upper clipping range (DAPO's clip-higher uses 0.28); ``None`` means ``epsilon``."""
    loss_type: str = "dapo"
    """One of ``LOSS_TYPES`` (TRL's): ``dapo`` (TRL's default) normalises by the tokens of the whole
    batch, ``grpo`` per sequence (length-biased), ``dr_grpo`` by a constant."""
    scale_rewards: str = "group"
    """Advantages divided by the group's reward std (``group``), the batch's (``batch``), or not at all
    (``none``, Dr. GRPO)."""
    mask_truncated_completions: bool = False
    """Leave completions cut at ``max_completion_length`` out of the loss (DAPO's overlong filtering)."""
    num_iterations: int = 1
    """Optimisation passes per generated batch (GRPO's mu); above 1 the ratio clipping matters."""
    reward: str = "binary"
    """``binary`` (verifier: 1 correct, 0 otherwise), ``format`` (1 / 0.1 well formed but wrong / 0),
    or ``module:function`` (your reward callable); ignored when ``train_grpo`` gets ``reward_funcs``."""
    train_problems: int | None = None
    """Draw prompts from only the first this many rows of the ``train`` split; ``None`` uses them all.
    A small pool is revisited every few steps, so a small policy's reward can rise within a short run
    (the CPU recipe); the held-out ``eval/solved`` then tells whether the gain carries over."""
    eval_every: int | None = 50
    """Every this many steps (and at the first and the last), greedy-decode the held-out sample and log
    ``eval/solved``; ``None`` turns the evaluation off."""
    eval_problems: int = 64
    """Size of the held-out sample: the first rows of the dataset's ``test`` split (the same every time)."""
    eval_max_new_tokens: int | None = None
    """Token budget of the held-out evaluation; ``None`` means ``max_completion_length``."""
    logging_steps: int = 1
    """Log every this many steps (metrics are averaged over the steps in between)."""
    save_steps: int | None = 50
    """Checkpoint every this many steps; ``None`` saves only the final model (no resume possible)."""
    save_total_limit: int | None = 2
    """Checkpoints kept (oldest removed first); ``None`` keeps all."""
    seed: int = 0
    """Seeds prompt order and sampling."""
    bf16: bool | None = None
    """bf16 mixed precision; ``None`` turns it on on a CUDA device with bf16 (not on CPUs, where
    generation dominates and autocast slows it down)."""
    use_vllm: bool | None = None
    """Generate with vLLM (colocated on the training GPU); ``None`` uses it when vLLM is installed and a
    GPU is present."""
    vllm_gpu_memory_utilization: float = 0.3
    """Share of GPU memory vLLM may take when colocated (the rest is training's)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (TRL's default is on; small models do not need it)."""
    resume: bool = False
    """Continue from the last checkpoint in ``output_dir`` (a fresh start when there is none)."""
    overwrite: bool = False
    """Without ``resume``, delete an earlier run in ``output_dir`` instead of refusing."""
    progress: bool = True
    """Show a progress bar with the reward and the held-out solved share."""
    lora_r: int | None = None
    """Train rank-``lora_r`` LoRA adapters (TRL's ``peft_config``); saved merged (see ``SFTSettings``)."""
    device: str | None = None
    """``cpu`` or ``cuda``; ``None`` follows ``backtrack.device``'s rule (see ``SFTSettings.device``)."""

    def _check(self, need: Callable[[bool, str], None]) -> None:
        positive = (
            "max_steps",
            "per_device_batch_size",
            "gradient_accumulation_steps",
            "num_iterations",
            "eval_problems",
            "logging_steps",
        )
        self._positive_ints(need, positive, optional=False)
        need(
            _is_int(self.num_generations) and self.num_generations >= 2,
            f"num_generations must be an integer >= 2 (a group needs two completions to compare), "
            f"got {self.num_generations!r}",
        )
        optional = (
            "max_completion_length",
            "train_problems",
            "eval_every",
            "eval_max_new_tokens",
            "save_steps",
            "save_total_limit",
            "lora_r",
        )
        self._positive_ints(need, optional, optional=True)
        need(
            _is_int(self.warmup_steps) and self.warmup_steps >= 0,
            f"warmup_steps must be a non-negative integer, got {self.warmup_steps!r}",
        )
        for name in ("weight_decay", "max_grad_norm", "beta"):
            value = getattr(self, name)
            need(_is_number(value) and value >= 0, f"{name} must be a non-negative number, got {value!r}")
        need(
            _is_number(self.temperature) and self.temperature > 0,
            f"temperature must be positive (GRPO samples), got {self.temperature!r}",
        )
        need(_is_number(self.epsilon) and self.epsilon > 0, f"epsilon must be positive, got {self.epsilon!r}")
        need(
            self.epsilon_high is None or (_is_number(self.epsilon_high) and self.epsilon_high > 0),
            f"epsilon_high must be positive or None, got {self.epsilon_high!r}",
        )
        need(self.loss_type in LOSS_TYPES, f"loss_type must be one of {LOSS_TYPES}, got {self.loss_type!r}")
        need(
            self.scale_rewards in SCALE_REWARDS,
            f"scale_rewards must be one of {SCALE_REWARDS}, got {self.scale_rewards!r}",
        )
        need(
            isinstance(self.reward, str)
            and (self.reward in REWARD_SCHEMES or _looks_like_import_path(self.reward)),
            f"reward must be one of {REWARD_SCHEMES} or 'module:function', got {self.reward!r}",
        )
        self._optional_flags(need, ("bf16", "use_vllm"))
        need(
            _is_number(self.vllm_gpu_memory_utilization) and 0 < self.vllm_gpu_memory_utilization < 1,
            f"vllm_gpu_memory_utilization must be in (0, 1), got {self.vllm_gpu_memory_utilization!r}",
        )
        self._flags(
            need, ("mask_truncated_completions", "gradient_checkpointing", "resume", "overwrite", "progress")
        )


def _looks_like_import_path(text: str) -> bool:
    module, colon, attribute = text.partition(":")
    return bool(colon and module.strip() and attribute.strip())


# ---- resolved at run time ----------------------------------------------------------------------
def training_device(requested: str | None) -> torch.device:
    """The device a trainer runs on: ``backtrack.device.resolve_device``'s rule, except that a process
    started by ``accelerate launch --cpu`` (``ACCELERATE_USE_CPU``) trains on the CPU unless told
    otherwise, as the Trainer itself would."""
    import torch

    from backtrack.device import resolve_device

    if requested in (None, "auto") and os.environ.get("ACCELERATE_USE_CPU", "").lower() in (
        "1",
        "true",
        "yes",
    ):
        return torch.device("cpu")
    return resolve_device(requested)


def bf16_supported(device: torch.device | str | None = None) -> bool:
    """Whether bf16 autocast is fast on ``device`` (default: the device rule's): a CUDA device with bf16,
    or a CPU with AMX tiles, where oneDNN runs bf16 matmuls on the matrix unit (1.5x the fp32 training
    rate of the 1M model at context 1088 on this project's CPU machine; see docs/benchmarks.md)."""
    import torch

    from backtrack.device import resolve_device

    if resolve_device(device).type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    cpu = getattr(torch, "cpu", None)
    amx = getattr(cpu, "_is_amx_tile_supported", None)  # a private probe: absent means "don't know"
    return bool(amx and amx())


def resolve_bf16(requested: bool | None, device: torch.device) -> bool:
    """``None``: bf16 on a CUDA device that has it, never on a CPU by itself. bf16 on an AMX CPU trains
    ~1.5x faster, but an AMX machine and one without (AMD, older Intel) would then train different
    models from the same recipe, so a CPU gets bf16 only when a recipe or flag asks for it."""
    import torch

    if requested is None:
        return bool(device.type == "cuda" and torch.cuda.is_bf16_supported())
    if requested and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("bf16=True but this CUDA device has no bf16; use bf16=None to pick automatically")
    return requested


def resolve_grpo_bf16(requested: bool | None, device: torch.device) -> bool:
    """As ``resolve_bf16``. Even asked for on a CPU, bf16 rarely pays in GRPO: its time goes to
    token-by-token generation of small batches, where autocast costs more than it saves (2.0-2.3 s
    against 1.7-1.9 s per step for the 1M model on an AMX CPU, 32 completions of up to 128 tokens)."""
    return resolve_bf16(requested, device)


def resolve_vllm(requested: bool | None, device: torch.device) -> bool:
    installed = importlib.util.find_spec("vllm") is not None
    if requested is None:
        return installed and device.type == "cuda"
    if requested and not installed:
        raise ValueError(
            "use_vllm=True but vLLM is not installed (pip install vllm); use None to pick automatically"
        )
    if requested and device.type != "cuda":
        raise ValueError("use_vllm=True needs a CUDA GPU; use None to pick automatically")
    return requested


def check_batch(settings: GRPOSettings, world_size: int) -> None:
    per_step = settings.per_device_batch_size * world_size * settings.gradient_accumulation_steps
    if per_step % settings.num_generations:
        raise ValueError(
            "per_device_batch_size * processes * gradient_accumulation_steps = "
            f"{settings.per_device_batch_size} * {world_size} * {settings.gradient_accumulation_steps} = "
            f"{per_step} completions per step is not a multiple of num_generations "
            f"({settings.num_generations}); each step must hold whole prompt groups"
        )


# ---- Hugging Face arguments --------------------------------------------------------------------
def sft_training_arguments(settings: SFTSettings, out: Path, bf16: bool, device: torch.device) -> Any:
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
        # Says where to train; it also makes processes started by torchrun (or `accelerate launch
        # --multi_gpu`) on a machine without CUDA one gloo DDP run: without it accelerate sets up the
        # process group but leaves the state non-distributed, so each process trains alone.
        use_cpu=device.type == "cpu",
        **_logging_and_saving(settings),
        remove_unused_columns=False,  # rows are built by PackedDataset, not from dataset columns
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=settings.dataloader_num_workers,
        dataloader_pin_memory=device.type == "cuda",
        ddp_find_unused_parameters=False,  # a causal LM uses every parameter; the search costs a graph walk
    )


def grpo_config(
    settings: GRPOSettings,
    out: Path,
    *,
    bf16: bool,
    use_vllm: bool,
    completion_length: int,
    eos_token_id: int,
    device: torch.device,
) -> Any:
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(out),
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.per_device_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=float(settings.learning_rate),
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_steps,
        weight_decay=float(settings.weight_decay),
        max_grad_norm=float(settings.max_grad_norm),
        num_generations=settings.num_generations,
        max_completion_length=completion_length,
        temperature=float(settings.temperature),
        top_p=1.0,
        top_k=0,  # the full vocabulary, as the evaluation samples (backtrack.sample)
        beta=float(settings.beta),
        epsilon=float(settings.epsilon),
        epsilon_high=None if settings.epsilon_high is None else float(settings.epsilon_high),
        loss_type=settings.loss_type,
        scale_rewards=settings.scale_rewards,
        mask_truncated_completions=settings.mask_truncated_completions,
        num_iterations=settings.num_iterations,
        remove_unused_columns=False,  # the reward needs the problem's columns (numbers, target, ...)
        bf16=bf16,
        use_cpu=device.type == "cpu",  # see sft_training_arguments
        use_vllm=use_vllm,
        vllm_mode="colocate",
        vllm_gpu_memory_utilization=float(settings.vllm_gpu_memory_utilization),
        # vLLM reads its own tokenizer from the checkpoint (AutoTokenizer, which misreads ours; see
        # backtrack.models._load_tokenizer): name the stop token explicitly rather than trust its EOS.
        generation_kwargs={"stop_token_ids": [eos_token_id]} if use_vllm else None,
        **_logging_and_saving(settings),
        dataloader_pin_memory=device.type == "cuda",
        ddp_find_unused_parameters=False,  # a causal LM uses every parameter
        log_completions=False,
        **_checkpointing_argument(GRPOConfig, settings.gradient_checkpointing),
    )


def _checkpointing_argument(config_class: Any, enabled: bool) -> dict[str, bool]:
    """transformers 5.x renamed ``gradient_checkpointing`` to ``activation_checkpointing`` (the old name
    warns); TRL's configs default the old one to True, so the setting is passed under the current name."""
    fields = getattr(config_class, "__dataclass_fields__", {})
    name = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    return {name: enabled}


def _logging_and_saving(settings: Any) -> dict[str, Any]:
    """Trainer arguments SFT and GRPO share: log every ``logging_steps``, checkpoint every
    ``save_steps`` (none when 0), seeded, no external reporting, and no Trainer progress bar (our own
    callback draws one)."""
    return {
        "logging_strategy": "steps",
        "logging_steps": settings.logging_steps,
        "logging_first_step": True,
        "save_strategy": "steps" if settings.save_steps else "no",
        "save_steps": settings.save_steps or 500,
        "save_total_limit": settings.save_total_limit,
        "seed": settings.seed,
        "report_to": "none",
        "disable_tqdm": True,
    }
