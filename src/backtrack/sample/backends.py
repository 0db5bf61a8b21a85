"""Sampling backends: turn prompts into completions, behind one small protocol.

``Backend.generate(prompts, n, max_new_tokens, temperature, seed)`` returns, for each prompt in order,
``n`` ``Completion``s. Strategies (``backtrack.sample.strategies``) only see this protocol, so the
same sweep runs on HF ``generate`` (CPU or one GPU) or on vLLM (GPU throughput).

Why the HF backend is built this way:

- The paper's evaluation generated one problem at a time; batching prompts × samples with left padding
  and the KV cache is what makes a best-of-32 sweep affordable (``benchmarks/bench_eval.py``).
- Rows are sorted by prompt length before batching so a batch holds prompts of similar length (less
  padding), and results are put back in prompt order.
- Left padding with an attention mask gives each row the same positions as running it alone
  (``generate`` derives position ids from the mask), so greedy output does not depend on the batch.
- A row's token count is the number of ids before its first EOS. After EOS ``generate`` writes pad ids,
  and it stops the whole batch once every row has stopped, so counting up to the first EOS (not
  counting non-pad ids) is exact even when the model itself emits the pad id.
- Greedy decoding with ``n > 1`` runs once per prompt and repeats the result: the samples are
  identical anyway.
- Sampling is plain temperature sampling over the full vocabulary (``top_k=0``, ``top_p=1``), as vLLM's
  defaults and the paper's evaluation; transformers' own default would silently apply top-k 50.
- On CUDA the KV cache is static (``cache_implementation="static"``: preallocated for the prompt plus
  ``max_new_tokens``) and transformers compiles the one-token decode step with ``torch.compile``; a
  dynamic cache grows by concatenation at every step and each step launches many small kernels, which
  is what bounds a small model's decoding on a GPU. Prompt widths are padded to a multiple of
  ``STATIC_WIDTH_MULTIPLE`` so a few cache shapes (compilations) serve a whole evaluation. Greedy output
  is the same with either cache (``tests/test_sample.py``). Without ``batch_size`` a CUDA batch holds as
  many sequences (a power of two) as 40% of the GPU's memory allows for their caches (64 on the CPU).

Why the vLLM backend passes token ids: vLLM would otherwise rebuild the tokenizer from the checkpoint
with ``AutoTokenizer``, which misreads ours (``backtrack.models._load_tokenizer``) and drops words. So
prompts are encoded by our tokenizer, sent as ``prompt_token_ids``, generation stops on our EOS id
(``stop_token_ids``), the engine runs with ``skip_tokenizer_init=True``, and completions are decoded by
our tokenizer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["Backend", "Completion", "HFBackend", "VLLMBackend", "batch_seed"]

CACHES = ("auto", "static", "dynamic")
CPU_BATCH_SIZE = 64  # sequences per generate call on the CPU when none is given
MAX_AUTO_BATCH_SIZE = 2048  # the most sequences a memory-sized batch may hold
STATIC_WIDTH_MULTIPLE = 16  # prompt widths are padded to this with a static cache (fewer compilations)


@dataclass(frozen=True, slots=True)
class Completion:
    """One generated continuation of a prompt.

    ``tokens`` counts generated tokens, EOS excluded: the compute a strategy spent on this sample.
    ``token_ids`` are those tokens (EOS excluded), so a strategy can cut the completion at a token
    budget (``Backend.decode(token_ids[:L])``) without generating again.
    """

    text: str
    tokens: int
    stopped: bool  # the model emitted EOS (False: cut by max_new_tokens)
    token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {self.tokens}")
        if self.token_ids and len(self.token_ids) != self.tokens:
            raise ValueError(f"{len(self.token_ids)} token ids for a completion of {self.tokens} tokens")


@runtime_checkable
class Backend(Protocol):
    """What strategies need from a sampler.

    ``config`` is the model's HF config, which ``backtrack.budget`` turns into FLOPs; ``decode`` turns
    a prefix of a completion's ``token_ids`` back into text (sequential budgets cut runs this way).
    """

    config: Any

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> list[list[Completion]]: ...

    def decode(self, token_ids: Sequence[int]) -> str: ...


def batch_seed(seed: int, index: int) -> int:
    """The sampling seed of batch ``index`` in a call with ``seed``.

    Hashed rather than ``seed + index``: with a sum, batch 1 of seed 0 and batch 0 of seed 1 would
    draw the same random stream (overlapping per-batch seeds would make them repeat one another).
    """
    digest = hashlib.sha256(f"backtrack.sample:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _check_arguments(n: int, max_new_tokens: int, temperature: float) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")


def cut_at_eos(ids: Sequence[int], eos_ids: frozenset[int]) -> tuple[list[int], bool]:
    """The ids before the first EOS, and whether there was one."""
    for k, token in enumerate(ids):
        if token in eos_ids:
            return list(ids[:k]), True
    return list(ids), False


def _eos_ids(value: int | Sequence[int] | None) -> frozenset[int]:
    if value is None:
        return frozenset()
    if isinstance(value, int):
        return frozenset({value})
    return frozenset(int(v) for v in value)


class HFBackend:
    """Batched ``model.generate`` over prompts × samples (see the module docstring).

    ``batch_size`` is the number of sequences (prompt copies) per ``generate`` call; ``device``
    moves the model there (``backtrack.device.resolve_device``: ``"auto"`` is CUDA when present, else
    the CPU; ``None``: wherever the model already is, e.g. where ``load_model`` put it).
    The model is put in eval mode.
    Seeded sampling is reproducible for the same prompts, ``n``, ``batch_size`` and device: each batch
    draws from ``torch.manual_seed(batch_seed(seed, b))`` inside ``torch.random.fork_rng``, so the
    caller's global RNG state is left untouched.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        batch_size: int | None = None,
        device: Any = None,
        *,
        cache: str = "auto",
        compile: bool | None = None,
    ) -> None:
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}")
        if cache not in CACHES:
            raise ValueError(f"cache must be one of {CACHES}, got {cache!r}")
        if device is not None:
            from backtrack.device import resolve_device

            model = model.to(resolve_device(device))
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.config = model.config
        on_cuda = self.device.type == "cuda"
        self.static_cache = cache == "static" or (cache == "auto" and on_cuda)
        # transformers compiles the decode step of a static cache on CUDA unless told not to.
        self.compile = (
            self.static_cache and on_cuda if compile is None else bool(compile and self.static_cache)
        )
        eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else model.config.eos_token_id
        self.eos_ids = _eos_ids(eos)
        if not self.eos_ids:
            raise ValueError("the tokenizer has no EOS token; generation could never stop early")
        self.eos_token_id = min(self.eos_ids) if tokenizer.eos_token_id is None else tokenizer.eos_token_id
        pad = tokenizer.pad_token_id
        self.pad_token_id = self.eos_token_id if pad is None else pad

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def encode(self, prompt: str) -> list[int]:
        """Prompt ids as in training: the tokenizer's special tokens (BOS for ours), no EOS."""
        return list(self.tokenizer(prompt)["input_ids"])

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> list[list[Completion]]:
        _check_arguments(n, max_new_tokens, temperature)
        encoded = [self.encode(p) for p in prompts]
        copies = 1 if temperature == 0 else n
        rows = [i for i in range(len(prompts)) for _ in range(copies)]  # row -> prompt index
        order = sorted(range(len(rows)), key=lambda r: len(encoded[rows[r]]))  # stable: ties keep order
        done: list[Completion | None] = [None] * len(rows)
        widest = max((len(ids) for ids in encoded), default=1)
        size = self.batch_size or self.memory_batch_size(widest + max_new_tokens)
        for b, start in enumerate(range(0, len(order), size)):
            chunk = order[start : start + size]
            generated = self._generate_batch(
                [encoded[rows[r]] for r in chunk], max_new_tokens, temperature, batch_seed(seed, b)
            )
            for r, ids in zip(chunk, generated, strict=True):
                done[r] = self._completion(ids)
        out: list[list[Completion]] = [[] for _ in prompts]
        for r, completion in enumerate(done):
            out[rows[r]].append(completion)  # type: ignore[arg-type]
        return [samples * n if copies == 1 else samples for samples in out]

    def _completion(self, ids: Sequence[int]) -> Completion:
        kept, stopped = cut_at_eos(ids, self.eos_ids)
        return Completion(self.decode(kept), len(kept), stopped, tuple(kept))

    def memory_batch_size(self, sequence_length: int, share: float = 0.4) -> int:
        """Sequences per batch: on CUDA the largest power of two whose KV caches of ``sequence_length``
        tokens (plus a row of float32 logits each) fit in ``share`` of the device's memory;
        ``CPU_BATCH_SIZE`` elsewhere. Total rather than free memory, and a power of two, so the batches
        (and with them the seeds of sampled batches) are the same on every run on a given GPU model."""
        import torch

        if self.device.type != "cuda":
            return CPU_BATCH_SIZE
        config = self.config
        heads = int(config.num_attention_heads)
        kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
        head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
        itemsize = next(self.model.parameters()).element_size()
        kv = 2 * int(config.num_hidden_layers) * kv_heads * head_dim * sequence_length * itemsize
        per_sequence = kv + 2 * 4 * int(config.vocab_size) + 16 * int(config.hidden_size) * itemsize
        total = torch.cuda.get_device_properties(self.device).total_memory
        fits = max(1, min(MAX_AUTO_BATCH_SIZE, int(total * share) // per_sequence))
        return 1 << (fits.bit_length() - 1)

    def _generation_config(self, max_new_tokens: int, temperature: float) -> Any:
        """The settings that shape the distribution are set here, so a checkpoint's own
        ``generation_config.json`` (top-k, top-p, repetition penalty, ...) cannot change the evaluation:
        ``generate`` fills only the fields left ``None`` from the model's config."""
        from transformers import GenerationConfig

        sampling = temperature > 0
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            min_new_tokens=0,
            do_sample=sampling,
            temperature=temperature if sampling else 1.0,
            top_k=0 if sampling else None,
            top_p=1.0,
            typical_p=1.0,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            num_beams=1,
            num_return_sequences=1,
            use_cache=True,
            cache_implementation="static" if self.static_cache else None,
            disable_compile=not self.compile,
            eos_token_id=sorted(self.eos_ids),
            pad_token_id=self.pad_token_id,
            bos_token_id=self.tokenizer.bos_token_id,
        )

    def _generate_batch(
        self, prompt_ids: list[list[int]], max_new_tokens: int, temperature: float, seed: int
    ) -> list[list[int]]:
        """Generated ids (prompt removed, pads after EOS included) for left-padded ``prompt_ids``."""
        import torch

        width = max(len(ids) for ids in prompt_ids)
        if self.static_cache:  # fewer distinct cache shapes: each is a compilation on CUDA
            width = -(-width // STATIC_WIDTH_MULTIPLE) * STATIC_WIDTH_MULTIPLE
        input_ids = torch.full((len(prompt_ids), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompt_ids), width), dtype=torch.long)
        for i, ids in enumerate(prompt_ids):
            input_ids[i, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention_mask[i, width - len(ids) :] = 1
        device = self.device
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), torch.inference_mode():
            torch.manual_seed(seed)
            output = self.model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                generation_config=self._generation_config(max_new_tokens, temperature),
            )
        return output[:, width:].tolist()


class VLLMBackend:
    """The same protocol on vLLM (GPU). ``model`` is a checkpoint directory holding the tokenizer.

    Prompts go to the engine as token ids from our tokenizer and completions come back as ids that our
    tokenizer decodes (see the module docstring). vLLM is imported only here, so the package works
    without it; ``engine`` and ``sampling_params`` replace ``vllm.LLM`` and ``vllm.SamplingParams``
    (tests use stand-ins). Each prompt gets its own seed (``batch_seed(seed, i)``), which makes a call
    reproducible and keeps problems' streams apart. Greedy decoding with ``n > 1`` is run once and
    repeated, as in ``HFBackend``.
    """

    def __init__(
        self,
        model: str,
        *,
        tokenizer: Any = None,
        engine: Any = None,
        sampling_params: Any = None,
        **llm_kwargs: Any,
    ) -> None:
        vllm: Any = None
        if engine is None or sampling_params is None:
            try:
                import vllm
            except ImportError as exc:
                raise ImportError(
                    "VLLMBackend needs vLLM (a GPU install: pip install vllm); use HFBackend on CPU"
                ) from exc
        if tokenizer is None:
            from pathlib import Path

            from backtrack.models import _load_tokenizer

            tokenizer = _load_tokenizer(Path(model))
        self.tokenizer = tokenizer
        sampling_params = sampling_params or vllm.SamplingParams
        if engine is None:
            engine = vllm.LLM(model=str(model), skip_tokenizer_init=True, **llm_kwargs)
        self.llm = engine
        self._sampling_params = sampling_params
        self.config = engine.llm_engine.model_config.hf_config
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("the tokenizer has no EOS token; generation could never stop early")
        self.eos_ids = _eos_ids(eos)

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def encode(self, prompt: str) -> list[int]:
        """Prompt ids as in training (BOS for ours, no EOS), as ``HFBackend`` encodes them."""
        return list(self.tokenizer(prompt)["input_ids"])

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> list[list[Completion]]:
        _check_arguments(n, max_new_tokens, temperature)
        copies = 1 if temperature == 0 else n
        params = [
            self._sampling_params(
                n=copies,
                temperature=temperature,
                top_p=1.0,
                max_tokens=max_new_tokens,
                seed=batch_seed(seed, i) if temperature > 0 else None,
                stop_token_ids=sorted(self.eos_ids),
                detokenize=False,  # the engine has no tokenizer; ours decodes
            )
            for i in range(len(prompts))
        ]
        requests = [{"prompt_token_ids": self.encode(p)} for p in prompts]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        results = [[self._completion(o) for o in request.outputs] for request in outputs]
        return [samples * n if copies == 1 else samples for samples in results]

    def _completion(self, output: Any) -> Completion:
        ids, eos_seen = cut_at_eos(list(output.token_ids), self.eos_ids)  # the contract excludes EOS
        stopped = eos_seen or output.finish_reason == "stop"
        return Completion(self.decode(ids), len(ids), stopped, tuple(ids))
