"""The 1D ARC task: rule library, rule-inference solver, verifier, direct and backtrack-k formats."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backtrack.tasks import get_task
from backtrack.tasks.arc_1d import Arc1D, Arc1DProblem
from backtrack.tasks.arc_1d.formats import refutation
from backtrack.tasks.arc_1d.rules import RULE_BY_NAME, RULES, runs
from backtrack.tasks.arc_1d.task import consistent_rules, format_grid
from backtrack.tasks.base import Verdict

TASK = Arc1D()
PROBLEMS = [TASK.generate(random.Random(seed)) for seed in range(80)]
BACKTRACK = TASK.formats()["backtrack-k"]


def test_generate_is_deterministic_and_varied() -> None:
    assert TASK.generate(random.Random(3)) == TASK.generate(random.Random(3))
    assert len({TASK.content_key(p) for p in PROBLEMS}) == len(PROBLEMS)
    assert len({p.family for p in PROBLEMS}) > 25
    small = Arc1D.from_config(min_size=8, max_size=9, num_train=2)
    problem = small.generate(random.Random(0))
    assert len(problem.train) == 2 and 8 <= len(problem.test_input) <= 9
    with pytest.raises(ValueError, match="min_size"):
        Arc1D.from_config(min_size=3)
    with pytest.raises(ValueError, match="max_size"):  # the generator can hang on longer rows
        Arc1D.from_config(max_size=41)
    assert Arc1D.from_config(min_size=38, max_size=40).generate(random.Random(0)).test_input
    with pytest.raises(ValueError, match="unknown"):
        Arc1D.from_config(colors=3)


def test_solver_infers_the_label_from_the_examples() -> None:
    for problem in PROBLEMS:
        assert TASK.solve(problem) == problem.test_output
        assert consistent_rules(problem.train)


def test_some_rules_by_hand() -> None:
    assert RULE_BY_NAME["every coloured cell moves 2 cells right"].apply((3, 3, 0, 0, 0)) == (0, 0, 3, 3, 0)
    assert RULE_BY_NAME["every coloured cell moves 2 cells right"].apply((0, 0, 0, 3, 3)) is None
    assert RULE_BY_NAME["every coloured cell moves 1 cell left, wrapping around the end"].apply(
        (4, 0, 5)
    ) == (0, 5, 4)
    assert RULE_BY_NAME["the block stretches to cover the 2"].apply((0, 7, 7, 0, 0, 2, 0)) == (
        0,
        7,
        7,
        7,
        7,
        7,
        0,
    )
    assert RULE_BY_NAME["the block is mirrored to the other side of the 2"].apply((6, 6, 0, 2, 0, 0, 0)) == (
        0, 0, 0, 2, 0, 6, 6,
    )  # fmt: skip
    assert RULE_BY_NAME["every block of length 2 gets a 3 on each side"].apply((0, 4, 4, 0, 0, 5, 0)) == (
        3, 4, 4, 3, 0, 5, 0,
    )  # fmt: skip
    assert runs((0, 1, 1, 2, 0, 2)) == [(1, 2, 1), (3, 1, 2), (5, 1, 2)]
    assert len(RULES) == len(RULE_BY_NAME) > 40


def test_ambiguous_examples_are_not_solved() -> None:
    # One example that "move 1 right, wrapping" and "cells with room move one right" both explain; on
    # a cell at the right end they differ (it wraps to the start, or it stays).
    train = [{"input": [0, 4, 0, 0], "output": [0, 0, 4, 0]}]
    with pytest.raises(ValueError, match="no single rule"):
        TASK.parse_problem(json.dumps({"train": train, "test_input": [0, 0, 0, 4]}))
    problem = TASK.parse_problem(json.dumps({"train": train, "test_input": [4, 0, 0, 0]}))
    assert problem.test_output == (0, 4, 0, 0)


def test_verify_accepts_the_reference_and_rejects_mutations() -> None:
    for problem in PROBLEMS:
        reference = TASK.reference_answer(problem)
        assert TASK.verify(problem, f"<think>rule</think>\n<answer>{reference}</answer>").ok
        assert TASK.verify(problem, "[" + reference.replace(" ", ", ") + "]").ok
        cells = list(problem.test_output)
        cells[len(cells) // 2] = (cells[len(cells) // 2] + 1) % 10
        verdict = TASK.verify(problem, format_grid(tuple(cells)))
        assert not verdict.ok and "differ" in verdict.reason
        short = TASK.verify(problem, reference[:-2])
        assert not short.ok and "cells" in short.reason


def test_verify_rejects_another_problems_answer() -> None:
    pairs = list(itertools.pairwise(PROBLEMS))
    rejected = sum(not TASK.verify(p, TASK.reference_answer(q)).ok for p, q in pairs)
    assert rejected >= 0.95 * len(pairs)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_backtrack_k_renders_k_distinct_refuted_rules(k: int) -> None:
    for seed, problem in enumerate(PROBLEMS[:30]):
        trace = BACKTRACK.render(problem, random.Random(seed), k=k)
        hypotheses = [
            line.split("Hypothesis: ")[1][:-1] for line in trace.text.splitlines() if "Hypothesis: " in line
        ]
        assert len(hypotheses) == len(set(hypotheses)) == k + 1
        for name in hypotheses[:-1]:  # each wrong rule really fails on an example it shows
            assert refutation(problem, RULE_BY_NAME[name]) is not None
        assert trace.text.count("but its output is") == k
        parsed = BACKTRACK.parse(problem, trace.text)
        assert parsed.valid, parsed.errors
        assert parsed.backtracks == trace.backtracks == k
        assert TASK.verify(problem, trace.text).ok and TASK.well_formed(problem, trace.text)


def test_direct_is_the_right_rule_only() -> None:
    fmt = TASK.formats()["direct"]
    for problem in PROBLEMS[:15]:
        trace = fmt.render(problem)
        assert trace.backtracks == 0 and "Wait" not in trace.text
        assert fmt.parse(problem, trace.text).valid
        assert trace.answer == TASK.reference_answer(problem)


def test_parser_catches_illegal_branches() -> None:
    problem = PROBLEMS[0]
    text = BACKTRACK.render(problem, random.Random(0), k=2).text
    claims_match = text.replace(", but its output is", ", which matches its output. X", 1)
    assert not BACKTRACK.parse(problem, claims_match).valid
    first = text.split("Hypothesis: ", 2)[1].split(".\n")[0]
    second = text.split("Hypothesis: ", 3)[2].split(".\n")[0]
    repeated = text.replace(second, first, 1)
    assert any("already tried" in e for e in BACKTRACK.parse(problem, repeated).errors)
    no_return = text.replace("Wait, this doesn't", "Hmm, this doesn't", 1)
    parsed = BACKTRACK.parse(problem, no_return)
    assert not parsed.valid and parsed.backtracks == 1


def test_problem_round_trips_and_cli_notation() -> None:
    for problem in PROBLEMS[:5]:
        assert TASK.problem_from_dict(problem.to_dict()) == problem
        row = {k: v for k, v in problem.to_dict().items() if k != "family"}
        assert TASK.parse_problem(json.dumps(row)) == Arc1DProblem(
            problem.train, problem.test_input, problem.test_output
        )
    with pytest.raises(ValueError, match="expected JSON"):
        TASK.parse_problem("0 0 1 -> 0 1 0")
    with pytest.raises(ValueError, match="colours 0-9"):
        TASK.parse_problem('{"train": [{"input": [10], "output": [1]}], "test_input": [1]}')
    assert isinstance(get_task("arc_1d", num_train=4), Arc1D)
    assert TASK.split_of(PROBLEMS[0]) in ("train", "test")


HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["1e400", "9" * 100_000, "٣ ٣ ٣", "\x00" * 500, "x" * 200_001, "<answer>" * 5000]),
    st.builds(lambda s: f"<answer>{s}</answer>", st.text(alphabet="0123456789 ,[]-١", max_size=200)),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(0, 50_000)),
    st.builds(lambda s: "Step 1: Hypothesis: " + s, st.text(max_size=100)),
)


@given(HOSTILE, st.sampled_from(range(5)))
def test_hostile_text_gets_a_verdict(text: str, index: int) -> None:
    problem = PROBLEMS[index]
    verdict = TASK.verify(problem, text)
    assert isinstance(verdict, Verdict) and verdict.reason
    TASK.answer_key(problem, text)
    TASK.well_formed(problem, text)
    parsed = BACKTRACK.parse(problem, text)
    assert not parsed.valid or verdict.ok


def test_well_formed_accepts_any_row_of_digits_in_an_answer_block() -> None:
    problem = PROBLEMS[0]
    assert TASK.well_formed(problem, f"<answer>{TASK.reference_answer(PROBLEMS[1])}</answer>")
    assert not TASK.well_formed(problem, TASK.reference_answer(problem))  # no answer block
    assert not TASK.well_formed(problem, "<answer>0 1 x</answer>")
    assert not TASK.well_formed(problem, "<answer>12 3</answer>")


def test_the_trace_uses_a_rule_that_applies_to_the_test_input() -> None:
    # "move 4 right" explains the example but has no room on the test input; the wrapping move does.
    train = [{"input": [0, 3, 0, 0, 0, 0, 0, 0, 0, 0], "output": [0, 0, 0, 0, 0, 3, 0, 0, 0, 0]}]
    problem = TASK.parse_problem(json.dumps({"train": train, "test_input": [0, 0, 0, 0, 0, 0, 0, 0, 3, 0]}))
    assert problem.test_output == (0, 0, 3, 0, 0, 0, 0, 0, 0, 0)
    trace = TASK.formats()["direct"].render(problem)
    assert "wrapping" in trace.text and TASK.formats()["direct"].parse(problem, trace.text).valid


@pytest.mark.parametrize("text", ["", "null", "[]", '"x"', "[" * 4000 + "]" * 4000, "{" * 20_000, "{}"])
def test_parse_problem_rejects_bad_notation_with_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="expected JSON"):
        TASK.parse_problem(text)
