"""The one place where a dataset prompt becomes the text a model sees: through the tokenizer's chat
template when it has one, unchanged otherwise.

A dataset's ``prompt`` column holds the task's plain statement (``task.prompt(problem)``, or a DFS
trace's first line). Our from-scratch models were trained to continue that text as it is; a pretrained
chat model (Qwen2.5-Instruct and the like) expects it as a user turn of its chat template, followed by
the assistant header it answers after. SFT (``train.packing``), evaluation (``evaluate``, ``sample``)
and GRPO (``train.grpo``) all call ``format_prompt``, so the prompt a model is trained on is, token for
token, the prompt it is evaluated and reinforced on.

The templated text is tokenized like any prompt, ``tokenizer(text)`` with the tokenizer's special
tokens (what TRL does with string prompts, and what our samplers do). A template that writes the BOS
token itself (Llama's does) would then get a second BOS from the tokenizer, so a leading BOS string is
removed when the tokenizer adds one anyway: ``tokenizer(format_prompt(t, p))`` gives the same ids as
``t.apply_chat_template(..., tokenize=True)``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["format_prompt", "format_prompts", "has_chat_template"]


def has_chat_template(tokenizer: Any) -> bool:
    """True when the tokenizer carries a chat template (pretrained chat models; never ours)."""
    return bool(getattr(tokenizer, "chat_template", None))


def format_prompt(tokenizer: Any, prompt: str) -> str:
    """``prompt`` as the user message of ``tokenizer``'s chat template with the assistant's generation
    prompt after it; ``prompt`` itself when the tokenizer has no chat template."""
    if not has_chat_template(tokenizer):
        return prompt
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    if not isinstance(text, str):
        raise TypeError(f"the chat template rendered a {type(text).__name__}, not text")
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos) and _adds_bos(tokenizer):
        text = text[len(bos) :]
    return text


def format_prompts(tokenizer: Any, prompts: list[str]) -> list[str]:
    """``format_prompt`` of each prompt (the template is checked once)."""
    if not has_chat_template(tokenizer):
        return list(prompts)
    return [format_prompt(tokenizer, prompt) for prompt in prompts]


def _adds_bos(tokenizer: Any) -> bool:
    bos_id = getattr(tokenizer, "bos_token_id", None)
    ids = tokenizer("")["input_ids"]
    return bos_id is not None and bool(ids) and ids[0] == bos_id
