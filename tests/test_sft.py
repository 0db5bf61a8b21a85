"""SFT: loss goes down, labels mask the prompt, packing is exact and dense, resume loses no step,
the saved directory loads with plain transformers, bad settings fail with one clear error.

Everything uses the ``tiny`` model and a 3-number CountDown set of a few hundred rows, so the file runs in
well under a minute on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from backtrack.data import build_dataset
from backtrack.tokenizer import build_tokenizer
from backtrack.train.config import SFTSettings
from backtrack.train.packing import IGNORE_INDEX, PackedCollator, PackedDataset, encode_example, pack_lengths
from backtrack.train.sft import train_sft

SMALL_COUNTDOWN = dict(n_numbers=3, max_number=9, min_target=1, max_target=30)
ROW = 256  # row capacity in the tests: two ~126-token examples per row


def tiny_model(tokenizer: Any, *, seed: int = 0, **overrides: Any) -> Any:
    """The ``tiny`` size from ``backtrack.models``; a hand-built Qwen2 of the same shape if that module
    is not importable (it is developed in parallel)."""
    try:
        from backtrack.models import build_model
    except ImportError:
        from transformers import Qwen2Config, Qwen2ForCausalLM

        torch.manual_seed(seed)
        config = Qwen2Config(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            intermediate_size=64,
            max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            tie_word_embeddings=True,
            **overrides,
        )
        return Qwen2ForCausalLM(config)
    return build_model("tiny", tokenizer, 512, seed=seed, **overrides)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: the tiny model gains nothing from two, and on a shared 2-core machine a second
    OpenMP thread that gets descheduled stalls every op (measured 15x slower under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return build_tokenizer("countdown")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sft-data") / "countdown"
    build_dataset("countdown", 300, 0, "direct", out, task_config=SMALL_COUNTDOWN, progress=False, workers=1)
    return out


@pytest.fixture(scope="module")
def train_rows(data_dir: Path) -> datasets.Dataset:
    return datasets.load_from_disk(str(data_dir))["train"]


def settings(out: Path, **overrides: Any) -> SFTSettings:
    values: dict[str, Any] = dict(
        output_dir=out,
        per_device_batch_size=4,
        max_length=ROW,
        learning_rate=3e-3,
        logging_steps=5,
        save_steps=None,
        progress=False,
    )
    values.update(overrides)
    return SFTSettings(**values)


@pytest.fixture(scope="module")
def trained(tokenizer: Any, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """Two epochs (62 steps) of the tiny model; shared by the loss, token-count and loading tests."""
    model = tiny_model(tokenizer)
    out = tmp_path_factory.mktemp("sft-run") / "model"
    result = train_sft(model, tokenizer, data_dir, settings(out, epochs=2))
    return model, result


# ---- training ----------------------------------------------------------------------------------
def test_training_reduces_loss(trained: tuple[Any, Any]) -> None:
    _, result = trained
    first, last = result.losses[0][1], result.final_loss
    assert result.steps == result.steps_this_run == 62
    assert first > 4.0  # about ln(vocab) for an untrained model
    assert last < 0.7 * first, result.losses
    assert result.train_loss < first


def test_useful_tokens_count_every_real_token_once_per_epoch(
    trained: tuple[Any, Any], train_rows: Any
) -> None:
    _, result = trained
    tok = build_tokenizer("countdown")
    expected = sum(
        len(encode_example(tok, p, c, max_length=ROW)["input_ids"])
        for p, c in zip(train_rows["prompt"], train_rows["completion"], strict=True)
    )
    assert result.examples == len(train_rows) and result.dropped == 0 and result.truncated == 0
    assert result.useful_tokens == 2 * expected
    assert result.tokens_per_second > 0 and result.wall_seconds > 0
    assert result.fill > 0.9


def test_saved_directory_loads_with_plain_transformers(trained: tuple[Any, Any], train_rows: Any) -> None:
    model, result = trained
    out = result.output_dir
    assert not (out / ".final-tmp").exists()
    loaded = AutoModelForCausalLM.from_pretrained(out, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert loaded.config.use_cache is True  # training turns it off; the saved model must sample fast
    assert loaded.config.eos_token_id == tok.eos_token_id
    ids = tok(train_rows[0]["prompt"], return_tensors="pt")["input_ids"]
    assert ids[0, 0].item() == tok.bos_token_id
    model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(ids).logits, model(ids).logits, atol=1e-6)


# ---- labels ------------------------------------------------------------------------------------
def test_completion_only_labels_mask_the_prompt_and_keep_eos(tokenizer: Any, train_rows: Any) -> None:
    row = train_rows[0]
    prompt_ids = tokenizer(row["prompt"])["input_ids"]
    completion_ids = tokenizer(row["completion"], add_special_tokens=False)["input_ids"]
    encoded = encode_example(tokenizer, row["prompt"], row["completion"])
    assert encoded["input_ids"] == [*prompt_ids, *completion_ids, tokenizer.eos_token_id]
    n = len(prompt_ids)
    assert encoded["labels"][:n] == [IGNORE_INDEX] * n
    assert encoded["labels"][n:] == [*completion_ids, tokenizer.eos_token_id]
    assert IGNORE_INDEX not in encoded["labels"][n:]

    whole = encode_example(tokenizer, row["prompt"], row["completion"], loss_on="all")
    assert whole["input_ids"] == encoded["input_ids"]
    # Only BOS is masked: nothing predicts it, and in a packed row it follows another example.
    assert whole["labels"] == [IGNORE_INDEX, *encoded["input_ids"][1:]]


def test_overlong_examples_are_truncated_or_dropped(tokenizer: Any, train_rows: Any) -> None:
    row = train_rows[0]
    cut = encode_example(tokenizer, row["prompt"], row["completion"], max_length=40)
    assert len(cut["input_ids"]) == 40 and cut["input_ids"][-1] != tokenizer.eos_token_id
    assert encode_example(tokenizer, row["prompt"], row["completion"], max_length=40, overlong="drop") is None
    # A prompt that fills the context leaves nothing to learn: dropped, not trained on.
    assert encode_example(tokenizer, row["prompt"], row["completion"], max_length=10) is None


# ---- packing -----------------------------------------------------------------------------------
def _packed_batch(tokenizer: Any, rows: Any, indices: list[int], width: int) -> tuple[dict[str, Any], list]:
    encoded = [encode_example(tokenizer, rows[i]["prompt"], rows[i]["completion"]) for i in indices]
    tokens = datasets.Dataset.from_dict(
        {
            "input_ids": [e["input_ids"] for e in encoded],
            "loss_start": [e["labels"].count(IGNORE_INDEX) for e in encoded],
        }
    )
    row = PackedDataset(tokens, [list(range(len(indices)))])[0]
    batch = PackedCollator(pad_token_id=tokenizer.pad_token_id, pad_to_multiple_of=width)([row])
    return batch, encoded


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_examples_compute_exactly_as_alone(tokenizer: Any, train_rows: Any, attention: str) -> None:
    # Large initial weights, so that any leak between examples shows far above float rounding.
    model = tiny_model(tokenizer, attn_implementation=attention, initializer_range=0.2).eval()
    batch, encoded = _packed_batch(tokenizer, train_rows, [0, 1, 2], width=512)  # ends with pad
    assert batch["input_ids"].shape[1] == 512 and batch["use_cache"] is False
    with torch.no_grad():
        packed = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[0]
        leaky = model(
            input_ids=batch["input_ids"], attention_mask=torch.ones_like(batch["input_ids"]), use_cache=False
        ).logits[0]
        worst, start = 0.0, 0
        leak = 0.0
        for example in encoded:
            ids = torch.tensor([example["input_ids"]])
            alone = model(input_ids=ids, use_cache=False).logits[0]
            n = ids.shape[1]
            worst = max(worst, (packed[start : start + n] - alone).abs().max().item())
            leak = max(leak, (leaky[start : start + n] - alone).abs().max().item())
            # per-token losses too: the label shift must not cross into the next example
            labels = torch.tensor(example["labels"])
            loss_alone = torch.nn.functional.cross_entropy(alone[:-1], labels[1:], reduction="none")
            loss_packed = torch.nn.functional.cross_entropy(
                packed[start : start + n - 1], batch["labels"][0, start + 1 : start + n], reduction="none"
            )
            assert torch.allclose(loss_packed, loss_alone, atol=1e-5)
            start += n
    assert worst < 1e-5, worst
    assert leak > 1e-2, leak  # the same row without packed positions does mix examples: the check has teeth


def test_packed_rows_are_dense_and_padded_only_at_the_end(tokenizer: Any, train_rows: Any) -> None:
    lengths = [
        len(encode_example(tokenizer, p, c)["input_ids"])
        for p, c in zip(train_rows["prompt"], train_rows["completion"], strict=True)
    ]
    capacity = 512
    rows = pack_lengths(lengths, capacity, seed=0)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    used = [sum(lengths[i] for i in row) for row in rows]
    assert max(used) <= capacity
    assert sum(u <= capacity // 2 for u in used) <= 1  # at most one (the last) row half empty
    fill = sum(used) / (len(rows) * capacity)
    assert fill > 0.95, fill

    tokens = datasets.Dataset.from_dict(
        {
            "input_ids": [
                encode_example(tokenizer, p, c)["input_ids"]
                for p, c in zip(train_rows["prompt"], train_rows["completion"], strict=True)
            ],
            "loss_start": [1] * len(lengths),
        }
    )
    dataset = PackedDataset(tokens, rows)
    batch = PackedCollator(pad_token_id=tokenizer.pad_token_id)([dataset[i] for i in range(8)])
    pad = batch["input_ids"] == tokenizer.pad_token_id
    width = batch["input_ids"].shape[1]
    for r in range(8):
        n = used[r]
        assert width == max(used[:8])  # padded to the longest row of the batch, not to a fixed context
        assert not pad[r, :n].any() and pad[r, n:].all()  # pad only after the row's last real token
        assert (batch["labels"][r, n:] == IGNORE_INDEX).all()
    assert int(pad.sum()) == sum(width - u for u in used[:8])


@given(st.lists(st.integers(1, 64), min_size=1, max_size=200), st.integers(0, 3))
def test_pack_lengths_invariants(lengths: list[int], seed: int) -> None:
    rows = pack_lengths(lengths, 64, seed=seed)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    used = [sum(lengths[i] for i in row) for row in rows]
    assert max(used) <= 64
    assert sum(u <= 32 for u in used) <= 1
    assert rows == pack_lengths(lengths, 64, seed=seed)  # deterministic


# ---- resume ------------------------------------------------------------------------------------
class SimulatedKill(TrainerCallback):
    """Dies right after the checkpoint at ``step`` is written, as a preempted job would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            raise KeyboardInterrupt(f"killed after step {self.step}")


def test_resume_after_kill_matches_uninterrupted_run(tokenizer: Any, data_dir: Path, tmp_path: Path) -> None:
    # logging_steps=4: the loss logged at step 8 then averages the same steps (5-8) in both runs
    run = dict(max_steps=8, save_steps=4, logging_steps=4, per_device_batch_size=2, warmup_steps=2)
    straight = tiny_model(tokenizer)
    full = train_sft(straight, tokenizer, data_dir, settings(tmp_path / "straight", **run))

    with pytest.raises(KeyboardInterrupt):
        train_sft(
            tiny_model(tokenizer),
            tokenizer,
            data_dir,
            settings(tmp_path / "killed", **run),
            callbacks=[SimulatedKill(4)],
        )
    assert (tmp_path / "killed" / "checkpoint-4").is_dir()
    assert not (tmp_path / "killed" / "model.safetensors").exists()

    # A restarted job builds its model afresh; the checkpoint's weights replace them.
    restarted = tiny_model(tokenizer, seed=1)
    resumed = train_sft(restarted, tokenizer, data_dir, settings(tmp_path / "killed", resume=True, **run))
    assert resumed.resumed_from is not None and resumed.resumed_from.endswith("checkpoint-4")
    assert resumed.steps == 8 and resumed.steps_this_run == 4
    a, b = straight.state_dict(), restarted.state_dict()
    difference = max((a[k] - b[k]).abs().max().item() for k in a)
    assert difference < 1e-6, difference
    assert resumed.losses[-1] == pytest.approx(full.losses[-1], abs=1e-5)


def test_resume_refuses_changed_batch_settings(tokenizer: Any, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train_sft(tiny_model(tokenizer), tokenizer, data_dir, settings(out, max_steps=2, save_steps=1))
    with pytest.raises(ValueError, match="max_length"):
        train_sft(
            tiny_model(tokenizer),
            tokenizer,
            data_dir,
            settings(out, max_steps=4, resume=True, max_length=300),
        )
    with pytest.raises(ValueError, match="resume=True"):
        train_sft(tiny_model(tokenizer), tokenizer, data_dir, settings(out, max_steps=4))


# ---- settings ----------------------------------------------------------------------------------
def test_bad_settings_raise_one_clear_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        SFTSettings(
            output_dir=tmp_path, max_steps=0, loss_on="prompt", warmup_ratio=1.5, per_device_batch_size=2.5
        )
    message = str(info.value)
    for name in ("max_steps", "loss_on", "warmup_ratio", "per_device_batch_size"):
        assert name in message
    with pytest.raises(ValueError, match="not both"):
        SFTSettings(output_dir=tmp_path, warmup_ratio=0.1, warmup_steps=10)
    with pytest.raises(ValueError, match="lr_scheduler"):
        SFTSettings(output_dir=tmp_path, lr_scheduler="cosine_restarts")
    with pytest.raises(ValueError, match="packing must be True or False"):
        SFTSettings(output_dir=tmp_path, packing="yes")  # type: ignore[arg-type]


def test_bad_dataset_is_rejected_before_training(tokenizer: Any, tmp_path: Path) -> None:
    no_completion = datasets.Dataset.from_dict({"prompt": ["a"], "text": ["b"]})
    with pytest.raises(ValueError, match="completion"):
        train_sft(tiny_model(tokenizer), tokenizer, no_completion, settings(tmp_path / "x", max_steps=1))
    with pytest.raises(FileNotFoundError):
        train_sft(
            tiny_model(tokenizer), tokenizer, tmp_path / "missing", settings(tmp_path / "y", max_steps=1)
        )


def test_bf16_is_never_picked_for_a_cpu_by_itself(monkeypatch):
    """An AMX machine and one without must train the same model from the same recipe."""
    import torch

    from backtrack.train.config import resolve_bf16

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert resolve_bf16(None, torch.device("cpu")) is False
    assert resolve_bf16(True, torch.device("cpu")) is True
