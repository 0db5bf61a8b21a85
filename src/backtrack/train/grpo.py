"""GRPO with verifiable rewards: TRL's ``GRPOTrainer`` on a task's verifier, resumable and measured.

``train_grpo(model, tokenizer, "data/cd3", get_task("countdown", n_numbers=3),
GRPOSettings(output_dir="ckpt/cd3-grpo", max_steps=200))`` samples ``num_generations`` completions per
prompt, scores them with the task verifier (1 correct / 0 wrong by default), and pushes the policy
towards the completions that beat their group's mean. It runs on a CPU with the tiny models of the
tests, on one GPU with vLLM generating when vLLM is installed, and under ``accelerate launch`` (every
process runs the same call; TRL shares prompt groups across processes).

Why it is built this way (TRL 1.x behaviour that shaped it):

- **Plain-text prompts, no chat template.** A dataset's ``prompt`` is the start of the text the model
  was trained to continue (``Current State: 38:[8, 6, 5], Operations: []\\n``). TRL applies a chat
  template only to conversational prompts (lists of messages); for strings it calls the tokenizer
  directly, which adds BOS exactly as SFT encoded prompts. ``train_grpo`` refuses non-string prompts.
- **The tokenizer is passed explicitly** (``processing_class``): ``AutoTokenizer`` misreads our
  checkpoints (see ``backtrack.models._load_tokenizer``). Generation stops at the tokenizer's EOS (TRL
  adds it to the model's own EOS ids) and the pad token must exist (it is set to EOS when missing).
- **Dataset columns reach the reward.** TRL 1.x keeps every column by default
  (``remove_unused_columns=False``) and passes all but ``prompt``/``completion`` to each reward
  function as keyword lists; the verifier rebuilds the problem from them. The ``completion`` column
  (the SFT target: up to thousands of tokens per row) is dropped before TRL sees it: TRL never gives
  it to a reward, so it would only be carried through every batch.
- **KL is only measured when it is paid for.** TRL 1.x builds a reference model and computes the KL
  term (the ``kl`` metric) only when ``beta > 0``. The default here is ``beta=0`` (TRL's default, as in
  DAPO and Dr. GRPO): no reference forward pass per step. Set a small ``beta`` (e.g. 1e-3) to watch KL
  drift. TRL loads the reference from ``model.name_or_path``, which for a model built or changed in
  memory is not the starting policy; so with ``beta > 0`` (or vLLM, which loads weights the same way)
  the starting policy is first saved to ``output_dir/initial`` and used as that path. A resumed run
  reuses the snapshot, so its reference is still the policy the run started from.
- **Batches are counted in completions**, as in TRL: one optimizer step sees ``per_device_batch_size
  * world_size * gradient_accumulation_steps`` completions, i.e. that many / ``num_generations``
  prompts. The product must be a multiple of ``num_generations`` (whole groups only).
- **Everything a run needs to be judged is logged every step** (``logging_steps=1``; a GRPO step is a
  generation round, so a log line is cheap beside it) to ``metrics.jsonl``: TRL's ``reward``,
  ``reward_std``, ``rewards/<name>/mean|std``, ``entropy``, ``kl`` (``beta > 0``),
  ``completions/mean_length``, ``completions/clipped_ratio`` (completions cut at
  ``max_completion_length``), ``clip_ratio/*``, plus ``equal_reward_groups`` (the share of prompt
  groups whose rewards are all equal, which carry no gradient: TRL's ``frac_reward_zero_std``),
  ``rewards/<name>/failures`` (see ``backtrack.train.rewards.safe_reward``), and every ``eval_every``
  steps ``eval/solved``: the share of a fixed held-out sample (the ``test`` split's first
  ``eval_problems`` rows) solved by greedy decoding.
- **Resume loses no step.** Checkpoints are ordinary Trainer checkpoints (weights, optimizer,
  scheduler, RNG, step, log history); ``resume=True`` continues from the last one with the same data
  order. ``metrics.jsonl`` is cut back to the checkpoint's step on resume, so steps logged after the
  last checkpoint by a killed run are not counted twice.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtrack.train.rewards import REWARD_SCHEMES, SafeReward, expected_kinds, resolve_reward, safe_reward
from backtrack.train.sft import (
    CheckedSettings,
    _is_int,
    _is_main_process,
    _is_number,
    _last_checkpoint,
    _progress_bars,
    _resolve_bf16,
    _save_final,
    _set_special_ids,
    _write_json,
)

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback

__all__ = [
    "LOSS_TYPES",
    "SCALE_REWARDS",
    "GRPOResult",
    "GRPOSettings",
    "suggest_max_completion_length",
    "train_grpo",
]

logger = logging.getLogger(__name__)

LOSS_TYPES = ("dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo")
SCALE_REWARDS = ("group", "batch", "none")
SETTINGS_FILE = "grpo_settings.json"
RESULT_FILE = "grpo_result.json"
METRICS_FILE = "metrics.jsonl"
INITIAL_DIR = "initial"  # the starting policy, when TRL must load it from disk (beta > 0 or vLLM)
# Settings that decide which completions are sampled for which prompts: a resume with other values
# would not continue the same run, so they are checked against the saved ones.
RESUME_KEYS = (
    "per_device_batch_size",
    "gradient_accumulation_steps",
    "num_generations",
    "num_iterations",
    "seed",
)
COMPLETION_LENGTH_MULTIPLE = 16  # suggested lengths are rounded up to this
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


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
        for name in ("bf16", "use_vllm"):
            value = getattr(self, name)
            need(
                value is None or isinstance(value, bool), f"{name} must be True, False or None, got {value!r}"
            )
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


@dataclass
class GRPOResult:
    """What a ``train_grpo`` call did. Series are ``(step, value)`` as logged and include the steps of
    earlier runs that a resume continued; ``metrics`` holds every log entry (also in ``metrics.jsonl``)."""

    output_dir: Path
    steps: int  # global optimizer step at the end
    steps_this_run: int
    resumed_from: str | None  # the checkpoint this call continued, if any
    rewards: list[tuple[int, float]]  # mean reward of the step's completions (all reward functions summed)
    eval_solved: list[tuple[int, float]]  # held-out share solved by greedy decoding (step 0: before training)
    final_reward: float | None  # the last logged mean reward
    final_eval_solved: float | None  # the last held-out solved share
    reward_failures: dict[str, int]  # completions whose reward failed (scored 0.0) in this call, per function
    max_completion_length: int
    wall_seconds: float  # training only (this call; the final save excluded)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Everything but ``metrics`` (which ``metrics.jsonl`` holds line by line)."""
        data = asdict(self)
        data["output_dir"] = str(self.output_dir)
        del data["metrics"]
        return data

    def summary(self) -> str:
        reward = "n/a" if self.final_reward is None else f"{self.final_reward:.3f}"
        solved = "n/a" if self.final_eval_solved is None else f"{self.final_eval_solved:.1%}"
        first = f"{self.rewards[0][1]:.3f} at step {self.rewards[0][0]}" if self.rewards else "n/a"
        return (
            f"{self.output_dir}: step {self.steps} ({self.steps_this_run} this run) in "
            f"{self.wall_seconds:.1f}s, reward {reward} (first {first}), held-out solved {solved}"
        )


# ---- completion length ------------------------------------------------------------------------
def suggest_max_completion_length(
    dataset: Any,
    tokenizer: PreTrainedTokenizerBase,
    *,
    model: PreTrainedModel | None = None,
    margin: float = 1.25,
    sample: int = 1000,
) -> int:
    """A ``max_completion_length`` for a dataset: its longest reference completion (in tokens, with
    EOS) times ``margin``, rounded up to a multiple of 16, and at most what the model's context leaves
    after the longest prompt. Reference completions show how long the model was trained to write: a
    DFS-trace model needs thousands of tokens, a direct one a few dozen. ``sample`` evenly spaced rows
    are measured (all when fewer), so the cost does not grow with the dataset.
    """
    train, _ = _splits(dataset)
    if "completion" not in train.column_names:
        raise ValueError("the dataset has no 'completion' column to measure; set max_completion_length")
    rows = train.select(_spread(len(train), sample)).with_format(None)
    completions = tokenizer(list(rows["completion"]), add_special_tokens=False)["input_ids"]
    longest = max(len(ids) for ids in completions) + 1  # + EOS, which the model must also write
    length = -(-int(longest * margin) // COMPLETION_LENGTH_MULTIPLE) * COMPLETION_LENGTH_MULTIPLE
    context = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if context:
        prompts = tokenizer(list(rows["prompt"]))["input_ids"]
        room = int(context) - max(len(ids) for ids in prompts)
        if room < 1:
            raise ValueError(
                f"prompts of up to {context - room} tokens leave no room in a {context}-token context"
            )
        length = min(length, room)
    return max(1, length)


def _spread(n: int, k: int) -> list[int]:
    """Up to ``k`` evenly spaced indices of ``range(n)``."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


# ---- data -------------------------------------------------------------------------------------
def _splits(dataset: Any) -> tuple[datasets.Dataset, datasets.Dataset | None]:
    """``(train, test)`` from a ``Dataset`` (no test), a ``DatasetDict`` or the path of a saved one."""
    import datasets

    if isinstance(dataset, str | os.PathLike):
        path = Path(dataset).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"no dataset at {str(path)!r}")
        dataset = datasets.load_from_disk(str(path))
    if isinstance(dataset, datasets.DatasetDict):
        if "train" not in dataset:
            raise ValueError(f"the dataset has no 'train' split (splits: {', '.join(dataset)})")
        return dataset["train"], dataset.get("test")
    if isinstance(dataset, datasets.Dataset):
        return dataset, None
    raise TypeError(f"expected a datasets.Dataset, DatasetDict or a path, got {type(dataset).__name__}")


def _check_rows(train: datasets.Dataset, task: Any) -> None:
    """Fail before training on data the trainer or the verifier cannot use."""
    import datasets

    if len(train) == 0:
        raise ValueError("the training split is empty")
    if "prompt" not in train.column_names:
        raise ValueError(f"the dataset has no 'prompt' column (has {train.column_names})")
    feature = train.features["prompt"]
    if not (isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")):
        raise ValueError(
            "prompts must be plain text (the model continues them; no chat template is applied), "
            f"got a {feature} column"
        )
    first = train.select([0]).with_format(None)[0]
    try:
        task.problem_from_dict(first)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"the verifier cannot rebuild a {getattr(task, 'name', 'task')} problem from the dataset's "
            f"columns {train.column_names} ({type(exc).__name__}: {exc}); build the data with "
            "backtrack.data.build_dataset"
        ) from None


def _held_out_rows(test: datasets.Dataset | None, settings: GRPOSettings) -> list[dict[str, Any]]:
    if settings.eval_every is None:
        return []
    if test is None or len(test) == 0:
        logger.warning("the dataset has no (non-empty) 'test' split; eval/solved will not be logged")
        return []
    keep = [c for c in test.column_names if c != "completion"]
    rows = test.select(range(min(settings.eval_problems, len(test)))).select_columns(keep).with_format(None)
    return [rows[i] for i in range(len(rows))]


# ---- rewards ----------------------------------------------------------------------------------
def _reward_functions(
    task: Any, settings: GRPOSettings, reward_funcs: Any, train: datasets.Dataset
) -> list[SafeReward]:
    if reward_funcs is None:
        kinds = None
        if settings.reward == "format" and "completion" in train.column_names:
            # "Well formed" means in the form the model was trained to write (a trace for a DFS model).
            references = train.select(_spread(len(train), 200)).with_format(None)["completion"]
            kinds = expected_kinds(task, references)
        funcs = [resolve_reward(settings.reward, task, kinds=kinds)]
    elif callable(reward_funcs):
        funcs = [reward_funcs]
    else:
        funcs = list(reward_funcs)
        if not funcs:
            raise ValueError("reward_funcs is empty; pass None to use the task verifier")
    wrapped = [safe_reward(fn) for fn in funcs]
    names = [fn.__name__ for fn in wrapped]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(
            f"reward functions need distinct names (their metrics are keyed by name): {duplicates}"
        )
    return wrapped


# ---- output directory -------------------------------------------------------------------------
def _has_weights(directory: Path) -> bool:
    return any((directory / name).is_file() for name in _WEIGHT_FILES)


def _prepare_output_dir(out: Path, settings: GRPOSettings, completion_length: int) -> Path | None:
    """The checkpoint to resume from, or None for a fresh start. Reads only (every process runs it):
    refuses to mix a new run into an earlier one, or to overwrite a finished run or another model,
    unless ``overwrite``; ``_clear_earlier_run`` then removes what a fresh start must not inherit."""
    last = _last_checkpoint(out)
    if settings.resume and last is not None:
        _check_resume_settings(out, settings, completion_length)
        return last
    earlier = [p.name for p in (last, out / RESULT_FILE) if p is not None and p.exists()]
    if out.is_dir() and _has_weights(out):
        earlier.append("a saved model")
    if not settings.resume and (out / METRICS_FILE).exists():
        earlier.append(METRICS_FILE)  # with resume and no checkpoint: a run killed before its first save
    if earlier and not settings.overwrite:
        hint = (
            "it has no checkpoint to resume; pass overwrite=True (--overwrite) to start again"
            if settings.resume
            else "pass resume=True (--resume) to continue it or overwrite=True (--overwrite) to start again"
        )
        raise ValueError(f"{out} holds an earlier run or model ({', '.join(earlier)}); {hint}")
    return None


def _check_resume_settings(out: Path, settings: GRPOSettings, completion_length: int) -> None:
    saved = out / SETTINGS_FILE
    if not saved.is_file():
        return
    before = json.loads(saved.read_text())
    now = {**settings.to_dict(), "max_completion_length": completion_length}
    changed = [k for k in (*RESUME_KEYS, "max_completion_length") if k in before and before[k] != now[k]]
    if changed:
        details = ", ".join(f"{k}: {before[k]!r} -> {now[k]!r}" for k in changed)
        raise ValueError(
            f"cannot resume {out}: settings that decide the samples changed ({details}); "
            "resume with the original values or start a new output_dir"
        )


def _clear_earlier_run(out: Path) -> None:
    """What a fresh start must not inherit: checkpoints (resume would pick them up), the starting-policy
    snapshot, the metrics and the result of an earlier run. Main process only."""
    for checkpoint in out.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)
    shutil.rmtree(out / INITIAL_DIR, ignore_errors=True)
    for name in (RESULT_FILE, METRICS_FILE):
        (out / name).unlink(missing_ok=True)


def _initial_snapshot(model: Any, tokenizer: Any, out: Path, args: Any) -> Path:
    """The starting policy saved in ``out/initial`` (kept on resume: it is what the run started from)."""
    path = out / INITIAL_DIR
    with args.main_process_first(local=False, desc="saving the starting policy"):
        if _is_main_process() and not _has_weights(path):
            tmp = out / ".initial-tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            shutil.rmtree(path, ignore_errors=True)
            os.replace(tmp, path)
    return path


@contextlib.contextmanager
def _loadable_start(model: Any, tokenizer: Any, out: Path, args: Any, needed: bool) -> Iterator[None]:
    """While training: with ``needed``, ``model.name_or_path`` names the saved starting policy.

    TRL builds the reference model (and vLLM its weights) from ``model.name_or_path``, which for a model
    built or changed in memory is not the policy this run starts from. The model's own path and its
    ``use_cache`` (which training turns off) are put back afterwards.
    """
    name_or_path = model.config._name_or_path
    use_cache = getattr(model.config, "use_cache", None)
    try:
        if needed:
            model.config._name_or_path = str(_initial_snapshot(model, tokenizer, out, args))
        yield
    finally:
        model.config._name_or_path = name_or_path
        if use_cache is not None:
            model.config.use_cache = use_cache


# ---- monitoring: held-out evaluation, metrics.jsonl, progress -----------------------------------
class _HeldOut:
    """Greedy decoding of a fixed held-out sample; the share the verifier accepts."""

    def __init__(
        self, task: Any, rows: list[dict[str, Any]], max_new_tokens: int, batch_size: int = 64
    ) -> None:
        self.task = task
        self.rows = rows
        self.problems = [task.problem_from_dict(row) for row in rows]
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size

    def solved(self, model: Any, tokenizer: Any, accelerator: Any) -> tuple[int, int]:
        """(solved, total) over every process: each decodes its share of the rows."""
        import torch

        from backtrack.sample import HFBackend

        rank, world = accelerator.process_index, accelerator.num_processes
        mine = list(range(rank, len(self.rows), world))
        solved = 0
        if mine:
            was_training = model.training
            try:  # HFBackend puts the model in eval mode and keeps the caller's RNG untouched
                backend = HFBackend(model, tokenizer, batch_size=self.batch_size)
                prompts = [self.rows[i]["prompt"] for i in mine]
                outputs = backend.generate(prompts, n=1, max_new_tokens=self.max_new_tokens, temperature=0.0)
            finally:
                model.train(was_training)
            solved = sum(
                self.task.verify(self.problems[i], samples[0].text).ok
                for i, samples in zip(mine, outputs, strict=True)
            )
        counts = torch.tensor([solved, len(mine)], device=accelerator.device)
        total = accelerator.reduce(counts, reduction="sum").tolist()
        return int(total[0]), int(total[1])


def _monitor(
    out: Path,
    held_out: _HeldOut | None,
    settings: GRPOSettings,
    trainer_ref: dict[str, Any],
) -> TrainerCallback:
    """The callback that evaluates on the held-out sample, names metrics clearly, writes
    ``metrics.jsonl`` and shows progress. ``trainer_ref["trainer"]`` is set once the trainer exists
    (the evaluation needs its accelerator)."""
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    eval_every = settings.eval_every
    alias_groups = settings.scale_rewards != "batch"  # under "batch", TRL's zero-std flag is batch-wide

    class GRPOMonitor(TrainerCallback):
        def __init__(self) -> None:
            self.pending: dict[str, float] = {}
            self.start_step = 0
            self.start_time = self.end_time = time.perf_counter()
            self.bar: Any = None
            self.last: dict[str, float] = {}

        @property
        def seconds(self) -> float:
            return max(self.end_time - self.start_time, 1e-9)

        def _evaluate(self, model: Any, tokenizer: Any) -> dict[str, float]:
            trainer = trainer_ref["trainer"]
            solved, total = held_out.solved(model, tokenizer, trainer.accelerator)  # type: ignore[union-attr]
            return {"eval/solved": solved / total, "eval/problems": float(total)}

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.start_step = state.global_step
            if state.is_world_process_zero:
                self._rewrite_metrics(state.global_step)
                if settings.progress:
                    self.bar = tqdm(
                        total=state.max_steps, initial=state.global_step, desc="grpo", unit="step"
                    )
            if held_out is not None and state.global_step == 0:
                # The starting point, so that a rise (or fall) of the solved share can be read off.
                entry = {**self._evaluate(kwargs["model"], kwargs["processing_class"]), "step": 0}
                state.log_history.append(entry)
                if state.is_world_process_zero:
                    self._append(entry)
            self.start_time = self.end_time = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.end_time = time.perf_counter()
            step = state.global_step
            if held_out is not None and eval_every and (step % eval_every == 0 or step == state.max_steps):
                self.pending.update(self._evaluate(kwargs["model"], kwargs["processing_class"]))
                control.should_log = True  # the same decision on every process: it is a function of the step
            if self.bar is not None:
                self.bar.update(step - self.bar.n)

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
        ) -> None:
            # ``state.log_history[-1]`` is the entry the Trainer just recorded (and will checkpoint):
            # additions made here are kept in the history, in metrics.jsonl and in resumed runs.
            entry = state.log_history[-1] if state.log_history else None
            if entry is None or "train_runtime" in entry:
                return
            entry.update(self.pending)
            self.pending.clear()
            if alias_groups and "frac_reward_zero_std" in entry:
                entry["equal_reward_groups"] = entry["frac_reward_zero_std"]
            if state.is_world_process_zero:
                self._append(entry)
                self._show(entry)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

        def _show(self, entry: dict[str, Any]) -> None:
            for key, label in (("reward", "reward"), ("eval/solved", "solved"), ("kl", "kl")):
                if isinstance(entry.get(key), int | float):
                    self.last[label] = float(entry[key])
            if self.bar is not None and self.last:
                self.bar.set_postfix({k: f"{v:.3f}" for k, v in self.last.items()}, refresh=False)

        def _rewrite_metrics(self, step: int) -> None:
            """Keep the lines up to ``step`` (the checkpoint resumed from; none on a fresh start), so a
            killed run's steps after its last checkpoint are not counted twice."""
            path = out / METRICS_FILE
            kept: list[str] = []
            if step > 0 and path.is_file():
                for line in path.read_text().splitlines():
                    try:
                        if int(json.loads(line).get("step", -1)) <= step:
                            kept.append(line)
                    except (ValueError, AttributeError):
                        continue  # a line cut short by the kill
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text("".join(line + "\n" for line in kept))
            os.replace(tmp, path)

        def _append(self, entry: dict[str, Any]) -> None:
            with (out / METRICS_FILE).open("a") as fh:
                fh.write(json.dumps(entry, default=float) + "\n")

    return GRPOMonitor()


# ---- configuration ----------------------------------------------------------------------------
def _resolve_grpo_bf16(requested: bool | None) -> bool:
    """``None``: bf16 on a CUDA device that has it, never on a CPU. Unlike SFT (where an AMX CPU gains
    from bf16), GRPO's time goes to token-by-token generation of small batches, where autocast costs
    more than it saves: 2.0-2.3 s against 1.7-1.9 s per step for the 1M model on this project's AMX
    CPU (32 completions of up to 128 tokens, one thread)."""
    import torch

    if requested is None:
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return _resolve_bf16(requested)


def _resolve_vllm(requested: bool | None) -> bool:
    import torch

    installed = importlib.util.find_spec("vllm") is not None
    if requested is None:
        return installed and torch.cuda.is_available()
    if requested and not installed:
        raise ValueError(
            "use_vllm=True but vLLM is not installed (pip install vllm); use None to pick automatically"
        )
    if requested and not torch.cuda.is_available():
        raise ValueError("use_vllm=True needs a CUDA GPU; use None to pick automatically")
    return requested


def _check_batch(settings: GRPOSettings, world_size: int) -> None:
    per_step = settings.per_device_batch_size * world_size * settings.gradient_accumulation_steps
    if per_step % settings.num_generations:
        raise ValueError(
            "per_device_batch_size * processes * gradient_accumulation_steps = "
            f"{settings.per_device_batch_size} * {world_size} * {settings.gradient_accumulation_steps} = "
            f"{per_step} completions per step is not a multiple of num_generations "
            f"({settings.num_generations}); each step must hold whole prompt groups"
        )


def _grpo_config(
    settings: GRPOSettings,
    out: Path,
    *,
    bf16: bool,
    use_vllm: bool,
    completion_length: int,
    eos_token_id: int,
) -> Any:
    import torch
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
        use_cpu=bf16 and not torch.cuda.is_available(),  # the Trainer refuses CPU bf16 unless told
        use_vllm=use_vllm,
        vllm_mode="colocate",
        vllm_gpu_memory_utilization=float(settings.vllm_gpu_memory_utilization),
        # vLLM reads its own tokenizer from the checkpoint (AutoTokenizer, which misreads ours; see
        # backtrack.models._load_tokenizer): name the stop token explicitly rather than trust its EOS.
        generation_kwargs={"stop_token_ids": [eos_token_id]} if use_vllm else None,
        logging_strategy="steps",
        logging_steps=settings.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if settings.save_steps else "no",
        save_steps=settings.save_steps or 500,
        save_total_limit=settings.save_total_limit,
        seed=settings.seed,
        report_to="none",
        disable_tqdm=True,  # the monitor draws the bar
        dataloader_pin_memory=torch.cuda.is_available(),
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


# ---- training ---------------------------------------------------------------------------------
def train_grpo(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Any,
    task: Any,
    settings: GRPOSettings,
    *,
    reward_funcs: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> GRPOResult:
    """Train ``model`` with GRPO on the prompts of ``dataset``'s ``train`` split and save model and
    tokenizer to ``settings.output_dir``.

    ``dataset`` is a ``datasets.Dataset``/``DatasetDict`` (or the path of one saved by
    ``backtrack.data.build_dataset``) with a text ``prompt`` column and the problem's columns; its
    ``test`` split, when present, is the held-out sample of ``eval/solved``. ``task`` is a task object
    (``backtrack.tasks.get_task``) or its name. ``reward_funcs`` replaces ``settings.reward`` by your own
    reward callables (TRL's shape; each wrapped by ``safe_reward``; their rewards are summed). ``callbacks``
    are extra ``TrainerCallback`` objects. ``model`` is trained in place. Under ``accelerate launch`` every
    process runs this same call.
    """
    if not isinstance(settings, GRPOSettings):
        raise TypeError(f"settings must be GRPOSettings, got {type(settings).__name__}")
    if isinstance(task, str):
        from backtrack.tasks import get_task

        task = get_task(task)
    if getattr(tokenizer, "eos_token_id", None) is None:
        raise ValueError(
            "the tokenizer has no EOS token; generation could never stop (set tokenizer.eos_token)"
        )
    if tokenizer.pad_token_id is None:
        # What TRL would do, done here so that the saved tokenizer and the model's configs agree.
        tokenizer.pad_token = tokenizer.eos_token

    out = Path(settings.output_dir).expanduser()
    train, test = _splits(dataset)
    if settings.train_problems is not None:
        if settings.train_problems > len(train):
            raise ValueError(
                f"train_problems={settings.train_problems} but the train split has {len(train)} rows"
            )
        train = train.select(range(settings.train_problems))
    _check_rows(train, task)
    completion_length = settings.max_completion_length or suggest_max_completion_length(
        train, tokenizer, model=model
    )
    rewards = _reward_functions(task, settings, reward_funcs, train)
    held_out_rows = _held_out_rows(test, settings)
    _check_batch(settings, int(os.environ.get("WORLD_SIZE", "1")))
    bf16 = _resolve_grpo_bf16(settings.bf16)
    use_vllm = _resolve_vllm(settings.use_vllm)
    resume_from = _prepare_output_dir(out, settings, completion_length)
    args = _grpo_config(
        settings,
        out,
        bf16=bf16,
        use_vllm=use_vllm,
        completion_length=completion_length,
        eos_token_id=int(tokenizer.eos_token_id),
    )
    # One process changes the directory while the others wait: a process still checking it must not
    # see (or delete) files the main one has begun to write.
    with args.main_process_first(local=False, desc="preparing the output directory"):
        if _is_main_process():
            out.mkdir(parents=True, exist_ok=True)
            if resume_from is None:
                _clear_earlier_run(out)
            _write_json(
                out / SETTINGS_FILE, {**settings.to_dict(), "max_completion_length": completion_length}
            )

    _set_special_ids(model, tokenizer)
    held_out = None
    if held_out_rows:
        held_out = _HeldOut(task, held_out_rows, settings.eval_max_new_tokens or completion_length)

    trainer_ref: dict[str, Any] = {}
    monitor = _monitor(out, held_out, settings, trainer_ref)
    needs_path = settings.beta > 0 or use_vllm
    with _progress_bars(settings.progress), _loadable_start(model, tokenizer, out, args, needs_path):
        trainer = _trainer(model, tokenizer, train, rewards, args, [monitor, *callbacks])
        trainer_ref["trainer"] = trainer
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        _save_final(trainer, out)

    failures = _count_failures(trainer, rewards)
    result = _result(trainer.state, out, monitor, resume_from, failures, completion_length)
    result.extra.update(
        {
            "bf16": bf16,
            "use_vllm": use_vllm,
            "world_size": int(args.world_size),
            "rewards": [fn.__name__ for fn in rewards],
            "eval_problems": len(held_out_rows),
        }
    )
    if trainer.is_world_process_zero():
        _write_json(out / RESULT_FILE, result.to_dict())
    return result


def _trainer(
    model: Any,
    tokenizer: Any,
    train: datasets.Dataset,
    rewards: list[SafeReward],
    args: Any,
    callbacks: list[Any],
) -> Any:
    from transformers import PrinterCallback, ProgressCallback
    from trl import GRPOTrainer

    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list(rewards),
        args=args,
        # TRL passes every column but prompt/completion to the rewards; the SFT target is dead weight.
        train_dataset=train.remove_columns([c for c in ("completion",) if c in train.column_names]),
        processing_class=tokenizer,  # never AutoTokenizer's guess (see backtrack.models._load_tokenizer)
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)  # the monitor shows progress and writes metrics.jsonl
    for callback in callbacks:
        trainer.add_callback(callback)
    return trainer


def _count_failures(trainer: Any, rewards: list[SafeReward]) -> dict[str, int]:
    """Reward failures of this call summed over processes (a collective: every process calls it)."""
    import torch

    counts = torch.tensor([fn.failures for fn in rewards], device=trainer.accelerator.device)
    totals = trainer.accelerator.reduce(counts, reduction="sum").tolist()
    return {fn.__name__: int(total) for fn, total in zip(rewards, totals, strict=True)}


def _series(history: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    return [
        (int(entry["step"]), float(entry[key]))
        for entry in history
        if isinstance(entry.get(key), int | float) and "step" in entry
    ]


def _result(
    state: Any,
    out: Path,
    monitor: Any,
    resume_from: Path | None,
    failures: dict[str, int],
    completion_length: int,
) -> GRPOResult:
    history = [entry for entry in state.log_history if "train_runtime" not in entry]
    rewards = _series(history, "reward")
    solved = _series(history, "eval/solved")
    return GRPOResult(
        output_dir=out,
        steps=int(state.global_step),
        steps_this_run=int(state.global_step - monitor.start_step),
        resumed_from=str(resume_from) if resume_from else None,
        rewards=rewards,
        eval_solved=solved,
        final_reward=rewards[-1][1] if rewards else None,
        final_eval_solved=solved[-1][1] if solved else None,
        reward_failures=failures,
        max_completion_length=completion_length,
        wall_seconds=float(monitor.seconds),
        metrics=[dict(entry) for entry in history],
    )
