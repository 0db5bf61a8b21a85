"""The contract every registered task and each of its trace formats keeps (see ``backtrack.tasks.base``).

Parametrized over the registry, so a new task is covered as soon as it is registered: generate ->
render -> parse -> verify, determinism, backtrack counts, mutated answers rejected, the format reward's
0 / 0.1 / 1, answer keys that agree across forms, and a tokenizer that round-trips every text.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest

from backtrack.data import split_prompt
from backtrack.tasks import TASK_NAMES, Task
from backtrack.tasks import get_task as _get_task
from backtrack.tokenizer import build_tokenizer as _build_tokenizer
from backtrack.traces import TraceFormat
from backtrack.train.rewards import FORMAT_REWARD, verifier_reward

SEEDS = range(6)
# Options a format needs to show what it is for; formats of the same name take the same options.
FORMAT_OPTIONS: dict[str, dict[str, Any]] = {"backtrack-k": {"k": 2}}
# Configurations checked besides the default one, written "task:option=value,..." (values as text).
OTHER_CONFIGS = ("sudoku:box=2x3", "sudoku:box=2x2")
TASKS = (*TASK_NAMES, *OTHER_CONFIGS)
CASES = [(name, fmt) for name in TASKS for fmt in _get_task(name.split(":")[0]).formats()]
GARBAGE = ("", "   \n", "I do not know.", "<answer></answer>", "\x00\x01\x02 %%% ((((")


def task_config(case: str) -> tuple[str, dict[str, str]]:
    """The task name and options of a case of ``TASKS``."""
    name, _, options = case.partition(":")
    return name, dict(item.split("=", 1) for item in options.split(",") if item)


def get_task(case: str, **options: Any) -> Any:
    """The task of a case of ``TASKS`` ("sudoku" or "sudoku:box=2x3"), with ``options`` on top."""
    name, config = task_config(case)
    return _get_task(name, **{**config, **options})


def build_tokenizer(case: str) -> Any:
    name, config = task_config(case)
    return _build_tokenizer(name, **config)


@cache
def rendered(name: str, fmt: str) -> list[tuple[Any, Any]]:
    """(problem, trace) for each seed, rendered once per test session."""
    task = get_task(name)
    out = []
    for seed in SEEDS:
        problem = task.generate(random.Random(seed))
        trace = task.formats()[fmt].render(problem, rng=random.Random(seed), **FORMAT_OPTIONS.get(fmt, {}))
        out.append((problem, trace))
    return out


def other_problem(task: Any, problem: Any) -> Any:
    """A problem with different content and a different answer (for answers that belong elsewhere:
    where answers are few, a count or a name, different problems often share one)."""
    answer = task.reference_answer(problem)
    for seed in range(100, 200):
        other = task.generate(random.Random(seed))
        if task.content_key(other) != task.content_key(problem) and task.reference_answer(other) != answer:
            return other
    raise AssertionError("the generator keeps giving the same problem or the same answer")


def tagged(answer: str) -> str:
    return f"<answer>{answer}</answer>"


@pytest.mark.parametrize("name", TASKS)
def test_task_follows_the_protocol(name: str) -> None:
    task = get_task(name)
    assert isinstance(task, Task)
    assert task.name == task_config(name)[0]
    assert task.formats(), "every task has at least one format"
    for fmt in task.formats().values():
        assert isinstance(fmt, TraceFormat)
    with pytest.raises(ValueError, match="no_such_option"):
        get_task(name, no_such_option=1)
    assert _get_task(task.name, **task.config_dict()).config == task.config
    with pytest.raises(ValueError):
        task.parse_problem("")


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_render_parse_verify(name: str, fmt: str) -> None:
    task = get_task(name)
    trace_format = task.formats()[fmt]
    solved = 0
    for problem, trace in rendered(name, fmt):
        parsed = trace_format.parse(problem, trace.text)
        assert parsed.backtracks == trace.backtracks, parsed.errors[:3]
        assert parsed.valid == trace.solved, parsed.errors[:3]
        verdict = task.verify(problem, trace.text)
        assert verdict.ok == trace.solved, verdict.reason
        assert task.output_kind(trace.text) == verdict.kind
        # What a model writes is the completion, after the dataset's prompt.
        _, completion = split_prompt(task, problem, fmt, trace.text)
        assert task.verify(problem, completion).ok == trace.solved
        assert task.well_formed(problem, completion) or not trace.solved
        solved += trace.solved
    assert solved, f"no {name}/{fmt} trace of {len(SEEDS)} reached the goal"


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_same_seed_same_problem_and_text(name: str, fmt: str) -> None:
    task = get_task(name)
    for seed in SEEDS[:2]:
        problem = task.generate(random.Random(seed))
        again = get_task(name).generate(random.Random(seed))
        assert again == problem and again.to_dict() == problem.to_dict()
        assert task.problem_from_dict(problem.to_dict()) == problem
        assert task.problem_from_dict({**problem.to_dict(), "answer": "x", "prompt": "p"}) == problem
        assert task.content_key(again) == task.content_key(problem)
        assert task.split_of(problem) in ("train", "test")
        options = FORMAT_OPTIONS.get(fmt, {})
        texts = {
            task.formats()[fmt].render(problem, rng=random.Random(seed), **options).text for _ in range(2)
        }
        assert len(texts) == 1


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_mutated_answers_are_rejected(name: str, fmt: str) -> None:
    task = get_task(name)
    for problem, trace in rendered(name, fmt):
        if not trace.solved:
            continue
        lines = trace.text.splitlines(keepends=True)
        truncated = "".join(lines[: len(lines) // 2])
        assert not task.verify(problem, truncated).ok, truncated[-200:]
        elsewhere = task.reference_answer(other_problem(task, problem))
        assert not task.verify(problem, tagged(elsewhere)).ok


@pytest.mark.parametrize("name", TASKS)
def test_reference_answer_verifies_and_keys_agree(name: str) -> None:
    task = get_task(name)
    for fmt in task.formats():
        for problem, trace in rendered(name, fmt):
            if not trace.solved:
                continue
            reference = task.reference_answer(problem, trace)
            assert task.verify(problem, tagged(reference)).ok
            assert task.verify(problem, tagged(task.reference_answer(problem))).ok
            key = task.answer_key(problem, trace.text)
            assert key is not None and key == task.answer_key(problem, tagged(reference)), fmt


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_format_reward_is_0_for_garbage_0_1_for_well_formed_wrong_1_for_correct(name: str, fmt: str) -> None:
    task = get_task(name)
    reward = verifier_reward(task, "format")
    problem, trace = next((p, t) for p, t in rendered(name, fmt) if t.solved)
    wrong = tagged(task.reference_answer(other_problem(task, problem)))
    completions = [*GARBAGE, wrong, trace.text, tagged(task.reference_answer(problem))]
    columns = {key: [value] * len(completions) for key, value in problem.to_dict().items()}
    scores = reward(prompts=[""] * len(completions), completions=completions, **columns)
    assert scores == [0.0] * len(GARBAGE) + [FORMAT_REWARD, 1.0, 1.0]


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_tokenizer_round_trips_every_text(name: str, fmt: str) -> None:
    task = get_task(name)
    tokenizer = build_tokenizer(name)
    for problem, trace in rendered(name, fmt)[:2]:
        for text in (task.prompt(problem), trace.text):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert tokenizer.unk_token_id not in ids
            assert tokenizer.decode(ids, skip_special_tokens=True) == text
