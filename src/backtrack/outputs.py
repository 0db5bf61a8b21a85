"""Where a command may write: checked before any work starts, so nothing is lost or half-written.

A file output (``eval --out``) must not exist unless ``overwrite``, and its folder must exist and be
writable. A training output folder must be new, empty, or an earlier run of the same kind (it holds
that trainer's settings file); a folder of unrelated files is never written into, with or without
``overwrite``. ``--resume`` needs something to resume, and a finished run is not trained again.

Every check raises ``OutputError`` (a ``ValueError``) whose message names the path and the fix.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class OutputError(ValueError):
    """An output location that cannot be used as asked."""


def check_writable_folder(folder: Path, what: str) -> None:
    """``folder`` exists (or can be created under an existing, writable parent) and is writable."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{what} {folder}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {folder}: {probe} is not writable")


def check_output_file(path: Path, *, overwrite: bool, what: str = "--out") -> None:
    """A file to be written: its folder must exist and be writable; an existing file needs ``overwrite``."""
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file name (e.g. {path / 'results.json'})")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{what} {path}: folder {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: folder {parent} is not writable")
    if path.exists() and not overwrite:
        raise OutputError(f"{what} {path} already exists; pass --overwrite to replace it")


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# Names a trainer writes into its output folder (checkpoints, the final model and tokenizer, its own
# records). Anything else marks a folder that belongs to someone else.
_MODEL_FILES = {
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "training_args.bin",
    "stage.json",
    "README.md",
}


@dataclass(frozen=True)
class RunFolder:
    """What an existing training output folder holds (``settings_file`` marks it as a trainer's)."""

    path: Path
    settings_file: str
    result_file: str
    extra_files: frozenset[str] = frozenset()

    def exists(self) -> bool:
        return self.path.exists()

    def is_run(self) -> bool:
        return (self.path / self.settings_file).is_file()

    def checkpoints(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        found = [p for p in self.path.glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()]
        return sorted(found, key=lambda p: int(p.name[11:]))

    def result(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / self.result_file).read_text())
        except (OSError, ValueError):
            return None

    def unrelated(self) -> list[str]:
        """Entries that no trainer of this kind writes."""
        if not self.path.is_dir():
            return []
        known = _MODEL_FILES | {self.settings_file, self.result_file} | self.extra_files
        return sorted(
            p.name
            for p in self.path.iterdir()
            if p.name not in known
            and not p.name.startswith(("checkpoint-", "."))
            and not p.name.endswith(".tmp")
        )


def check_training_output(
    folder: RunFolder, *, resume: bool, overwrite: bool, max_steps: int | None
) -> str | None:
    """Refuse a training output folder that would lose or mix work; returns a note when there is
    nothing to do (``--resume`` of a finished run that already reached ``max_steps``), else None."""
    out = folder.path
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder")
    check_writable_folder(out, "--out")
    if resume and overwrite:
        raise OutputError("--resume and --overwrite exclude each other")
    if out.is_dir() and any(out.iterdir()) and not folder.is_run():
        stray = folder.unrelated()
        shown = ", ".join(stray[:3]) + (" ..." if len(stray) > 3 else "")
        raise OutputError(
            f"--out {out} holds files that are not a training run's ({shown or 'an unknown layout'}); "
            "choose a new or empty folder"
        )
    stray = folder.unrelated()
    if stray:
        raise OutputError(
            f"--out {out} holds a run and other files ({', '.join(stray[:3])}); choose a new or empty folder"
        )
    result = folder.result()
    if resume:
        done = result.get("steps") if result else None
        if result is not None and (max_steps is None or (isinstance(done, int) and done >= max_steps)):
            return f"nothing to resume: {out} is a finished run ({done} steps); nothing was trained"
        if not folder.checkpoints():
            raise OutputError(f"--resume: {out} holds no checkpoint to resume (train without --resume)")
        return None
    if folder.is_run() and not overwrite:
        if result is not None:
            raise OutputError(f"--out {out} holds a finished run; pass --overwrite to train again over it")
        raise OutputError(
            f"--out {out} holds an unfinished run; pass --resume to continue it or --overwrite to start again"
        )
    return None


def check_runs_dir(runs_dir: Path) -> None:
    """``backtrack run``'s folder of run directories: a folder (made if missing), writable."""
    if runs_dir.exists() and not runs_dir.is_dir():
        raise OutputError(f"--runs-dir {runs_dir} is a file; give a folder")
    check_writable_folder(runs_dir, "--runs-dir")
