"""zebra_puzzles: reasoning-gym puzzles rebuilt as our problem, our constraint solver, an exact verifier."""

from __future__ import annotations

import json
import random
from itertools import permutations, product

import pytest
from hypothesis import given

from answer_task_checks import ANY_TEXT, assert_verdict, check_runs_nothing
from backtrack.tasks import get_task
from backtrack.tasks.zebra_puzzles import ZebraProblem, ZebraPuzzles
from backtrack.tasks.zebra_puzzles.problem import Clue
from backtrack.tasks.zebra_puzzles.solver import SearchBudgetExceeded, solutions
from backtrack.tasks.zebra_puzzles.task import (
    normalize_name,
    problem_from_reasoning_gym,
    reasoning_gym_puzzle,
)

TASK = get_task("zebra_puzzles")
SMALL = get_task("zebra_puzzles", num_people=3, num_characteristics=3)
PROBLEMS = [TASK.generate(random.Random(seed)) for seed in range(12)]
PROBLEM = PROBLEMS[0]

# An independent reading of the clues, over 0-based houses.
HOLDS = {
    "same_house": lambda x, y: x == y,
    "consecutive": lambda x, y: y == x + 1,
    "beside": lambda x, y: abs(x - y) == 1,
    "left_of": lambda x, y: x < y,
    "right_of": lambda x, y: x > y,
    "one_between": lambda x, y: abs(x - y) == 2,
    "two_between": lambda x, y: abs(x - y) == 3,
}


def brute_force(problem: ZebraProblem) -> list[tuple[tuple[int, ...], ...]]:
    """Every placement (a permutation of houses per attribute) that satisfies every clue."""
    n = problem.n_houses
    found = []
    for placement in product(permutations(range(n)), repeat=len(problem.attributes)):
        ok = True
        for clue in problem.clues:
            x = placement[clue.first[0]][clue.first[1]]
            if clue.kind == "found_at":
                ok = x == clue.house - 1
            elif clue.kind == "not_at":
                ok = x != clue.house - 1
            else:
                ok = HOLDS[clue.kind](x, placement[clue.second[0]][clue.second[1]])
            if not ok:
                break
        if ok:
            found.append(placement)
    return found


def test_registered_and_options_checked():
    assert isinstance(TASK, ZebraPuzzles)
    with pytest.raises(ValueError, match="unknown zebra_puzzles option"):
        get_task("zebra_puzzles", people=3)
    with pytest.raises(ValueError, match="num_people"):
        get_task("zebra_puzzles", num_people=8)


def test_generate_is_deterministic_in_the_rng():
    assert [TASK.generate(random.Random(seed)) for seed in range(12)] == PROBLEMS
    assert len({TASK.content_key(p) for p in PROBLEMS}) == len(PROBLEMS)


def test_solver_agrees_with_reasoning_gym_labels():
    for seed in range(20):
        puzzle, label = reasoning_gym_puzzle(seed, 4, 4)
        problem = problem_from_reasoning_gym(puzzle, random.Random(seed))
        assert len(solutions(problem, limit=2)) == 1
        assert TASK.solve_name(problem) == normalize_name(label)


def test_solver_agrees_with_brute_force_on_small_puzzles():
    for seed in range(15):
        problem = SMALL.generate(random.Random(seed))
        found = brute_force(problem)
        assert found == [SMALL.solve(problem)]
        # without its clues a puzzle has many solutions, and the solver says so
        loose = ZebraProblem(problem.n_houses, problem.attributes, problem.clues[1:], problem.house)
        assert (SMALL.solve(loose) is None) == (len(brute_force(loose)) != 1)


def test_contradictory_clues_have_no_solution_and_the_budget_bounds_the_search():
    bad = ZebraProblem(
        PROBLEM.n_houses,
        PROBLEM.attributes,
        (*PROBLEM.clues, Clue("found_at", (0, 0), None, 1), Clue("found_at", (0, 0), None, 2)),
        PROBLEM.house,
    )
    assert TASK.solve(bad) is None
    assert not TASK.verify(bad, "<answer>carol</answer>").ok
    # no clues: (4!)^4 solutions, so counting them all runs into the node budget
    with pytest.raises(SearchBudgetExceeded):
        solutions(ZebraProblem(4, PROBLEM.attributes, (), 1), limit=10**9, max_nodes=50)


def test_verify_accepts_the_reference_and_the_direct_trace():
    fmt = TASK.formats()["direct"]
    for problem in PROBLEMS:
        name = TASK.reference_answer(problem)
        for text in (
            name,
            name.upper(),
            f"<answer> {name.capitalize()}. </answer>",
            f"<answer>**{name}**</answer>",
        ):
            assert TASK.verify(problem, text).ok, text
        trace = fmt.render(problem)
        assert trace.text.endswith(f"<answer>{name}</answer>")
        parsed = fmt.parse(problem, trace.text)
        assert parsed.valid and parsed.backtracks == trace.backtracks == 0
        assert TASK.well_formed(problem, trace.text)


def test_verify_rejects_the_other_names_with_a_reason():
    for problem in PROBLEMS:
        name = TASK.reference_answer(problem)
        names = [v.lower() for v in problem.attributes[problem.name_attribute()].values]
        for other in names:
            if other != name:
                verdict = TASK.verify(problem, f"<answer>{other}</answer>")
                assert not verdict.ok and "does not live in house" in verdict.reason
        verdict = TASK.verify(problem, "<answer>zorro</answer>")
        assert not verdict.ok and "not one of the names" in verdict.reason


def test_verify_rejects_other_problems_answers():
    rejected = total = 0
    for problem in PROBLEMS:
        for other in PROBLEMS:
            if TASK.reference_answer(other) != TASK.reference_answer(problem):
                total += 1
                rejected += not TASK.verify(problem, TASK.reference_answer(other)).ok
    assert total >= 40 and rejected / total >= 0.95


def test_answer_key_and_well_formed():
    name = TASK.reference_answer(PROBLEM)
    assert TASK.answer_key(PROBLEM, f"<answer>  {name.upper()}. </answer>") == name
    assert TASK.answer_key(PROBLEM, "<answer>" + "x" * 100 + "</answer>") is None
    assert TASK.well_formed(PROBLEM, f"<answer>{name}</answer>")
    assert not TASK.well_formed(PROBLEM, name)
    assert TASK.well_formed(PROBLEM, "<answer>zorro</answer>")  # a wrong name is still a name
    assert not TASK.well_formed(PROBLEM, "<answer>house 1</answer>")
    assert not TASK.verify(PROBLEM, "<answer>house 1</answer>").ok


def test_problem_round_trips_and_the_cli_notation():
    for problem in PROBLEMS:
        row = json.loads(json.dumps(problem.to_dict()))
        assert TASK.problem_from_dict(row) == problem
        assert TASK.parse_problem(json.dumps(row)) == problem
    with pytest.raises(ValueError, match='"n_houses"'):
        TASK.parse_problem("{}")
    row = PROBLEM.to_dict()
    row["clues"] = [{"kind": "teleports", "first": ["Name", "x"]}]
    with pytest.raises(ValueError, match="unknown kind"):
        TASK.problem_from_dict(row)


def test_prompt_states_every_clue_and_the_question():
    text = TASK.prompt(PROBLEM)
    assert all(PROBLEM.clue_text(clue) in text for clue in PROBLEM.clues)
    assert f"house {PROBLEM.house}?" in text and "<answer>" in text


def test_content_key_ignores_clue_order():
    shuffled = ZebraProblem(PROBLEM.n_houses, PROBLEM.attributes, PROBLEM.clues[::-1], PROBLEM.house)
    assert TASK.content_key(shuffled) == TASK.content_key(PROBLEM)
    fewer = ZebraProblem(PROBLEM.n_houses, PROBLEM.attributes, PROBLEM.clues[1:], PROBLEM.house)
    assert TASK.content_key(fewer) != TASK.content_key(PROBLEM)


def test_hostile_text_runs_nothing(monkeypatch, tmp_path):
    check_runs_nothing(TASK, PROBLEM, monkeypatch, tmp_path)


@given(ANY_TEXT)
def test_any_text_gets_a_verdict(text):
    verdict = assert_verdict(TASK.verify(PROBLEM, text))
    assert verdict.kind != "error"
    assert verdict.ok == (TASK.answer_key(PROBLEM, text) == TASK.reference_answer(PROBLEM))
