"""Checks of a command's inputs that need no work done: format options against the renderer's
signature, a saved model's task against a dataset's, a model size name. Each raises ``ValueError``
with a message naming the option and what is accepted (the CLI shows it as one ``error:`` line)."""

from __future__ import annotations

import difflib
import inspect
import json
from pathlib import Path
from typing import Any


def _close(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]}? " if close else ""


def format_option_names(task: Any, fmt: str) -> list[str] | None:
    """The keyword options a format's renderer accepts (``rng`` is the CLI's ``--seed``), or None when
    its signature does not say (a renderer taking ``**options``)."""
    from backtrack.traces import format_of

    trace_format = format_of(task, fmt)
    render = getattr(trace_format, "render_fn", trace_format.render)  # the function behind a Format
    params = list(inspect.signature(render).parameters.values())
    named = [
        p.name
        for p in params
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("self", "problem", "rng")
    ]
    if not named and any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return named


def check_format_options(task: Any, fmt: str, options: dict[str, Any], flag: str = "--format-option") -> None:
    """Every key of ``options`` is one the format's renderer takes."""
    known = format_option_names(task, fmt)
    if known is None:
        return  # the renderer's own ValueError/TypeError will name a bad option
    for key in options:
        if key not in known:
            accepted = ", ".join(known) or "none"
            raise ValueError(
                f"{flag} {key}: not an option of format {task}/{fmt} "
                f"({_close(key, known)}accepted: {accepted})"
            )


def saved_model_task(model_dir: Path) -> str | None:
    """The task a saved model's tokenizer was built for (``backtrack_task`` in tokenizer_config.json),
    or None when the folder does not say."""
    try:
        config = json.loads((Path(model_dir) / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        return None
    task = config.get("backtrack_task") if isinstance(config, dict) else None
    return task if isinstance(task, str) else None


def check_model_dir(model_dir: Path, flag: str = "--model") -> None:
    """A folder holding a saved model (config.json), e.g. from ``backtrack train sft``."""
    if not model_dir.exists():
        raise ValueError(f"{flag} {model_dir}: no such folder")
    if not (model_dir / "config.json").is_file():
        raise ValueError(
            f"{flag} {model_dir}: not a saved model (no config.json); train one with `backtrack train sft`"
        )


def check_model_matches_data(model_dir: Path, data_task: str, data_dir: Path) -> None:
    """A model's vocabulary is one task's: a CountDown model on Sudoku data can only score 0%."""
    model_task = saved_model_task(model_dir)
    if model_task is not None and model_task != data_task:
        raise ValueError(
            f"--model {model_dir} was trained on {model_task} but --data {data_dir} holds {data_task} "
            f"problems; give it {model_task} data"
        )


def dataset_metadata(data: Path, flag: str = "--data") -> dict[str, Any]:
    """``metadata.json`` of a dataset from ``backtrack generate``."""
    if not data.is_dir():
        raise ValueError(f"{flag} {data}: no such folder")
    try:
        meta = json.loads((data / "metadata.json").read_text())
    except OSError:
        raise ValueError(
            f"{flag} {data} is not a dataset from `backtrack generate` (no metadata.json)"
        ) from None
    except ValueError:
        raise ValueError(f"{flag} {data}: metadata.json is not valid JSON") from None
    if not isinstance(meta, dict) or "task" not in meta:
        raise ValueError(f"{flag} {data}: metadata.json names no task")
    return meta


def check_model_size(size: str, flag: str = "size") -> None:
    """A named size (``backtrack models``) or the folder of a saved model."""
    from backtrack.models import MODEL_SIZES

    if size in MODEL_SIZES or (Path(size) / "config.json").is_file():
        return
    known = list(MODEL_SIZES)
    raise ValueError(
        f"{flag} {size!r} is neither a named size nor a saved model folder ({_close(size, known)}"
        f"named sizes: {', '.join(known)})"
    )
