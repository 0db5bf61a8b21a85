"""One device rule for every stage: CUDA when present, else the CPU; an explicit request overrides it.

``resolve_device(None)`` (or ``"auto"``) is the rule; ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` are
requests. A CUDA request on a machine without CUDA is an error (``DeviceError``, a ``ValueError``, which
the CLI shows as one ``error: ...`` line with exit code 2) rather than a silent fall back to the CPU: a
study meant for a GPU would otherwise sample its 4,096-token budgets on the CPU for hours.

The CLI (``--device`` on ``eval``, ``run`` and ``rl grpo``), a recipe's top-level ``device`` key,
``backtrack.models.load_model`` and the HF sampling backend all go through this function.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICE_PATTERN", "DeviceError", "resolve_device"]

# What a person may ask for; checked by recipes before anything runs.
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


class DeviceError(ValueError):
    """A device that was asked for but is not there (or not a device name at all)."""


def resolve_device(requested: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``requested`` when given (and present), else CUDA when present, else CPU."""
    import torch

    if isinstance(requested, torch.device):
        requested = str(requested)
    name = (requested or "auto").strip().lower()
    if not re.match(DEVICE_PATTERN, name):
        raise DeviceError(f"unknown device {requested!r} (expected auto, cpu, cuda or cuda:N)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"device {requested!r} was requested but this machine has no CUDA device")
    device = torch.device(name)
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise DeviceError(f"device {requested!r} was requested but this machine has {count} CUDA device(s)")
    return device


def describe(device: Any) -> str:
    """``cuda:0 (NVIDIA H200)`` or ``cpu``: the device as a report should name it."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return str(device)
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
