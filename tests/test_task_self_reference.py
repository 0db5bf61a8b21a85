"""self_reference: reasoning-gym items read into our problem, an exhaustive count, an exact verifier."""

from __future__ import annotations

import json
import random
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from answer_task_checks import ANY_TEXT, assert_verdict, check_runs_nothing
from backtrack.tasks import get_task
from backtrack.tasks.self_reference import SelfReference, SelfReferenceProblem
from backtrack.tasks.self_reference.task import problem_from_question, reasoning_gym_item

TASK = get_task("self_reference")
PROBLEMS = [TASK.generate(random.Random(seed)) for seed in range(60)]
# reasoning-gym's item 0 of seed 5: "At least 4 ... true", "At most 0 ... false", "Exactly 5 ... true",
# "Exactly 2 ... false"; its answer is 2.
EXAMPLE = SelfReferenceProblem(4, 0, 5, 2)
PRIMES = {2, 3, 5, 7}


def count_by_hand(p: SelfReferenceProblem) -> int:
    """An independent count: statement by statement, written out."""
    count = 0
    for truth in product((False, True), repeat=7):
        t = sum(truth)
        f = 7 - t
        claims = [
            t >= p.at_least_true,
            f <= p.at_most_false,
            t == p.exactly_true,
            f == p.exactly_false,
            truth[2] ^ truth[3],
            t in PRIMES,
            f in {4, 6},  # the composite numbers up to 7
        ]
        count += list(truth) == claims
    return count


def test_registered_and_options_checked():
    assert isinstance(TASK, SelfReference)
    with pytest.raises(ValueError, match="unknown self_reference option"):
        get_task("self_reference", difficulty=5)


def test_generate_is_deterministic_in_the_rng():
    assert [TASK.generate(random.Random(seed)) for seed in range(60)] == PROBLEMS
    assert len({TASK.content_key(p) for p in PROBLEMS}) >= 40


def test_solver_agrees_with_reasoning_gym_labels_and_a_hand_count():
    assert TASK.reference_answer(EXAMPLE) == "2"
    for seed in range(300):
        item = reasoning_gym_item(seed)
        problem = problem_from_question(item["question"])
        assert TASK.reference_answer(problem) == item["answer"] == str(count_by_hand(problem))


@given(st.integers(0, 7), st.integers(0, 7), st.integers(0, 7), st.integers(0, 7))
def test_solver_agrees_with_a_hand_count_everywhere(a, b, c, d):
    problem = SelfReferenceProblem(a, b, c, d)
    assert len(TASK.solve(problem)) == count_by_hand(problem)


def test_verify_accepts_the_reference_and_the_direct_trace():
    fmt = TASK.formats()["direct"]
    for problem in PROBLEMS:
        answer = TASK.reference_answer(problem)
        assert TASK.verify(problem, answer).ok
        assert TASK.verify(problem, f"<answer> {answer}. </answer>").ok
        trace = fmt.render(problem)
        assert trace.text.endswith(f"<answer>{answer}</answer>")
        parsed = fmt.parse(problem, trace.text)
        assert parsed.valid and parsed.backtracks == trace.backtracks == 0
        assert TASK.well_formed(problem, trace.text)


def test_verify_rejects_a_mutated_answer_with_a_reason():
    for problem in PROBLEMS:
        count = len(TASK.solve(problem))
        for wrong in (count + 1, count - 1, 128):
            verdict = TASK.verify(problem, f"<answer>{wrong}</answer>")
            assert not verdict.ok and verdict.reason
    verdict = TASK.verify(EXAMPLE, "<answer>two</answer>")
    assert not verdict.ok and "not a whole number" in verdict.reason


def test_verify_rejects_other_problems_answers():
    rejected = total = 0
    answers = [TASK.reference_answer(p) for p in PROBLEMS]
    for problem, answer in zip(PROBLEMS[:20], answers, strict=False):
        for other_answer in set(answers) - {answer}:
            total += 1
            rejected += not TASK.verify(problem, other_answer).ok
    assert total >= 40 and rejected / total >= 0.95


def test_answer_key_and_well_formed():
    assert TASK.answer_key(EXAMPLE, "<answer> 02 </answer>") == "2"
    assert TASK.answer_key(EXAMPLE, "<answer>2 or 3</answer>") is None
    assert TASK.well_formed(EXAMPLE, "<answer>7</answer>")
    assert not TASK.well_formed(EXAMPLE, "2")
    assert not TASK.well_formed(EXAMPLE, "<answer>1e400</answer>")


def test_problem_round_trips_and_the_cli_notation():
    for problem in PROBLEMS[:10]:
        row = json.loads(json.dumps(problem.to_dict()))
        assert TASK.problem_from_dict(row) == problem
        assert TASK.parse_problem(json.dumps(row)) == problem
    with pytest.raises(ValueError, match="at_least_true"):
        TASK.parse_problem('{"a": 1}')
    with pytest.raises(ValueError, match=r"0\.\.7"):
        TASK.parse_problem('{"at_least_true": 9, "at_most_false": 0, "exactly_true": 5, "exactly_false": 2}')


def test_prompt_states_the_seven_statements():
    text = TASK.prompt(EXAMPLE)
    assert "Statement 1: 'At least 4 of these 7 statements are true.'" in text
    assert "Statement 7:" in text and "<answer>" in text


def test_hostile_text_runs_nothing(monkeypatch, tmp_path):
    check_runs_nothing(TASK, EXAMPLE, monkeypatch, tmp_path)


@given(ANY_TEXT)
def test_any_text_gets_a_verdict(text):
    verdict = assert_verdict(TASK.verify(EXAMPLE, text))
    assert verdict.kind != "error"
    assert verdict.ok == (TASK.answer_key(EXAMPLE, text) == "2")
