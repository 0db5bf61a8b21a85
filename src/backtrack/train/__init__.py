"""Training: supervised fine-tuning on trace datasets (``sft``) and GRPO on verifiable rewards
(``grpo``, with its reward functions in ``rewards``).

Imports are lazy so that ``import backtrack.train`` stays cheap for the CLI: ``torch``,
``transformers`` and ``trl`` load only when a name from ``sft`` or ``grpo`` is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the submodule that defines it
_EXPORTS = {
    "SFTResult": "sft",
    "SFTSettings": "sft",
    "train_sft": "sft",
    "GRPOResult": "grpo",
    "GRPOSettings": "grpo",
    "suggest_max_completion_length": "grpo",
    "train_grpo": "grpo",
    "RewardError": "rewards",
    "SafeReward": "rewards",
    "resolve_reward": "rewards",
    "safe_reward": "rewards",
    "verifier_reward": "rewards",
    "well_formed": "rewards",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"backtrack.train.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'backtrack.train' has no attribute {name!r}")
