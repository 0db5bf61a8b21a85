"""Training: supervised fine-tuning on trace datasets (``sft``) and GRPO on verifiable rewards
(``grpo``, with its reward functions in ``rewards``). Their settings live in ``config``, SFT's encoding and
packing in ``packing``, output directories and the final save in ``checkpoints``, trainer callbacks in
``callbacks``, and the CPU attention for packed rows in ``segment_attention``.

Imports are lazy so that ``import backtrack.train`` stays cheap for the CLI: ``torch``,
``transformers`` and ``trl`` load only when a name from a trainer module is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the submodule that defines it
_EXPORTS = {
    "CheckedSettings": "config",
    "SFTSettings": "config",
    "GRPOSettings": "config",
    "bf16_supported": "config",
    "IGNORE_INDEX": "packing",
    "PackedCollator": "packing",
    "PackedDataset": "packing",
    "encode_example": "packing",
    "pack_lengths": "packing",
    "packing_max_difference": "packing",
    "SFTResult": "sft",
    "train_sft": "sft",
    "GRPOResult": "grpo",
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
