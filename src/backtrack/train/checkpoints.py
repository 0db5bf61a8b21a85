"""Output directories of training runs: the checkpoint to resume from, the settings a resume must keep, and
an atomic final save that every process of a distributed run takes part in.

Shared by ``backtrack.train.sft`` and ``backtrack.train.grpo``; each trainer keeps its own policy of what
an earlier run in its directory means (SFT removes old checkpoints on ``overwrite``; GRPO also clears its
metrics and starting-policy snapshot).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer

__all__ = [
    "FINAL_TMP",
    "WEIGHT_FILES",
    "check_resume_settings",
    "has_weights",
    "is_main_process",
    "last_checkpoint",
    "remove_checkpoints",
    "save_final",
    "set_special_ids",
    "write_json",
]

FINAL_TMP = ".final-tmp"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


def is_main_process() -> bool:
    """Rank 0 before the Trainer exists (accelerate/torchrun export RANK); True when not distributed."""
    return int(os.environ.get("RANK", "0")) == 0


def last_checkpoint(out: Path) -> Path | None:
    """The newest ``checkpoint-<step>`` directory in ``out``, or None."""
    from transformers.trainer_utils import get_last_checkpoint

    if not out.is_dir():
        return None
    last = get_last_checkpoint(str(out))
    return Path(last) if last else None


def has_weights(directory: Path) -> bool:
    return any((directory / name).is_file() for name in WEIGHT_FILES)


def remove_checkpoints(out: Path) -> None:
    """Delete every ``checkpoint-*`` in ``out`` (every rank may try; errors mean already gone)."""
    for checkpoint in out.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)


def check_resume_settings(
    out: Path, settings_file: str, now: dict[str, Any], keys: Sequence[str], decides: str
) -> None:
    """Refuse to resume ``out`` when a setting in ``keys`` differs from the one saved in ``settings_file``
    (those settings decide ``decides``: a resume with other values would not continue the same run)."""
    saved = out / settings_file
    if not saved.is_file():
        return
    before = json.loads(saved.read_text())
    changed = [k for k in keys if k in before and before[k] != now[k]]
    if changed:
        details = ", ".join(f"{k}: {before[k]!r} -> {now[k]!r}" for k in changed)
        raise ValueError(
            f"cannot resume {out}: settings that decide {decides} changed ({details}); "
            "resume with the original values or start a new output_dir"
        )


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to a temporary file and rename it into place (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def save_final(trainer: Trainer, out: Path) -> None:
    """Model + tokenizer into ``out`` via a temporary directory; weights are moved last, so a crash during
    the save never leaves a half-written weights file where ``from_pretrained`` would load it.

    ``save_model`` runs on every process (FSDP/DeepSpeed gather the weights there) and writes on the
    main one only.
    """
    tmp = out / FINAL_TMP
    if trainer.is_world_process_zero() and tmp.exists():
        shutil.rmtree(tmp)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp))
    if trainer.is_world_process_zero():
        for path in sorted(tmp.iterdir(), key=lambda p: (p.name in WEIGHT_FILES, p.name)):
            target = out / path.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(path, target)
        tmp.rmdir()
    trainer.accelerator.wait_for_everyone()


def set_special_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Fill missing pad/bos/eos ids of the model's configs from the tokenizer, so the saved model's
    ``generate`` stops at EOS with no extra arguments."""
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        value = getattr(tokenizer, name)
        for config in (model.config, getattr(model, "generation_config", None)):
            if config is not None and value is not None and getattr(config, name, None) is None:
                setattr(config, name, value)
