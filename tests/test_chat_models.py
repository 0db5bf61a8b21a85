"""Pretrained chat models as a recipe's model: a saved causal LM with a chat-template tokenizer trains
(SFT), is evaluated and runs GRPO end to end, and at every stage the model sees the prompt through the
chat template, token for token the same text.

The model is a tiny Qwen2 (hidden 32, 2 layers) and the tokenizer a byte-level BPE without merges (one
token per byte, like Qwen's before merges) with ChatML special tokens and a ChatML chat template, both
built here and saved with ``save_pretrained``: nothing is downloaded.
"""

from __future__ import annotations

import json
import random
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import pytest
import torch
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from backtrack.chat import format_prompt
from backtrack.cli import main
from backtrack.models import load_model, load_tokenizer
from backtrack.recipes import RecipeError, parse_recipe
from backtrack.run import Study
from backtrack.tasks import get_task
from backtrack.traces import render
from backtrack.train.packing import encode_example

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SMALL_COUNTDOWN = {"n_numbers": 3, "max_number": 9, "min_target": 1, "max_target": 30}


def chatml(prompt: str) -> str:
    """The exact text a ChatML model must see for a user prompt (written out, not computed)."""
    return f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build_chat_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    backend = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHATML
    return tokenizer


@pytest.fixture(scope="module")
def chat_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 chat model and its tokenizer, saved as any HF model is."""
    out = tmp_path_factory.mktemp("pretrained") / "tiny-chat"
    tokenizer = build_chat_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_the_saved_tokenizer_loads_as_saved_with_its_chat_template(chat_model_dir: Path) -> None:
    tokenizer = load_tokenizer(chat_model_dir)
    assert tokenizer.chat_template == CHATML
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    assert format_prompt(tokenizer, "Make 12.") == chatml("Make 12.")
    _, same = load_model(chat_model_dir, device="cpu")
    assert same.chat_template == CHATML


def test_our_tokenizers_have_no_template_and_prompts_pass_unchanged() -> None:
    from backtrack.tokenizer import build_tokenizer

    assert format_prompt(build_tokenizer("countdown"), "38:[8, 6, 5]") == "38:[8, 6, 5]"


def test_a_template_that_writes_bos_gets_no_second_one_from_the_tokenizer() -> None:
    """``tokenizer(format_prompt(...))`` equals ``apply_chat_template(tokenize=True)`` for a Llama-like
    template that starts with the BOS token the tokenizer also adds."""
    from tokenizers import processors

    tokenizer = build_chat_tokenizer()
    tokenizer.add_special_tokens({"bos_token": "<s>"})
    bos = tokenizer.bos_token_id
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", bos)]
    )
    tokenizer.chat_template = "{{ bos_token }}" + CHATML
    text = format_prompt(tokenizer, "hi")
    assert text == chatml("hi")
    templated = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    assert tokenizer(text)["input_ids"] == list(templated)
    assert tokenizer(text)["input_ids"].count(bos) == 1


@pytest.mark.parametrize(
    ("task_name", "options", "fmt", "format_options"),
    [
        ("countdown", SMALL_COUNTDOWN, "backtrack-k", {"k": 2}),
        ("countdown", {}, "direct", {}),
        ("sudoku", {}, "direct", {}),
    ],
)
def test_task_text_round_trips_through_the_foreign_tokenizer_and_sft_encodes_the_template(
    chat_model_dir: Path, task_name: str, options: dict, fmt: str, format_options: dict
) -> None:
    """Task texts written for our small vocabularies encode and decode exactly with a byte-level chat
    tokenizer, and an SFT example is the templated prompt, the completion and the template's EOS."""
    tokenizer = load_tokenizer(chat_model_dir)
    task = get_task(task_name, **options)
    for seed in range(3):
        problem = task.generate(random.Random(seed))
        completion = render(task, problem, fmt, rng=random.Random(seed), **format_options).text
        prompt = task.prompt(problem)
        for text in (prompt, completion):
            assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
        example = encode_example(tokenizer, prompt, completion, max_length=100_000)
        assert example is not None
        assert tokenizer.decode(example["input_ids"]) == chatml(prompt) + completion + "<|im_end|>"
        start = example["labels"].index(next(x for x in example["labels"] if x != -100))
        assert tokenizer.decode(example["input_ids"][:start]) == chatml(prompt)


# ---- a whole study on the saved chat model ---------------------------------------------------------
def chat_recipe(model_dir: Path) -> dict[str, Any]:
    return tomllib.loads(
        f"""
name = "chat"
[task]
name = "countdown"
options = {json.dumps(SMALL_COUNTDOWN).replace('"', "").replace(":", " =")}
[data]
n = 120
test_size = 3
[[models]]
name = "chat-k1"
format = "backtrack-k"
format_options = {{ k = 1 }}
size = "{model_dir}"
context = 1536
train = {{ max_steps = 2, learning_rate = 1e-3, batch_size = 2, save_steps = 2 }}
eval = [{{ strategy = "parallel", samples = [1], max_new_tokens = 8 }}]
[models.rl]
max_steps = 1
batch_size = 2
num_generations = 2
max_completion_length = 8
reward = "format"
eval_every = 1
eval_problems = 2
learning_rate = 1e-4
"""
    )


class ForwardSpy:
    """Records the token rows every Qwen2 forward pass receives, labelled by the study stage running."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stage = ""
        self.rows: list[tuple[str, list[int], bool]] = []  # (stage, ids, a training batch with labels)
        forward = Qwen2ForCausalLM.forward

        def spy(model: Any, input_ids: Any = None, *args: Any, **kwargs: Any) -> Any:
            if input_ids is not None and input_ids.shape[-1] > 1:  # prefill or training, not one decode step
                labelled = kwargs.get("labels") is not None
                self.rows += [(self.stage, row.tolist(), labelled) for row in input_ids.detach().cpu()]
            return forward(model, input_ids, *args, **kwargs)

        monkeypatch.setattr(Qwen2ForCausalLM, "forward", spy)

    def log(self, line: str) -> None:
        self.stage = line.split(" ")[0]

    def texts(self, stage: str, tokenizer: Any, *, labelled: bool | None = None) -> list[str]:
        """The decoded rows of ``stage`` (pads at either end removed); ``labelled``: only SFT batches
        (True), never them (False)."""
        pad = tokenizer.pad_token_id
        out = []
        for seen, ids, with_labels in self.rows:
            if seen != stage or (labelled is not None and with_labels != labelled):
                continue
            while ids and ids[0] == pad:
                ids = ids[1:]
            while ids and ids[-1] == pad:
                ids = ids[:-1]
            out.append(tokenizer.decode(ids))
        return out


def test_a_recipe_on_a_saved_chat_model_trains_evaluates_and_runs_grpo_on_templated_prompts(
    chat_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = ForwardSpy(monkeypatch)
    recipe = parse_recipe(chat_recipe(chat_model_dir))
    assert recipe.models[0].pretrained
    Study(recipe, tmp_path, log=spy.log, device="cpu").run()

    run = tmp_path / "chat"
    (data_dir,) = (run / "data").iterdir()
    splits = datasets.load_from_disk(str(data_dir))
    train_prompts = {chatml(p) for p in splits["train"]["prompt"]}
    test_prompts = {chatml(p) for p in splits["test"]["prompt"]}
    tokenizer = load_tokenizer(chat_model_dir)

    sft = spy.texts("[train]", tokenizer, labelled=True)  # not verify_packing's random rows
    assert sft, "SFT ran no forward pass"
    for row in sft:  # packed rows: each starts with a templated prompt, then the think block
        assert any(row.startswith(p + "<think>\n") for p in train_prompts), row[:200]

    evaluated = spy.texts("[eval]", tokenizer)
    assert evaluated and set(evaluated) <= test_prompts  # prefill rows: exactly the templated prompts
    assert len(set(evaluated)) == 3

    rl = spy.texts("[rl]", tokenizer)
    assert any(row in train_prompts for row in rl)  # TRL's generation prefill: the templated prompt
    assert any(row in test_prompts for row in rl)  # the held-out check: templated too
    assert all(any(row.startswith(p) for p in train_prompts | test_prompts) for row in rl)

    results = json.loads((run / "results.json").read_text())
    assert set(results["models"]) == {"chat-k1", "chat-k1-grpo"}
    assert results["models"]["chat-k1-grpo"]["rl"]["steps"] == 1
    trained, tok = load_model(run / "models" / "chat-k1-grpo", device="cpu")
    assert tok.chat_template == CHATML and trained.config.vocab_size == len(tokenizer)


def test_the_paper_k_sweep_validates_with_a_stand_in_model_and_measures_its_templated_prompts(
    chat_model_dir: Path,
) -> None:
    """With a model directory in place, validation measures prompts with its tokenizer and template."""
    from backtrack.recipes import prompt_tokens_bound

    path = Path(__file__).resolve().parent.parent / "recipes" / "paper-k-sweep.toml"
    data = tomllib.loads(path.read_text())
    for model in data["models"]:
        model["size"] = str(chat_model_dir)
    recipe = parse_recipe(data, "paper-k-sweep (stand-in model)")
    countdown = recipe.model("countdown-k1")
    problem = get_task("countdown").generate(random.Random(0))
    one_prompt = len(
        load_tokenizer(chat_model_dir)(chatml(get_task("countdown").prompt(problem)))["input_ids"]
    )
    assert prompt_tokens_bound(recipe, countdown) >= one_prompt
    short = {**data, "models": [{**data["models"][0], "context": 300}]}
    with pytest.raises(RecipeError, match="need a context of"):
        parse_recipe(short)


def test_a_missing_saved_model_still_validates_and_a_mistyped_size_does_not(tmp_path: Path) -> None:
    data = chat_recipe(tmp_path / "not-there")
    assert parse_recipe(data).models[0].size.endswith("not-there")
    data["models"][0]["size"] = "17m"
    with pytest.raises(RecipeError, match="'17m' is neither a named size nor a saved model folder"):
        parse_recipe(data)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI; its stdout (the test fails with its stderr on a non-zero exit)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    return out


def test_the_cli_trains_evaluates_and_runs_grpo_from_a_saved_chat_model(
    chat_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, sft, rl = tmp_path / "data", tmp_path / "sft", tmp_path / "rl"
    options = [f"-c{k}={v}" for k, v in SMALL_COUNTDOWN.items()]
    cli(capsys, "generate", "countdown", "--n", "60", "--format", "direct", "--out", str(data), *options)
    cli(capsys, "train", "sft", "--data", str(data), "--model", str(chat_model_dir), "--out", str(sft),
        "--context", "1024", "--max-steps", "1", "--batch-size", "2", "--lora-r", "2")  # fmt: skip
    assert not (sft / "adapter_config.json").exists()  # saved merged
    out = cli(capsys, "eval", "--model", str(sft), "--data", str(data), "--strategy", "parallel",
              "--samples", "1", "--max-new-tokens", "4", "--limit", "2", "--device", "cpu")  # fmt: skip
    assert "solved" in out
    cli(capsys, "rl", "grpo", "--model", str(sft), "--data", str(data), "--out", str(rl), "--steps", "1",
        "--num-generations", "2", "--batch-size", "2", "--max-completion-length", "4", "--eval-every", "0",
        "--save-steps", "0", "--device", "cpu")  # fmt: skip
    assert load_tokenizer(rl).chat_template == CHATML


def test_lora_trains_adapters_only_and_saves_a_merged_model_that_evaluates_and_runs_grpo(
    chat_model_dir: Path, tmp_path: Path
) -> None:
    """With ``lora_r`` only the adapters on the linear layers train: the embedding (not a LoRA target)
    is bit for bit the pretrained one, the attention weights moved, and the saved models are plain
    (merged) models that evaluation and GRPO load."""
    data = chat_recipe(chat_model_dir)
    model = data["models"][0]
    model["train"].update(lora_r=4, learning_rate=5e-2)
    model["rl"].update(lora_r=4)
    Study(parse_recipe(data), tmp_path, log=lambda _: None, device="cpu").run()
    original, _ = load_model(chat_model_dir, device="cpu")
    for stage in ("chat-k1", "chat-k1-grpo"):
        saved = tmp_path / "chat" / "models" / stage
        assert not (saved / "adapter_config.json").exists()
        trained, _ = load_model(saved, device="cpu")
        before, after = original.state_dict(), trained.state_dict()
        assert set(after) == set(before)  # no lora_A/lora_B left: merged
        assert torch.equal(after["model.embed_tokens.weight"], before["model.embed_tokens.weight"])
        assert not torch.equal(
            after["model.layers.0.self_attn.q_proj.weight"], before["model.layers.0.self_attn.q_proj.weight"]
        )
    results = json.loads((tmp_path / "chat" / "results.json").read_text())
    assert set(results["models"]) == {"chat-k1", "chat-k1-grpo"}
