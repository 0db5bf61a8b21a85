"""GRPO: a run logs what it must (reward mean/std, equal-reward groups, held-out solved share) to
metrics.jsonl, saves a loadable model, resumes after a stop or a kill without losing or repeating a
step, refuses to overwrite a finished run, lifts a reward that a policy can learn, and runs from the
command line.

Everything uses the ``tiny`` model, a 3-number CountDown set of ~120 rows and completions of at most
16 tokens, so each training call takes a second or two on one CPU thread.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import pytest
import torch
from transformers import TrainerCallback

from backtrack.cli import main
from backtrack.data import build_dataset
from backtrack.models import build_model, load_model
from backtrack.tasks import get_task
from backtrack.tokenizer import build_tokenizer
from backtrack.train.grpo import GRPOSettings, suggest_max_completion_length, train_grpo

SMALL_COUNTDOWN = dict(n_numbers=3, max_number=9, min_target=1, max_target=30)
TASK = get_task("countdown", **SMALL_COUNTDOWN)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core machine a second OpenMP thread that gets descheduled
    stalls every op of token-by-token generation (tens of times slower under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return build_tokenizer("countdown")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("grpo-data") / "countdown"
    build_dataset("countdown", 120, 0, "direct", out, task_config=SMALL_COUNTDOWN, progress=False, workers=1)
    return out


def tiny_model(tokenizer: Any, seed: int = 0) -> Any:
    return build_model("tiny", tokenizer, 512, seed=seed)


def settings(out: Path, **overrides: Any) -> GRPOSettings:
    values: dict[str, Any] = dict(
        output_dir=out,
        max_steps=3,
        per_device_batch_size=8,
        num_generations=4,
        max_completion_length=16,
        learning_rate=1e-2,
        eval_every=2,
        eval_problems=4,
        save_steps=None,
        bf16=False,
        progress=False,
    )
    values.update(overrides)
    return GRPOSettings(**values)


def digit_reward(tokenizer: Any):
    """A reward a random policy can learn fast: the share of a completion's tokens that are digits."""
    digits = set(tokenizer.convert_tokens_to_ids(list("0123456789")))

    def digits_share(prompts, completions, completion_ids, **kwargs):
        return [sum(t in digits for t in ids) / max(len(ids), 1) for ids in completion_ids]

    return digits_share


def metric_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def weights_difference(a: Any, b: Any) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return max((sa[k] - sb[k]).abs().max().item() for k in sa)


# ---- a run --------------------------------------------------------------------------------------
def test_a_run_logs_metrics_and_saves_a_loadable_model(
    tokenizer: Any, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = train_grpo(tiny_model(tokenizer), tokenizer, data_dir, TASK, settings(out, save_steps=2))
    assert result.steps == result.steps_this_run == 3 and result.resumed_from is None
    assert [step for step, _ in result.rewards] == [1, 2, 3]
    assert [step for step, _ in result.eval_solved] == [0, 2, 3]  # before training, every 2, the last
    assert result.reward_failures == {"verifier": 0}

    lines = metric_lines(out)
    assert [line["step"] for line in lines] == [0, 1, 2, 3]
    for line in lines[1:]:
        for key in (
            "reward",
            "reward_std",
            "equal_reward_groups",
            "frac_reward_zero_std",
            "rewards/verifier/mean",
            "rewards/verifier/failures",
            "entropy",
            "completions/mean_length",
            "completions/clipped_ratio",
        ):
            assert isinstance(line[key], float), (key, line)
        assert 0.0 <= line["equal_reward_groups"] <= 1.0
        assert "kl" not in line  # beta = 0: TRL computes no KL
    assert {"eval/solved", "eval/problems"} <= set(lines[0]) and lines[0]["eval/problems"] == 4
    assert result.metrics == lines

    saved = json.loads((out / "grpo_result.json").read_text())
    assert saved["steps"] == 3 and saved["max_completion_length"] == 16
    assert json.loads((out / "grpo_settings.json").read_text())["num_generations"] == 4
    assert (out / "checkpoint-2").is_dir()
    model, loaded_tokenizer = load_model(out)
    assert loaded_tokenizer.eos_token_id == tokenizer.eos_token_id
    prompt = loaded_tokenizer("Current State: 23:[8, 3, 5], Operations: []\n", return_tensors="pt")
    assert model.generate(**prompt, max_new_tokens=4, do_sample=False).shape[1] > prompt["input_ids"].shape[1]


def test_the_reward_rises_when_the_policy_can_earn_it(tokenizer: Any, data_dir: Path, tmp_path: Path) -> None:
    result = train_grpo(
        tiny_model(tokenizer),
        tokenizer,
        data_dir,
        TASK,
        settings(
            tmp_path / "rise",
            max_steps=16,
            per_device_batch_size=32,
            num_generations=8,
            max_completion_length=8,
            eval_every=None,
        ),
        reward_funcs=[digit_reward(tokenizer)],
    )
    rewards = [value for _, value in result.rewards]
    first, last = sum(rewards[:4]) / 4, sum(rewards[-4:]) / 4
    assert last > 0.3 and last > 3 * first, rewards  # measured: ~0.06 -> ~0.6 for seeds 0-3


def test_train_problems_limits_the_prompt_pool(tokenizer: Any, data_dir: Path, tmp_path: Path) -> None:
    seen: list[str] = []

    def record(prompts, completions, **kwargs):
        seen.extend(prompts)
        return [0.0] * len(prompts)

    train_grpo(
        tiny_model(tokenizer),
        tokenizer,
        data_dir,
        TASK,
        settings(tmp_path / "pool", train_problems=2, eval_every=None),
        reward_funcs=[record],
    )
    first_two = set(datasets.load_from_disk(str(data_dir))["train"]["prompt"][:2])
    assert len(seen) == 3 * 8 and set(seen) == first_two  # 3 steps x 8 completions, two prompts only
    with pytest.raises(ValueError, match="train_problems=100000 but the train split has"):
        big = settings(tmp_path / "big", train_problems=100000)
        train_grpo(tiny_model(tokenizer), tokenizer, data_dir, TASK, big)


def test_kl_is_logged_against_the_starting_policy_when_beta_is_positive(
    tokenizer: Any, data_dir: Path, tmp_path: Path
) -> None:
    model = tiny_model(tokenizer)
    start = tiny_model(tokenizer)  # same seed: the same weights
    out = tmp_path / "kl"
    result = train_grpo(
        model,
        tokenizer,
        data_dir,
        TASK,
        settings(out, beta=0.05, eval_every=None),
        reward_funcs=digit_reward(tokenizer),
    )
    kl = [line["kl"] for line in result.metrics]
    assert len(kl) == 3 and kl[0] == pytest.approx(0.0, abs=1e-6) and kl[-1] > 0.0
    reference, _ = load_model(out / "initial")
    assert weights_difference(reference, start) == 0.0
    assert weights_difference(model, start) > 0.0
    assert model.config._name_or_path == ""  # the model's own path is put back


def test_failing_rewards_are_counted_and_logged(tokenizer: Any, data_dir: Path, tmp_path: Path) -> None:
    def first_is_nan(prompts, completions, **kwargs):
        return [float("nan")] + [1.0] * (len(completions) - 1)

    result = train_grpo(
        tiny_model(tokenizer),
        tokenizer,
        data_dir,
        TASK,
        settings(tmp_path / "nan", max_steps=2, eval_every=None),
        reward_funcs=[first_is_nan, digit_reward(tokenizer)],
    )
    assert result.reward_failures == {"first_is_nan": 2, "digits_share": 0}  # one per generation batch
    assert [line["rewards/first_is_nan/failures"] for line in result.metrics] == [1 / 8, 1 / 8]


def test_the_format_scheme_trains(tokenizer: Any, data_dir: Path, tmp_path: Path) -> None:
    result = train_grpo(
        tiny_model(tokenizer),
        tokenizer,
        data_dir,
        TASK,
        settings(tmp_path / "fmt", max_steps=1, reward="format"),
    )
    assert "rewards/verifier_format/mean" in result.metrics[-1]


# ---- resume -------------------------------------------------------------------------------------
class StopAfter(TrainerCallback):
    """Ends training gracefully after ``step`` (as a user's early stop would)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            control.should_training_stop = True


class KillAfterLogging(TrainerCallback):
    """Dies once ``step`` is logged, after the last checkpoint: that step is in metrics.jsonl but not
    in any checkpoint, as when a job is preempted between checkpoints."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            raise KeyboardInterrupt(f"killed after logging step {self.step}")


def test_resume_after_a_stop_or_a_kill_loses_no_step(tokenizer: Any, data_dir: Path, tmp_path: Path) -> None:
    run = dict(max_steps=4, save_steps=2, eval_every=2)
    reward = digit_reward(tokenizer)
    straight = tiny_model(tokenizer)
    full = train_grpo(
        straight, tokenizer, data_dir, TASK, settings(tmp_path / "straight", **run), reward_funcs=reward
    )

    stopped = train_grpo(
        tiny_model(tokenizer),
        tokenizer,
        data_dir,
        TASK,
        settings(tmp_path / "stopped", **run),
        reward_funcs=reward,
        callbacks=[StopAfter(2)],
    )
    assert stopped.steps == 2
    with pytest.raises(KeyboardInterrupt):
        train_grpo(
            tiny_model(tokenizer),
            tokenizer,
            data_dir,
            TASK,
            settings(tmp_path / "killed", **run),
            reward_funcs=reward,
            callbacks=[KillAfterLogging(3)],
        )
    assert [line["step"] for line in metric_lines(tmp_path / "killed")] == [0, 1, 2, 3]

    for name in ("stopped", "killed"):
        restarted = tiny_model(tokenizer, seed=1)  # a restarted job builds a model; the checkpoint wins
        resumed = train_grpo(
            restarted,
            tokenizer,
            data_dir,
            TASK,
            settings(tmp_path / name, resume=True, **run),
            reward_funcs=reward,
        )
        assert resumed.resumed_from is not None and resumed.resumed_from.endswith("checkpoint-2"), name
        assert resumed.steps == 4 and resumed.steps_this_run == 2, name
        assert [line["step"] for line in metric_lines(tmp_path / name)] == [0, 1, 2, 3, 4], name
        assert resumed.rewards == full.rewards and resumed.eval_solved == full.eval_solved, name
        assert weights_difference(restarted, straight) == 0.0, name


def test_a_finished_run_is_not_overwritten_by_accident(
    tokenizer: Any, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    train_grpo(tiny_model(tokenizer), tokenizer, data_dir, TASK, settings(out, max_steps=1, save_steps=1))
    with pytest.raises(ValueError, match="overwrite=True"):
        train_grpo(tiny_model(tokenizer), tokenizer, data_dir, TASK, settings(out, max_steps=2))
    with pytest.raises(ValueError, match="num_generations: 4 -> 2"):
        train_grpo(
            tiny_model(tokenizer), tokenizer, data_dir, TASK, settings(out, num_generations=2, resume=True)
        )
    again = train_grpo(
        tiny_model(tokenizer), tokenizer, data_dir, TASK, settings(out, max_steps=2, overwrite=True)
    )
    assert again.steps_this_run == 2 and again.resumed_from is None
    assert [line["step"] for line in metric_lines(out)] == [0, 1, 2]
    assert not (out / "checkpoint-1").exists()


def test_a_directory_holding_another_model_is_refused(tokenizer: Any, data_dir: Path, tmp_path: Path) -> None:
    model = tiny_model(tokenizer)
    model.save_pretrained(tmp_path / "sft")
    with pytest.raises(ValueError, match="a saved model"):
        train_grpo(model, tokenizer, data_dir, TASK, settings(tmp_path / "sft"))
    with pytest.raises(ValueError, match="no checkpoint to resume"):
        train_grpo(model, tokenizer, data_dir, TASK, settings(tmp_path / "sft", resume=True))


def test_a_missing_pad_token_becomes_eos(data_dir: Path, tmp_path: Path) -> None:
    tokenizer = build_tokenizer("countdown")
    tokenizer.pad_token = None
    train_grpo(
        tiny_model(tokenizer), tokenizer, data_dir, TASK, settings(tmp_path, max_steps=1, eval_every=None)
    )
    assert tokenizer.pad_token == tokenizer.eos_token
    _, saved = load_model(tmp_path)
    assert saved.pad_token_id == saved.eos_token_id


# ---- checks before training ---------------------------------------------------------------------
def test_bad_settings_name_every_problem() -> None:
    with pytest.raises(ValueError) as error:
        GRPOSettings(
            output_dir="",
            num_generations=1,
            temperature=0.0,
            loss_type="ppo",
            reward="nope",
            beta=-1,
            train_problems=0,
        )
    message = str(error.value)
    fields = ("output_dir", "num_generations", "temperature", "loss_type", "reward", "beta", "train_problems")
    for field in fields:
        assert field in message, field
    assert "\n" not in message


def test_groups_must_fit_the_batch(tokenizer: Any, data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of num_generations"):
        train_grpo(
            tiny_model(tokenizer), tokenizer, data_dir, TASK, settings(tmp_path, per_device_batch_size=6)
        )


def test_prompts_must_be_text_and_carry_the_problem(tokenizer: Any, tmp_path: Path) -> None:
    chat = datasets.Dataset.from_dict(
        {"prompt": [[{"role": "user", "content": "hi"}]], "numbers": [[1, 2]], "target": [3]}
    )
    with pytest.raises(ValueError, match="plain text"):
        train_grpo(tiny_model(tokenizer), tokenizer, chat, TASK, settings(tmp_path))
    bare = datasets.Dataset.from_dict({"prompt": ["Current State: 3:[1, 2], Operations: []\n"]})
    with pytest.raises(ValueError, match="cannot rebuild a countdown problem"):
        train_grpo(tiny_model(tokenizer), tokenizer, bare, TASK, settings(tmp_path))


def test_suggested_completion_length_covers_the_data(tokenizer: Any, data_dir: Path) -> None:
    train = datasets.load_from_disk(str(data_dir))["train"]
    longest = max(len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in train["completion"]) + 1
    length = suggest_max_completion_length(data_dir, tokenizer)
    assert length >= longest and length % 16 == 0
    model = tiny_model(tokenizer)
    model.config.max_position_embeddings = 64
    longest_prompt = max(len(tokenizer(p)["input_ids"]) for p in train["prompt"])
    assert suggest_max_completion_length(data_dir, tokenizer, model=model) == 64 - longest_prompt


# ---- command line -------------------------------------------------------------------------------
def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope="module")
def saved_model(tokenizer: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("grpo-model") / "tiny"
    tiny_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_rl_grpo_from_the_command_line(
    capsys: pytest.CaptureFixture[str], saved_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "grpo"
    argv = ("rl", "grpo", "--model", str(saved_model), "--data", str(data_dir), "--out", str(out))
    small = ("--steps", "2", "--batch-size", "8", "--num-generations", "4", "--max-completion-length", "16")
    code, printed, err = run_cli(capsys, *argv, *small, "--eval-problems", "4", "--lr", "1e-3")
    assert code == 0, err
    summary = json.loads(printed.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["extra"]["rewards"] == ["verifier"]
    assert (out / "model.safetensors").is_file() and (out / "metrics.jsonl").is_file()
    code, _, err = run_cli(capsys, *argv, *small)  # a second run into the same directory
    assert code == 2 and err.startswith("error: ") and "--overwrite" in err
    code, printed, _ = run_cli(capsys, *argv, *small, "--steps", "3", "--resume", "--eval-every", "0")
    assert code == 0 and json.loads(printed.strip().splitlines()[-1])["steps_this_run"] == 1


@pytest.mark.parametrize(
    "extra",
    [
        ("--steps", "0"),
        ("--reward", "partial"),
        ("--reward", "no_such_module_anywhere:fn"),
        ("--task-option", "bogus=1"),
        ("--task", "sudoku"),
        ("--batch-size", "6", "--num-generations", "4"),
        ("--model", "/nonexistent/model"),
        ("--data", "/nonexistent/data"),
        ("--beta", "-1"),
        ("--steps", "many"),
    ],
)
def test_rl_grpo_bad_arguments_get_one_error_line(
    capsys: pytest.CaptureFixture[str],
    saved_model: Path,
    data_dir: Path,
    tmp_path: Path,
    extra: tuple[str, ...],
) -> None:
    argv = ["rl", "grpo", "--model", str(saved_model), "--data", str(data_dir), "--out", str(tmp_path / "x")]
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out
    assert not (tmp_path / "x" / "model.safetensors").exists()
