"""Small task vocabularies as Hugging Face fast tokenizers (a character-level one for tasks without).

The models here are trained from scratch on one task, so a tokenizer only needs the few strings that
task's formats write: whole words and symbols kept as single tokens, numbers split into digits (as in
the reference study, so a model never has to memorise a token per number), and nothing learned from
data. Building the vocabulary from ``task.vocabulary()`` instead of training BPE keeps token ids
deterministic and makes every token meaningful.

The result is a plain ``transformers.PreTrainedTokenizerFast`` (``tokenizers`` pipeline: Split
pre-tokenizer, WordLevel model, Fuse decoder), so ``save_pretrained`` and
``AutoTokenizer.from_pretrained(path)`` work with no code from this package.

Special tokens and ``add_special_tokens``
    Ids 0..3 are ``<pad>``, ``<s>`` (bos), ``</s>`` (eos) and ``<unk>``. With ``add_special_tokens=True``
    (the default of ``encode`` / ``__call__``) BOS is prepended and EOS is *not* appended, as for Llama:
    a prompt encoded for generation must stay open, so whoever builds training sequences appends EOS to
    the completion. A pair ``(prompt, completion)`` encodes as ``<s> prompt completion`` (one BOS).
    ``build_tokenizer(..., add_bos=False)`` adds no special token at all. The rule lives in the
    post-processor saved in ``tokenizer.json``, which is what a reload uses (transformers 5 does not
    save ``add_bos_token``, so that attribute reads False after ``from_pretrained`` although BOS is
    still added; assigning it rebuilds transformers' own template, whose pair form has two BOS).

Exact round trip
    Nothing is normalised or stripped and the decoder concatenates tokens as they are, with
    ``clean_up_tokenization_spaces=False``; so ``decode(encode(text), skip_special_tokens=True) == text``
    for any text the task's renderers write. A character outside the vocabulary becomes one ``<unk>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from backtrack.tasks import DEFAULT_TASK

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "SPECIAL_TOKENS",
    "UNK",
    "build_tokenizer",
    "character_tokenizer",
    "split_pattern",
    "token_count",
    "tokenizer_from_vocabulary",
    "vocabulary",
]

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3 in every vocabulary
DIGITS = tuple("0123456789")
WHITESPACE = (" ", "\n")


def number_tokens(whole_numbers: int) -> list[str]:
    """``"0"`` .. ``str(whole_numbers)``: the tokens of the whole-number option (none for 0)."""
    if isinstance(whole_numbers, bool) or not isinstance(whole_numbers, int) or whole_numbers < 0:
        raise ValueError(f"whole_numbers must be a non-negative integer, got {whole_numbers!r}")
    return [str(n) for n in range(whole_numbers + 1)] if whole_numbers else []


def vocabulary(literals: Iterable[str]) -> list[str]:
    """The ordered token list for ``literals``: ids are list positions.

    Order (fixed, so the same literals always give the same ids): the special tokens, the literals in
    the order given (duplicates dropped), a leading-space variant of every literal that holds a letter
    (``" State"``: formats write most words after a space, and one token for the pair saves a token
    per word), then any of the digits, ``" "`` and ``"\\n"`` not yet present.
    """
    literals = list(literals)
    for literal in literals:
        if not isinstance(literal, str) or not literal:
            raise ValueError(f"vocabulary literals must be non-empty strings, got {literal!r}")
        if literal in SPECIAL_TOKENS:
            raise ValueError(f"{literal!r} is a special token; it cannot also be a task literal")
    spaced = [" " + lit for lit in literals if not lit[0].isspace() and any(ch.isalpha() for ch in lit)]
    return list(dict.fromkeys([*SPECIAL_TOKENS, *literals, *spaced, *DIGITS, *WHITESPACE]))


def _escape(literal: str) -> str:
    """``literal`` as an Oniguruma pattern matching exactly itself.

    ``re.escape`` targets Python's engine (it writes a raw newline after a backslash, for one), so
    this escapes for Oniguruma directly: letters and digits stay, everything else is a code point.
    """
    return "".join(ch if ch.isascii() and ch.isalnum() else f"\\x{{{ord(ch):x}}}" for ch in literal)


def split_pattern(tokens: Iterable[str], whole_numbers: int = 0) -> str:
    """The pre-tokenizer regex: longest literal first, then a single digit, then any one character.

    Oniguruma takes the first alternative that matches, so sorting longest first makes the split a
    greedy longest match ("Operations" before "Operation", " State" before " "). Single digits come
    before the catch-all so that numbers always split into digits; the catch-all isolates each unknown
    character so it becomes exactly one ``<unk>``. With ``whole_numbers`` N, a number without leading
    zeros of at most N's digit count comes first (one token when it is <= N; a longer number splits
    into such runs, every piece still a token).
    """
    pieces = sorted(
        (t for t in dict.fromkeys(tokens) if t not in SPECIAL_TOKENS and len(t) > 1),
        key=lambda t: (-len(t), t),
    )
    numbers = [f"[1-9][0-9]{{0,{len(str(whole_numbers)) - 1}}}"] if whole_numbers >= 10 else []
    return "|".join([*(_escape(t) for t in pieces if not t.isdigit()), *numbers, "[0-9]", r"[\s\S]"])


def tokenizer_from_vocabulary(
    literals: Iterable[str], *, add_bos: bool = True, whole_numbers: int = 0, **init_kwargs: Any
) -> PreTrainedTokenizerFast:
    """A word-level fast tokenizer over ``vocabulary(literals)`` (see the module docstring).

    ``whole_numbers`` N > 0 also gives every number 0..N a token of its own instead of splitting it into
    digits: arithmetic becomes a table lookup and copying a number one token, which tiny CPU models learn
    far sooner (the default study); the reference's digit split stays the default.

    ``init_kwargs`` are stored in the saved ``tokenizer_config.json`` (``build_tokenizer`` records the
    task there); values must be JSON-serialisable.
    """
    tokens = list(dict.fromkeys([*vocabulary(literals), *number_tokens(whole_numbers)]))
    vocab = {tok: i for i, tok in enumerate(tokens)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.normalizer = None
    pattern = split_pattern(tokens, whole_numbers)
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    backend.decoder = decoders.Fuse()
    return _fast_tokenizer(backend, add_bos, init_kwargs)


def character_tokenizer(*, add_bos: bool = True, **init_kwargs: Any) -> PreTrainedTokenizerFast:
    """The generic tokenizer of a task without a vocabulary: one token per character.

    Printable ASCII, newline and tab are tokens of their own; any other character becomes the tokens
    of its UTF-8 bytes (``<0xE2>``..., byte fallback), so every text round-trips exactly and nothing
    is ``<unk>``. Ids: the four special tokens, the 97 characters, then the 256 bytes (357 in all).
    """
    characters = [chr(c) for c in range(0x20, 0x7F)] + ["\n", "\t"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tokens = [*SPECIAL_TOKENS, *characters, *byte_tokens]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    # A BPE model without merges is a character lookup that supports byte fallback (WordLevel does not).
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK, byte_fallback=True))
    backend.normalizer = None
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    return _fast_tokenizer(backend, add_bos, init_kwargs)


def _fast_tokenizer(
    backend: Tokenizer, add_bos: bool, init_kwargs: dict[str, Any]
) -> PreTrainedTokenizerFast:
    """Wrap a ``tokenizers`` pipeline with the special tokens and BOS rule of the module docstring."""
    # Special tokens must never match inside text by accident nor lose neighbouring spaces.
    backend.add_special_tokens(
        [
            AddedToken(tok, special=True, normalized=False, lstrip=False, rstrip=False)
            for tok in SPECIAL_TOKENS
        ]
    )
    json.dumps(init_kwargs)  # fail here, not at save time, on values that cannot be saved
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        add_bos_token=add_bos,
        add_eos_token=False,
        clean_up_tokenization_spaces=False,
        **init_kwargs,
    )
    # transformers' own template would put a second BOS before the pair's second text; a pair here is
    # (prompt, completion) of one causal sequence, so the completion follows the prompt directly.
    bos = f"{BOS}:0 " if add_bos else ""
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos}$A:0", pair=f"{bos}$A:0 $B:1", special_tokens=[(BOS, SPECIAL_TOKENS.index(BOS))]
    )
    if tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)) != list(range(len(SPECIAL_TOKENS))):
        raise RuntimeError("special token ids moved; the vocabulary order is broken")
    return tokenizer


def build_tokenizer(
    task_name: str, *, add_bos: bool = True, whole_numbers: int = 0, **task_config: Any
) -> PreTrainedTokenizerFast:
    """The tokenizer for a task, e.g. ``build_tokenizer("countdown", n_numbers=4)``: word-level over
    ``task.vocabulary()``, or ``character_tokenizer`` when the task has none (``None``).

    The task name and its full config are saved in ``tokenizer_config.json`` (``backtrack_task``,
    ``backtrack_task_config``) so a checkpoint says which task its vocabulary came from; loading needs
    only ``AutoTokenizer.from_pretrained(path)``.
    """
    from backtrack.tasks import get_task

    task = get_task(task_name, **task_config)
    saved = {
        "backtrack_task": task_name,
        "backtrack_task_config": task.config_dict(),
        "backtrack_whole_numbers": whole_numbers,
    }
    literals = task.vocabulary()
    if literals is None:
        number_tokens(whole_numbers)  # a bad value is a ValueError in either case
        if whole_numbers:
            raise ValueError(f"whole_numbers needs a word vocabulary; task {task_name!r} has none")
        return character_tokenizer(add_bos=add_bos, **saved)
    return tokenizer_from_vocabulary(literals, add_bos=add_bos, whole_numbers=whole_numbers, **saved)


@lru_cache(maxsize=8)
def _task_tokenizer(task_name: str) -> PreTrainedTokenizerFast:
    return build_tokenizer(task_name)


def token_count(text: str, tokenizer: PreTrainedTokenizerFast | str = DEFAULT_TASK) -> int:
    """Tokens in ``text`` without special tokens (lengths comparable with the paper's trace lengths).

    ``tokenizer`` is a tokenizer or a task name (its default-config tokenizer, built once).
    """
    tok = _task_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    return len(tok(text, add_special_tokens=False)["input_ids"])
