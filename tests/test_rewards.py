"""Rewards for GRPO: the verifier's binary and format schemes on known answers, the guard that turns a
broken reward into 0.0 for just the broken completion (with a warning), and the name resolver."""

from __future__ import annotations

import logging
import math
import random
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backtrack.data import split_prompt
from backtrack.tasks import get_task
from backtrack.tasks.countdown import CountdownProblem, steps_to_expression
from backtrack.traces import render
from backtrack.train.rewards import (
    FORMAT_REWARD,
    RewardError,
    expected_kinds,
    resolve_reward,
    safe_reward,
    verifier_reward,
    well_formed,
)

TASK = get_task("countdown", n_numbers=3, max_number=9, min_target=1, max_target=30)
PROBLEM = CountdownProblem((8, 3, 5), 23)  # 3*5+8
SOLUTION = TASK.solve(PROBLEM)
GOOD_EXPRESSION = steps_to_expression(PROBLEM.numbers, SOLUTION) if SOLUTION else ""
LOGGER = "backtrack.train.rewards"


def completion_of(problem: CountdownProblem, fmt: str) -> str:
    """The dataset completion for ``problem`` in ``fmt`` (the text after the prompt)."""
    trace = render("countdown", problem, fmt, rng=random.Random(0))
    return split_prompt(TASK, problem, fmt, trace.text)[1]


def score(fn, completions: list[str], problem: CountdownProblem = PROBLEM, **extra) -> list[float]:
    """Call a reward as TRL does: one row per completion, columns as keyword lists."""
    n = len(completions)
    return fn(
        prompts=["p"] * n,
        completions=completions,
        numbers=[list(problem.numbers)] * n,
        target=[problem.target] * n,
        **extra,
    )


def test_the_fixture_problem_is_solvable() -> None:
    assert SOLUTION and TASK.verify(PROBLEM, GOOD_EXPRESSION).ok


# ---- the verifier as a reward -----------------------------------------------------------------
WRONG_TRACE = (  # well formed: every line in the format and the goal claimed, but 8+3 is not 12
    "Exploring Operation: 8+3=12, Resulting Numbers: [5, 12]\n"
    "Generated Node #0,0: 23:[5, 12] Operation: 8+3=12\n"
    "Moving to Node #0,0\n"
    "Current State: 23:[5, 12], Operations: ['8+3=12']\n"
    "Exploring Operation: 5+12=23, Resulting Numbers: [23]\n"
    "23,23 equal: Goal Reached\n"
)


@pytest.mark.parametrize(
    ("text", "binary", "formatted"),
    [
        pytest.param(completion_of(PROBLEM, "direct"), 1.0, 1.0, id="correct-trace"),
        pytest.param(f"<answer>{GOOD_EXPRESSION}</answer>", 1.0, 1.0, id="correct-expression"),
        pytest.param(WRONG_TRACE, 0.0, FORMAT_REWARD, id="wrong-trace-claiming-the-goal"),
        pytest.param("<answer>8+3+5</answer>", 0.0, FORMAT_REWARD, id="wrong-expression"),
        pytest.param("8*3=24\n24-5=19", 0.0, FORMAT_REWARD, id="wrong-steps"),
        pytest.param(WRONG_TRACE.replace("23,23 equal: Goal Reached\n", ""), 0.0, 0.0, id="trace-no-goal"),
        pytest.param(WRONG_TRACE + "banana\n", 0.0, FORMAT_REWARD, id="junk-after-the-goal-is-not-read"),
        pytest.param("banana\n" + WRONG_TRACE, 0.0, 0.0, id="junk-line-in-trace"),
        pytest.param("Exploring Operation: 8+3", 0.0, 0.0, id="truncated"),
        pytest.param("", 0.0, 0.0, id="empty"),
        pytest.param("hello world", 0.0, 0.0, id="garbage"),
        pytest.param("<answer>23</answer>", 0.0, 0.0, id="a-bare-number-is-no-answer"),
    ],
)
def test_binary_and_format_rewards(text: str, binary: float, formatted: float) -> None:
    assert score(verifier_reward(TASK), [text]) == [binary]
    assert score(verifier_reward(TASK, "format"), [text]) == [formatted]


def test_a_batch_is_scored_row_by_row() -> None:
    other = CountdownProblem((2, 3, 4), 24)
    rewards = verifier_reward(TASK)(
        prompts=["a", "b"],
        completions=["<answer>2*3*4</answer>", "<answer>2*3*4</answer>"],
        numbers=[[2, 3, 4], list(PROBLEM.numbers)],
        target=[24, PROBLEM.target],
        trainer_state=None,  # TRL's own keywords are not columns
        log_metric=lambda name, value: None,
    )
    assert TASK.verify(other, "2*3*4").ok
    assert rewards == [1.0, 0.0]


def test_expected_kinds_restrict_what_counts_as_well_formed() -> None:
    kinds = expected_kinds(TASK, [completion_of(PROBLEM, "direct")])
    assert kinds == {"trace"}
    reward = verifier_reward(TASK, "format", kinds=kinds)
    assert score(reward, [WRONG_TRACE, "<answer>8+3+5</answer>"]) == [FORMAT_REWARD, 0.0]
    # a correct answer is correct in any form: only the 0.1 for form depends on the kind
    assert score(reward, [f"<answer>{GOOD_EXPRESSION}</answer>"]) == [1.0]


def test_backtrack_k_answers_are_well_formed_when_they_give_an_expression() -> None:
    text = completion_of(PROBLEM, "backtrack-k")
    assert expected_kinds(TASK, [text]) == {"think"}
    wrong = text.rsplit("<answer>", 1)[0] + "<answer>8+3+5</answer>\n"
    assert well_formed(TASK, PROBLEM, wrong)
    assert not well_formed(TASK, PROBLEM, text.split("<answer>")[0])  # no answer given


def test_sudoku_format_reward() -> None:
    sudoku = get_task("sudoku")
    problem = sudoku.generate(random.Random(0))
    row = {"puzzle": [problem.puzzle], "solution": [problem.solution]}
    wrong = problem.solution[1] + problem.solution[0] + problem.solution[2:]  # two cells swapped
    reward = verifier_reward(sudoku, "format")
    texts = [problem.solution, wrong, problem.puzzle, "12345"]
    rewards = [reward(prompts=["p"], completions=[t], **row)[0] for t in texts]
    assert rewards == [1.0, FORMAT_REWARD, 0.0, 0.0]


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="binary, format"):
        verifier_reward(TASK, "partial")


@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_any_mutated_correct_answer_earns_nothing(seed: int, data: st.DataObject) -> None:
    """Change one number's digits (replace a digit, delete a character, insert a digit) in a correct
    expression: the numbers used no longer match the problem's, so the binary reward must be 0."""
    problem = TASK.generate(random.Random(seed))
    answer = steps_to_expression(problem.numbers, TASK.solve(problem))
    reward = verifier_reward(TASK)
    assert score(reward, [f"<answer>{answer}</answer>"], problem) == [1.0]
    position = data.draw(st.integers(0, len(answer) - 1), label="position")
    how = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="mutation")
    digit = data.draw(st.sampled_from("0123456789"), label="digit")
    if how == "replace":
        if not answer[position].isdigit() or answer[position] == digit:
            return
        mutated = answer[:position] + digit + answer[position + 1 :]
    elif how == "delete":
        mutated = answer[:position] + answer[position + 1 :]
    else:
        mutated = answer[:position] + digit + answer[position:]
    assert score(reward, [f"<answer>{mutated}</answer>"], problem) == [0.0], mutated


# ---- safe_reward ------------------------------------------------------------------------------
def fragile(prompts, completions, **kwargs):
    """Raises on any batch holding "boom"; otherwise rewards the length of each completion."""
    if any("boom" in c for c in completions):
        raise RuntimeError("cannot score boom")
    return [float(len(c)) for c in completions]


def test_a_raising_reward_costs_only_the_completion_it_fails_on(caplog: pytest.LogCaptureFixture) -> None:
    reward = safe_reward(fragile)
    metrics: dict[str, float] = {}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        values = reward(
            prompts=["p"] * 3,
            completions=["ab", "boom", "abcd"],
            log_metric=metrics.__setitem__,
        )
    assert values == [2.0, 0.0, 4.0]
    warnings = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 1 and "completion 1 " in warnings[0] and "RuntimeError" in warnings[0]
    assert reward.failures == 1 and reward.scored == 3
    assert metrics == {"rewards/fragile/failures": pytest.approx(1 / 3)}


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        ("1.0", "str"),
        (None, "None"),
        ([1.0], "list"),
        (object(), "not a number"),
    ],
)
def test_garbage_values_become_zero_with_a_warning(bad, why, caplog: pytest.LogCaptureFixture) -> None:
    reward = safe_reward(lambda prompts, completions, **kw: [0.5, bad, 1])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        values = reward(prompts=["p"] * 3, completions=["a", "b", "c"])
    assert values == [0.5, 0.0, 1.0]
    warnings = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 1 and "completion 1 " in warnings[0] and why in warnings[0]
    assert reward.failures == 1


def test_numbers_of_every_kind_are_accepted() -> None:
    import torch

    reward = safe_reward(
        lambda prompts, completions, **kw: [True, False, np.float32(0.25), torch.tensor(2.0)]
    )
    assert reward(prompts=["p"] * 4, completions=["a"] * 4) == [1.0, 0.0, 0.25, 2.0]
    as_array = safe_reward(lambda prompts, completions, **kw: np.array([0.5, 1.5]))
    assert as_array(prompts=["p"] * 2, completions=["a", "b"]) == [0.5, 1.5]
    assert reward.failures == as_array.failures == 0


def test_none_passes_through_where_allowed() -> None:
    reward = safe_reward(lambda prompts, completions, **kw: [None, 1.0], allow_none=True)
    assert reward(prompts=["p"] * 2, completions=["a", "b"]) == [None, 1.0]
    assert reward.failures == 0


@pytest.mark.parametrize(
    ("returned", "match"),
    [([1.0], "returned 1 rewards for 3 completions"), (1.0, "returned float"), ("abc", "returned str")],
)
def test_a_return_that_cannot_be_matched_to_completions_is_an_error(returned, match) -> None:
    reward = safe_reward(lambda prompts, completions, **kw: returned, name="mine")
    with pytest.raises(RewardError, match=match):
        reward(prompts=["p"] * 3, completions=["a", "b", "c"])


def test_many_failures_are_summarised(caplog: pytest.LogCaptureFixture) -> None:
    reward = safe_reward(lambda prompts, completions, **kw: [math.nan] * len(completions))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert reward(prompts=["p"] * 20, completions=["a"] * 20) == [0.0] * 20
    warnings = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 9 and "12 more" in warnings[-1]
    assert reward.reasons == {"returned nan": 20}


def test_safe_reward_keeps_the_name_and_is_idempotent() -> None:
    reward = safe_reward(fragile)
    assert reward.__name__ == "fragile" and safe_reward(reward) is reward
    assert safe_reward(verifier_reward(TASK, "format")).__name__ == "verifier_format"
    with pytest.raises(TypeError, match="callable"):
        safe_reward(3)  # type: ignore[arg-type]

    async def later(prompts, completions, **kw):
        return [0.0] * len(completions)

    with pytest.raises(TypeError, match="async"):
        safe_reward(later)


# ---- resolving names --------------------------------------------------------------------------
def test_resolve_names_and_import_paths(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_rewards.py").write_text(
        textwrap.dedent(
            """
            def short(prompts, completions, **kwargs):
                return [1.0 / (1 + len(c)) for c in completions]

            NOT_CALLABLE = 3
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_reward("binary", TASK).__name__ == "verifier"
    assert resolve_reward("format", TASK).__name__ == "verifier_format"
    short = resolve_reward("my_rewards:short", TASK)
    assert short(prompts=["p"], completions=["abc"]) == [0.25]
    assert resolve_reward(fragile, TASK) is fragile
    for spec, match in [
        ("partial", "unknown reward"),
        ("no_such_module_here:fn", "cannot import"),
        ("my_rewards:missing", "no reward function"),
        ("my_rewards:NOT_CALLABLE", "not a reward function"),
        ("", "scheme name"),
    ]:
        with pytest.raises(ValueError, match=match):
            resolve_reward(spec, TASK)
