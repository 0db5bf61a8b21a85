"""list_functions: reasoning-gym items read into our problem, our rule family, an exact bounded verifier."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from answer_task_checks import ANY_TEXT, assert_verdict, check_runs_nothing
from backtrack.tasks import get_task
from backtrack.tasks.list_functions import ListFunctions, ListFunctionsProblem
from backtrack.tasks.list_functions.intlists import format_int_list, parse_int_list
from backtrack.tasks.list_functions.rules import RULES, determined_output
from backtrack.tasks.list_functions.task import problem_from_question, reasoning_gym_item

TASK = get_task("list_functions")
PROBLEMS = [TASK.generate(random.Random(seed)) for seed in range(40)]
SORT = ListFunctionsProblem(
    examples=(
        ((3, 1, 2), (1, 2, 3)),
        ((9, 7, 8, 1), (1, 7, 8, 9)),
        ((5, 4), (4, 5)),
        ((6, 2, 10), (2, 6, 10)),
    ),
    query=(30, 10, 20),
)


def test_registered_and_options_checked():
    assert isinstance(TASK, ListFunctions)
    with pytest.raises(ValueError, match="unknown list_functions option"):
        get_task("list_functions", colour=1)
    with pytest.raises(ValueError, match="max_tries"):
        get_task("list_functions", max_tries=0)


def test_generate_is_deterministic_in_the_rng():
    again = [TASK.generate(random.Random(seed)) for seed in range(40)]
    assert again == PROBLEMS
    assert len({TASK.content_key(p) for p in PROBLEMS}) >= 38


def test_reasoning_gym_items_do_not_depend_on_the_global_random_state():
    # generate_14 draws from the global random module; reasoning_gym_item pins it
    random.seed(1)
    first = [reasoning_gym_item(seed) for seed in range(60)]
    random.seed(2)
    assert [reasoning_gym_item(seed) for seed in range(60)] == first


def test_solver_agrees_with_reasoning_gym_labels_where_determined():
    determined = 0
    for seed in range(300):
        item = reasoning_gym_item(seed)
        problem = problem_from_question(item["question"])
        output = TASK.solve(problem)
        if output is not None:
            determined += 1
            assert output == parse_int_list(item["answer"], brackets_optional=False), item["question"]
    assert determined >= 285  # about 1% of items are undetermined (docs/tasks.md)


def test_every_generator_rule_is_in_the_family():
    assert sorted(r.generator for r in RULES if r.generator is not None) == list(range(17))


def test_ambiguous_examples_are_undetermined():
    # no example repeats a value, so "sorted" and "sorted without repeats" both fit, and the query repeats one
    ambiguous = ListFunctionsProblem(SORT.examples, (4, 4, 1))
    output, rules = determined_output(ambiguous.examples, ambiguous.query)
    assert output is None and {r.name for r in rules} >= {"sort_ascending", "sort_distinct_ascending"}
    assert TASK.solve(SORT) == (10, 20, 30)
    assert not TASK.verify(ambiguous, "<answer>[1, 4, 4]</answer>").ok
    assert TASK.reference_answer(ambiguous) == ""


def test_splits_by_content_and_kinds_match():
    splits = [TASK.split_of(p) for p in PROBLEMS]
    assert set(splits) <= {"train", "test"} and splits.count("train") > splits.count("test")
    assert [TASK.split_of(p) for p in PROBLEMS] == splits
    with_all_test = get_task("list_functions", test_fraction=0.999999)
    assert {with_all_test.split_of(p) for p in PROBLEMS} == {"test"}
    text = TASK.formats()["direct"].render(SORT).text
    assert TASK.output_kind(text) == TASK.verify(SORT, text).kind == "answer"
    with pytest.raises(ValueError, match="test_fraction"):
        get_task("list_functions", test_fraction=1.5)


def test_verify_accepts_the_reference_and_the_direct_trace():
    fmt = TASK.formats()["direct"]
    for problem in PROBLEMS:
        answer = TASK.reference_answer(problem)
        assert TASK.verify(problem, answer).ok
        assert TASK.verify(problem, f"<think>x</think>\n<answer>{answer}</answer>").ok
        trace = fmt.render(problem)
        assert trace.text.startswith("<think>") and trace.text.endswith(f"<answer>{answer}</answer>")
        assert TASK.verify(problem, trace.text).ok
        parsed = fmt.parse(problem, trace.text)
        assert parsed.valid and parsed.goal_claimed and parsed.backtracks == trace.backtracks == 0
        assert TASK.well_formed(problem, trace.text)


def test_verify_rejects_a_mutated_answer_with_a_reason():
    for problem in PROBLEMS:
        output = list(TASK.solve(problem))
        mutations = [[*output, 1], output[:-1]] if output else [[0]]
        if output:
            changed = list(output)
            changed[len(changed) // 2] += 1
            mutations.append(changed)
        for wrong in mutations:
            verdict = TASK.verify(problem, f"<answer>{format_int_list(wrong)}</answer>")
            assert not verdict.ok and verdict.reason


def test_verify_rejects_other_problems_answers():
    rejected = total = 0
    for problem, other in zip(PROBLEMS, PROBLEMS[1:] + PROBLEMS[:1], strict=True):
        if TASK.solve(other) == TASK.solve(problem):
            continue
        total += 1
        rejected += not TASK.verify(problem, TASK.reference_answer(other)).ok
    assert total >= 30 and rejected / total >= 0.95


def test_answer_key_is_canonical_and_well_formed_needs_a_block():
    assert TASK.answer_key(SORT, "<answer> [10,20 ,  30] </answer>") == "[10, 20, 30]"
    assert TASK.answer_key(SORT, "10, 20, 30") == "[10, 20, 30]"
    assert TASK.answer_key(SORT, "<answer>[10, [20]]</answer>") is None
    assert TASK.answer_key(SORT, "<answer>[]</answer>") == "[]"
    assert TASK.answer_key(SORT, "<answer> </answer>") is None
    assert TASK.well_formed(SORT, "<answer>[1, 2]</answer>")
    assert not TASK.well_formed(SORT, "[10, 20, 30]")
    assert not TASK.well_formed(SORT, "<answer>ten</answer>")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<answer>[10, 20]</answer>", "2 items"),
        ("<answer>[10, 21, 30]</answer>", "item 2 is 21"),
        ("<answer>[1.5]</answer>", "not an integer"),
        ("<answer>[[10]]</answer>", "nested"),
    ],
)
def test_rejections_say_why(text, reason):
    verdict = TASK.verify(SORT, text)
    assert not verdict.ok and reason in verdict.reason


def test_problem_round_trips_and_the_cli_notation():
    for problem in PROBLEMS[:10]:
        row = json.loads(json.dumps(problem.to_dict()))
        assert TASK.problem_from_dict(row) == problem
        assert TASK.parse_problem(json.dumps(row)) == problem
    with pytest.raises(ValueError, match='"examples"'):
        TASK.parse_problem("[1, 2]")
    with pytest.raises(ValueError, match="nests"):
        TASK.parse_problem("[" * 1000)
    with pytest.raises(ValueError, match="integers"):
        TASK.parse_problem('{"examples": [{"input": [true], "output": [1]}], "query": [1]}')


def test_content_key_ignores_example_order():
    swapped = ListFunctionsProblem(SORT.examples[::-1], SORT.query)
    assert TASK.content_key(swapped) == TASK.content_key(SORT)
    assert TASK.content_key(ListFunctionsProblem(SORT.examples, (1,))) != TASK.content_key(SORT)


def test_hostile_text_runs_nothing(monkeypatch, tmp_path):
    check_runs_nothing(TASK, SORT, monkeypatch, tmp_path)


@given(ANY_TEXT)
def test_any_text_gets_a_verdict(text):
    verdict = assert_verdict(TASK.verify(SORT, text))
    assert verdict.kind != "error"
    assert verdict.ok == (TASK.answer_key(SORT, text) == "[10, 20, 30]")


@given(st.lists(st.integers(-(10**15), 10**15), max_size=20))
def test_lists_parse_back_exactly_within_bounds(values):
    parsed = parse_int_list(format_int_list(values))
    if all(len(str(abs(v))) <= 12 for v in values):
        assert parsed == tuple(values)
    else:
        assert isinstance(parsed, str)
