"""Training: supervised fine-tuning on trace datasets (``sft``); GRPO lives beside it.

Imports are lazy so that ``import backtrack.train`` stays cheap for the CLI: ``torch`` and
``transformers`` load only when a name from ``sft`` is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SFTResult", "SFTSettings", "train_sft"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from backtrack.train import sft

        return getattr(sft, name)
    raise AttributeError(f"module 'backtrack.train' has no attribute {name!r}")
