"""GRPO with verifiable rewards: TRL's ``GRPOTrainer`` on a task's verifier, resumable and measured.

``train_grpo(model, tokenizer, "data/cd3", get_task("countdown", n_numbers=3),
GRPOSettings(output_dir="ckpt/cd3-grpo", max_steps=200))`` samples ``num_generations`` completions per
prompt, scores them with the task verifier (1 correct / 0 wrong by default), and pushes the policy
towards the completions that beat their group's mean. It runs on a CPU with the tiny models of the
tests, on one GPU with vLLM generating when vLLM is installed, and under ``accelerate launch`` (every
process runs the same call; TRL shares prompt groups across processes).

Why it is built this way (TRL 1.x behaviour that shaped it):

- **Plain-text prompts, templated here.** A dataset's ``prompt`` is the task's plain statement (or a
  DFS trace's first line). Before TRL sees it, it goes through ``backtrack.chat.format_prompt``: the
  tokenizer's chat template for a pretrained chat model, unchanged for ours, exactly as SFT and
  evaluation template it. TRL is given that text as a string prompt and calls the tokenizer directly,
  which adds BOS exactly as SFT encoded prompts (TRL's own templating of message lists is not used, so
  there is one templating function, not two). ``train_grpo`` refuses non-string prompt columns.
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
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtrack.chat import format_prompts, has_chat_template
from backtrack.train.callbacks import METRICS_FILE, HeldOut, grpo_monitor, progress_bars
from backtrack.train.checkpoints import (
    check_resume_settings,
    has_weights,
    is_main_process,
    last_checkpoint,
    remove_checkpoints,
    save_final,
    set_special_ids,
    write_json,
)
from backtrack.train.config import (
    LOSS_TYPES,
    SCALE_REWARDS,
    GRPOSettings,
    check_batch,
    grpo_config,
    resolve_grpo_bf16,
    resolve_vllm,
    training_device,
)
from backtrack.train.lora import lora_config, merge_lora
from backtrack.train.rewards import SafeReward, expected_kinds, resolve_reward, safe_reward
from backtrack.train.splits import load_splits

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

SETTINGS_FILE = "grpo_settings.json"
RESULT_FILE = "grpo_result.json"
INITIAL_DIR = "initial"  # the starting policy, when TRL must load it from disk (beta > 0 or vLLM)
# Settings that decide which completions are sampled for which prompts: a resume with other values
# would not continue the same run, so they are checked against the saved ones.
RESUME_KEYS = (
    "per_device_batch_size",
    "gradient_accumulation_steps",
    "num_generations",
    "num_iterations",
    "seed",
    "lora_r",
)
COMPLETION_LENGTH_MULTIPLE = 16  # suggested lengths are rounded up to this


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
    train, _ = load_splits(dataset)
    if "completion" not in train.column_names:
        raise ValueError("the dataset has no 'completion' column to measure; set max_completion_length")
    rows = train.select(_spread(len(train), sample)).with_format(None)
    completions = tokenizer(list(rows["completion"]), add_special_tokens=False)["input_ids"]
    longest = max(len(ids) for ids in completions) + 1  # + EOS, which the model must also write
    length = -(-int(longest * margin) // COMPLETION_LENGTH_MULTIPLE) * COMPLETION_LENGTH_MULTIPLE
    context = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if context:
        prompts = tokenizer(format_prompts(tokenizer, list(rows["prompt"])))["input_ids"]
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
            "prompts must be plain text (the chat template, if any, is applied by backtrack.chat), "
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


def _templated(train: datasets.Dataset, tokenizer: Any) -> datasets.Dataset:
    """The rows with each prompt as the model sees it (``backtrack.chat.format_prompt``)."""
    if not has_chat_template(tokenizer):
        return train
    return train.map(
        lambda batch: {"prompt": format_prompts(tokenizer, list(batch["prompt"]))},
        batched=True,
        keep_in_memory=True,
        # Named by what decides it, so datasets need not hash the tokenizer inside the function.
        new_fingerprint=hashlib.sha256(f"{train._fingerprint}{tokenizer.chat_template}".encode()).hexdigest()[
            :16
        ],
        desc="chat template",
    )


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
def _prepare_output_dir(out: Path, settings: GRPOSettings, completion_length: int) -> Path | None:
    """The checkpoint to resume from, or None for a fresh start. Reads only (every process runs it):
    refuses to mix a new run into an earlier one, or to overwrite a finished run or another model,
    unless ``overwrite``; ``_clear_earlier_run`` then removes what a fresh start must not inherit."""
    last = last_checkpoint(out)
    if settings.resume and last is not None:
        _check_resume_settings(out, settings, completion_length)
        return last
    earlier = [p.name for p in (last, out / RESULT_FILE) if p is not None and p.exists()]
    if out.is_dir() and has_weights(out):
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
    now = {**settings.to_dict(), "max_completion_length": completion_length}
    check_resume_settings(out, SETTINGS_FILE, now, (*RESUME_KEYS, "max_completion_length"), "the samples")


def _clear_earlier_run(out: Path) -> None:
    """What a fresh start must not inherit: checkpoints (resume would pick them up), the starting-policy
    snapshot, the metrics and the result of an earlier run. Main process only."""
    remove_checkpoints(out)
    shutil.rmtree(out / INITIAL_DIR, ignore_errors=True)
    for name in (RESULT_FILE, METRICS_FILE):
        (out / name).unlink(missing_ok=True)


def _initial_snapshot(model: Any, tokenizer: Any, out: Path, args: Any) -> Path:
    """The starting policy saved in ``out/initial`` (kept on resume: it is what the run started from)."""
    path = out / INITIAL_DIR
    with args.main_process_first(local=False, desc="saving the starting policy"):
        if is_main_process() and not has_weights(path):
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
    train, test = load_splits(dataset)
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
    train = _templated(train, tokenizer)
    held_out_rows = _held_out_rows(test, settings)
    check_batch(settings, int(os.environ.get("WORLD_SIZE", "1")))
    device = training_device(settings.device)
    bf16 = resolve_grpo_bf16(settings.bf16, device)
    use_vllm = resolve_vllm(settings.use_vllm, device)
    resume_from = _prepare_output_dir(out, settings, completion_length)
    args = grpo_config(
        settings,
        out,
        bf16=bf16,
        use_vllm=use_vllm,
        completion_length=completion_length,
        eos_token_id=int(tokenizer.eos_token_id),
        device=device,
    )
    # One process changes the directory while the others wait: a process still checking it must not
    # see (or delete) files the main one has begun to write.
    with args.main_process_first(local=False, desc="preparing the output directory"):
        if is_main_process():
            out.mkdir(parents=True, exist_ok=True)
            if resume_from is None:
                _clear_earlier_run(out)
            write_json(
                out / SETTINGS_FILE, {**settings.to_dict(), "max_completion_length": completion_length}
            )

    set_special_ids(model, tokenizer)
    held_out = None
    if held_out_rows:
        held_out = HeldOut(task, held_out_rows, settings.eval_max_new_tokens or completion_length)

    trainer_ref: dict[str, Any] = {}
    monitor = grpo_monitor(out, held_out, settings, trainer_ref)
    needs_path = settings.beta > 0 or use_vllm
    with progress_bars(settings.progress), _loadable_start(model, tokenizer, out, args, needs_path):
        trainer = _trainer(model, tokenizer, train, rewards, args, [monitor, *callbacks], settings.lora_r)
        trainer_ref["trainer"] = trainer
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        if settings.lora_r is not None:
            trainer.model = merge_lora(trainer.accelerator.unwrap_model(trainer.model))  # saved whole
        save_final(trainer, out)

    failures = _count_failures(trainer, rewards)
    result = _result(trainer.state, out, monitor, resume_from, failures, completion_length)
    result.extra.update(
        {
            "bf16": bf16,
            "use_vllm": use_vllm,
            "world_size": int(args.world_size),
            "device": str(args.device),
            "rewards": [fn.__name__ for fn in rewards],
            "eval_problems": len(held_out_rows),
        }
    )
    if trainer.is_world_process_zero():
        write_json(out / RESULT_FILE, result.to_dict())
    return result


def _trainer(
    model: Any,
    tokenizer: Any,
    train: datasets.Dataset,
    rewards: list[SafeReward],
    args: Any,
    callbacks: list[Any],
    lora_r: int | None = None,
) -> Any:
    from transformers import PrinterCallback, ProgressCallback
    from trl import GRPOTrainer

    trainer = GRPOTrainer(
        model=model,
        peft_config=lora_config(lora_r) if lora_r is not None else None,
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
