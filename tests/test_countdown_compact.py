"""CountDown's ``compact`` format: one line per two-number state, every final operation written.

It must round-trip like every format, and its parser must find each kind of false line a model
writes (a wrong result, a miscopied pair, a verdict its own line contradicts) without ever raising.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backtrack import traces
from backtrack.tasks import get_task
from backtrack.tasks.countdown import CountdownProblem
from backtrack.tasks.countdown.formats import compact

SMALL = get_task("countdown", n_numbers=3, min_number=1, max_number=9, min_target=1, max_target=50)
PAPER = get_task("countdown")
SEEDS = st.integers(0, 2**32 - 1)
P = CountdownProblem((2, 5, 9), 43)
TRACE = """Current State: 43:[2, 5, 9], Operations: []
Try 2+5=7 43:[9, 7] 9+7=16, 9*7=63, 9-7=2. No Solution
Try 2*5=10 43:[9, 10] 9+10=19, 9*10=90, 10-9=1. No Solution
Try 5-2=3 43:[9, 3] 9+3=12, 9*3=27, 9-3=6, 9/3=3. No Solution
Try 2+9=11 43:[5, 11] 5+11=16, 5*11=55, 11-5=6. No Solution
Try 2*9=18 43:[5, 18] 5+18=23, 5*18=90, 18-5=13. No Solution
Try 9-2=7 43:[5, 7] 5+7=12, 5*7=35, 7-5=2. No Solution
Try 5+9=14 43:[2, 14] 2+14=16, 2*14=28, 14-2=12, 14/2=7. No Solution
Try 5*9=45 43:[2, 45] 2+45=47, 2*45=90, 45-2=43. Goal Reached
"""


def parse(text: str, problem: CountdownProblem = P, **options):
    return traces.parse(SMALL, problem, "compact", text, **options)


def test_the_trace_walks_pairs_left_to_right_and_writes_every_final_operation():
    trace = traces.render(SMALL, P, "compact")
    assert trace.text == TRACE
    assert (trace.solved, trace.backtracks, trace.dead_ends, trace.steps) == (True, 7, 7, 34)
    assert [str(s) for s in trace.answer] == ["5*9=45", "45-2=43"]


@given(
    seed=SEEDS,
    order=st.sampled_from(["generation", "heuristic", "random"]),
    prune=st.booleans(),
    use_all=st.booleans(),
    paper=st.booleans(),
)
def test_every_trace_round_trips(seed, order, prune, use_all, paper):
    task = PAPER if paper else SMALL
    problem = task.generate(random.Random(seed))
    trace = traces.render(
        task, problem, "compact", rng=random.Random(seed), order=order, prune=prune, use_all=use_all
    )
    for text in (trace.text, trace.text.partition("\n")[2]):  # with and without the problem line
        parsed = traces.parse(task, problem, "compact", text, use_all=use_all)
        assert (parsed.valid, parsed.backtracks, parsed.dead_ends, parsed.steps) == (
            trace.solved,
            trace.backtracks,
            trace.dead_ends,
            trace.steps,
        )
        assert parsed.errors in ([], ["no goal reached"])
    if not prune:  # exhaustive: it finds a solution whenever one exists
        assert trace.solved == task.is_solvable(problem) or not use_all
    if use_all and trace.solved:
        assert task.verify(problem, trace.text).ok
        assert task.well_formed(problem, trace.text)
        expression = task.reference_answer(problem, trace)
        assert task.answer_key(problem, trace.text) == task.answer_key(problem, expression)


def test_a_wrong_final_result_is_a_false_step_but_the_goal_path_still_counts():
    text = TRACE.replace("9*7=63", "9*7=64")
    parsed = parse(text)
    assert parsed.valid and parsed.errors == ["line 2: 9*7=64: 9*7 is 63, not 64"]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("45-2=43. Goal", "45-2=44. Goal", "line 9: no final operation on [2, 45] reaches the target 43"),
        ("Try 5*9=45 43:[2, 45]", "Try 5*9=46 43:[2, 46]", "line 9: 5*9=46: 5*9 is 45, not 46"),
        (
            "5*9=45 43:[2, 45]",
            "5*9=45 43:[3, 45]",
            "line 9: the numbers after 5*9=45 are [2, 45], not [3, 45]",
        ),
        ("Try 5*9=45 43:[2, 45]", "Try 5*8=40 43:[2, 40]", "line 9: 5*8=40: 8 is not available in [2, 5, 9]"),
        (
            "2*45=90, 45-2=43. Goal Reached",
            "2*45=90. Goal Reached",
            "line 9: no final operation on [2, 45] reaches the target 43",
        ),
    ],
)
def test_a_false_goal_line_is_invalid_and_says_why(old, new, reason):
    verdict = SMALL.verify(P, TRACE.replace(old, new))
    assert not verdict.ok and verdict.reason == reason


def test_a_dead_end_its_own_line_contradicts_is_a_false_step():
    text = "Try 5*9=45 43:[2, 45] 2+45=47, 2*45=90, 45-2=43. No Solution\n"
    parsed = parse(text)
    assert not parsed.goal_claimed and parsed.dead_ends == 1
    contradiction = "line 1: 45-2=43 reaches the target, yet the line says No Solution"
    assert parsed.errors == ["no goal reached", contradiction]


def test_a_miscopied_target_is_a_false_step():
    parsed = parse(TRACE.replace("Try 2+5=7 43:[9, 7]", "Try 2+5=7 41:[9, 7]"))
    assert parsed.valid and parsed.errors == ["line 2: target 41 is not 43"]


def test_lines_of_other_formats_and_unfinished_lines_are_reported():
    parsed = parse("Exploring Operation: 2+5=7, Resulting Numbers: [9, 7]\nTry 2+5=7 43:[9, 7] 9+7=16")
    assert parsed.errors[1:] == [
        "line 1: unrecognized line 'Exploring Operation: 2+5=7, Resulting Nu'",
        "line 2: malformed line: it ends in neither Goal Reached nor No Solution",
    ]


def test_a_line_after_a_dead_end_is_a_backtrack():
    lines = TRACE.splitlines()
    assert parse("\n".join(lines[:3])).backtracks == 1
    assert parse("\n".join(lines[:2])).backtracks == 0


def test_the_subset_rule_ends_at_a_path_that_reaches_the_target():
    loose = get_task("countdown", n_numbers=3, min_number=1, max_number=9, use_all=False)
    problem = CountdownProblem((2, 5, 9), 10)
    trace = traces.render(loose, problem, "compact")
    assert trace.text.splitlines()[-1] == "Try 2*5=10. Goal Reached"
    assert loose.verify(problem, trace.text).ok
    assert not SMALL.verify(problem, "Try 2*5=10. Goal Reached").ok


def test_the_claimed_goal_path_is_read_without_checking_it():
    assert [str(s) for s in compact.claimed_goal_path(TRACE)] == ["5*9=45", "45-2=43"]
    false = TRACE.replace("45-2=43. Goal", "45-2=41. Goal")
    assert [str(s) for s in compact.claimed_goal_path(false)] == ["5*9=45", "45-2=41"]
    assert compact.claimed_goal_path(TRACE.replace("Goal Reached", "No Solution")) is None


PIECES = [
    "Try ",
    "5*9=45",
    " 43:[2, 45]",
    " 43:",
    "[",
    "]",
    "45-2=43",
    ", ",
    ". Goal Reached",
    ". No Solution",
]
SOUP = st.lists(st.sampled_from([*PIECES, "\n", "²", ":"]), max_size=40).map("".join)


@given(text=st.text(max_size=300) | SOUP)
def test_the_parser_never_raises_and_never_credits_an_illegal_path(text):
    parsed = parse(text)
    if parsed.valid:
        assert SMALL.verify_steps(P, list(parsed.answer)).ok
