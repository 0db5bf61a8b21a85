"""Trainer callbacks and progress display: useful tokens per second for SFT (``token_rate_callback``), and
GRPO's monitor (held-out greedy evaluation, ``metrics.jsonl``, progress bar: ``grpo_monitor``).

Callbacks are built by functions so that ``transformers`` and ``tqdm`` load only when a trainer starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import TrainerCallback

    from backtrack.train.config import GRPOSettings

__all__ = ["METRICS_FILE", "HeldOut", "grpo_monitor", "progress_bars", "token_rate_callback"]

METRICS_FILE = "metrics.jsonl"


@contextlib.contextmanager
def progress_bars(enabled: bool) -> Iterator[None]:
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


# ---- SFT ---------------------------------------------------------------------------------------
def token_rate_callback(show_bar: bool) -> TrainerCallback:
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


# ---- GRPO: held-out evaluation, metrics.jsonl, progress ----------------------------------------
class HeldOut:
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

        from backtrack.chat import format_prompts
        from backtrack.sample import HFBackend

        rank, world = accelerator.process_index, accelerator.num_processes
        mine = list(range(rank, len(self.rows), world))
        solved = 0
        if mine:
            was_training = model.training
            try:  # HFBackend puts the model in eval mode and keeps the caller's RNG untouched
                # A dynamic cache: no compilation of the policy being trained, and no memory held
                # beyond this evaluation (the training step needs it back).
                backend = HFBackend(model, tokenizer, batch_size=self.batch_size, cache="dynamic")
                prompts = format_prompts(tokenizer, [self.rows[i]["prompt"] for i in mine])
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


def grpo_monitor(
    out: Path,
    held_out: HeldOut | None,
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
