"""LoRA through ``peft`` for models too large to fine-tune in full (e.g. a 3B chat model on one GPU).

Only low-rank adapters on every linear layer of the decoder (``target_modules="all-linear"``, which
leaves the output head alone) are trained, with ``lora_alpha = 2 * r`` (a common choice that keeps the
update's scale steady across ranks) and no dropout. Trainer checkpoints hold the adapter (small,
resumable); the final save merges the adapter into the weights (``merge_and_unload``), so the saved
model is an ordinary full model that ``load_model``, evaluation, GRPO and vLLM load with no ``peft``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["lora_config", "merge_lora", "with_lora"]


def lora_config(r: int) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )


def with_lora(model: Any, r: int | None) -> Any:
    """``model`` with rank-``r`` adapters (its own weights frozen); ``model`` itself when ``r`` is None."""
    if r is None:
        return model
    from peft import get_peft_model

    return get_peft_model(model, lora_config(r))


def merge_lora(model: Any) -> Any:
    """The adapters merged into the base weights and removed: a plain model (unchanged if it has none)."""
    from peft import PeftModel

    return model.merge_and_unload() if isinstance(model, PeftModel) else model
