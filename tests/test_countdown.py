"""CountDown task: config, generator, exhaustive solver, game rules, verifier mutations and splits.

The rules are checked against a small reference implementation written here from the paper's rules
(subtraction larger - smaller, exact division, every intermediate a positive integer), not against
the module's own helpers.
"""

from __future__ import annotations

import random
from functools import cache
from itertools import combinations, combinations_with_replacement

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from backtrack.tasks import get_task
from backtrack.tasks.countdown import (
    Countdown,
    CountdownConfig,
    CountdownProblem,
    Step,
    apply_step,
    check_step,
    combine,
    detect_kind,
    parse_step,
    steps_to_expression,
)


# ---- reference rules (independent of the module) ---------------------------------------------
def ref_results(a: int, b: int) -> set[int]:
    """Values of the legal operations on a pair of positive integers."""
    hi, lo = max(a, b), min(a, b)
    out = {a + b, a * b}
    if hi > lo:
        out.add(hi - lo)
    if hi % lo == 0:
        out.add(hi // lo)
    return out


@cache
def ref_values(nums: tuple[int, ...]) -> frozenset[int]:
    """Every final value of a game that uses all of ``nums`` (a sorted tuple), by brute force over pairs."""
    if len(nums) == 1:
        return frozenset(nums)
    out: set[int] = set()
    for i, j in combinations(range(len(nums)), 2):
        rest = [nums[k] for k in range(len(nums)) if k not in (i, j)]
        for r in ref_results(nums[i], nums[j]):
            out |= ref_values(tuple(sorted([*rest, r])))
    return frozenset(out)


def ref_solvable_all(numbers: tuple[int, ...], target: int) -> bool:
    return target in ref_values(tuple(sorted(numbers)))


def task_for(**config) -> Countdown:
    return get_task("countdown", **config)


DEFAULT = task_for()
SMALL_CONFIGS = st.fixed_dictionaries(
    {
        "n_numbers": st.integers(3, 5),
        "min_number": st.integers(1, 5),
        "max_number": st.integers(8, 25),
        "min_target": st.integers(1, 20),
        "max_target": st.integers(25, 60),
        "use_all": st.booleans(),
    }
)
SEEDS = st.integers(0, 2**32 - 1)


# ---- config ------------------------------------------------------------------------------------
def test_default_config_is_the_papers_game():
    c = DEFAULT.config
    assert (c.n_numbers, c.min_number, c.max_number, c.min_target, c.max_target) == (4, 1, 99, 10, 100)
    assert c.use_all is True
    assert DEFAULT.name == "countdown"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"n_numbers": 1}, "n_numbers"),
        ({"n_numbers": 9}, "n_numbers"),
        ({"min_number": 0}, "min_number"),
        ({"min_number": 50, "max_number": 10}, "min_number"),
        ({"max_number": 10_001}, "max_number"),
        ({"min_target": 0}, "min_target"),
        ({"min_target": 100, "max_target": 10}, "min_target"),
        ({"heldout_target_fraction": 1.0}, "heldout_target_fraction"),
        ({"heldout_target_fraction": -0.1}, "heldout_target_fraction"),
        ({"heldout_target_fraction": float("nan")}, "heldout_target_fraction"),
        ({"max_tries": 0}, "max_tries"),
        ({"bogus": 1}, "bogus"),
        ({"n_numbers": 4, "colour": "red", "zzz": 2}, "colour"),
    ],
)
def test_bad_config_raises_value_error_with_a_message(overrides, fragment):
    with pytest.raises(ValueError, match=fragment):
        get_task("countdown", **overrides)


@pytest.mark.parametrize(
    "overrides",
    [{"n_numbers": 4.5}, {"n_numbers": "4"}, {"max_number": 2.5}, {"max_tries": 1.5}, {"use_all": "no"}],
)
def test_config_of_the_wrong_type_raises_value_error(overrides):
    # Configs come from TOML recipes and the CLI; a float or string must not slip through to crash later.
    with pytest.raises(ValueError):
        get_task("countdown", **overrides)


def test_unknown_task_name_raises():
    with pytest.raises(ValueError, match="unknown task"):
        get_task("countdwn")


def test_config_dict_round_trips():
    task = task_for(n_numbers=3, max_number=20, use_all=False)
    assert task_for(**task.config_dict()).config == task.config


# ---- problems ------------------------------------------------------------------------------------
def test_problem_validation_and_round_trip():
    p = DEFAULT.problem([62, 36, 6, 70], 72)
    assert p == CountdownProblem((62, 36, 6, 70), 72)
    assert DEFAULT.problem_from_dict(p.to_dict()) == p
    for numbers, target in [([], 5), ([0, 3], 5), ([-1, 3], 5), ([3, 4], 0), ([1] * 9, 5)]:
        with pytest.raises(ValueError):
            DEFAULT.problem(numbers, target)


def test_content_key_ignores_number_order():
    assert DEFAULT.content_key(CountdownProblem((1, 2, 3), 6)) == DEFAULT.content_key(
        CountdownProblem((3, 1, 2), 6)
    )
    assert DEFAULT.content_key(CountdownProblem((1, 2, 3), 6)) != DEFAULT.content_key(
        CountdownProblem((1, 2, 3), 7)
    )


def test_prompt_states_the_rule_of_the_config():
    p = CountdownProblem((62, 36, 6, 70), 72)
    assert "exactly once" in DEFAULT.prompt(p)
    assert "at most once" in task_for(use_all=False).prompt(p)
    assert "62, 36, 6, 70" in DEFAULT.prompt(p) and "72" in DEFAULT.prompt(p)


# ---- generator -------------------------------------------------------------------------------------
@given(config=SMALL_CONFIGS, seed=SEEDS)
@example(  # generates (7, 6, 4) -> 6: the target is one of the numbers and no operation reaches it
    config={
        "n_numbers": 3,
        "min_number": 1,
        "max_number": 10,
        "min_target": 1,
        "max_target": 25,
        "use_all": False,
    },
    seed=41,
)
@example(  # numbers 5..8 cannot make 39: a config error, reported as one
    config={
        "n_numbers": 3,
        "min_number": 5,
        "max_number": 8,
        "min_target": 1,
        "max_target": 39,
        "use_all": False,
    },
    seed=194,
)
def test_generated_problems_are_solvable_and_in_range(config, seed):
    task = task_for(**config)
    c = task.config
    try:
        p = task.generate(random.Random(seed))
    except ValueError as e:  # only when no multiset of the game reaches the drawn target
        target = int(str(e).split()[1])
        numbers = range(c.min_number, c.max_number + 1)
        sizes = [c.n_numbers] if c.use_all else range(2, c.n_numbers + 1)
        assert not any(
            target in ref_values(nums) for k in sizes for nums in combinations_with_replacement(numbers, k)
        ), str(e)
        return
    assert len(p.numbers) == c.n_numbers
    assert all(c.min_number <= n <= c.max_number for n in p.numbers)
    assert c.min_target <= p.target <= c.max_target
    assert task.is_solvable(p)
    solution = task.solve(p)
    assert solution is not None, f"{p} generated with use_all={c.use_all} but solve() finds nothing"
    assert task.verify_steps(p, solution).ok
    limit = 1 if c.n_numbers == 5 else None  # five numbers: thousands of solutions
    solutions = task.solutions(p, limit=limit)
    assert solutions
    for steps in solutions[:50]:
        assert task.verify_steps(p, steps).ok, steps
        assert task.verify(p, steps_to_expression(p.numbers, steps)).ok


def test_generator_default_config_problems():
    rng = random.Random(7)
    for _ in range(100):
        p = DEFAULT.generate(rng)
        assert len(p.numbers) == 4 and all(1 <= n <= 99 for n in p.numbers) and 10 <= p.target <= 100
        assert ref_solvable_all(p.numbers, p.target)
        assert DEFAULT.verify_steps(p, DEFAULT.solve(p)).ok


@given(config=SMALL_CONFIGS, seed=SEEDS)
def test_same_seed_gives_same_problem(config, seed):
    task = task_for(**config)
    assert task.generate(random.Random(seed)) == task.generate(random.Random(seed))


def test_different_seeds_give_different_problems():
    problems = {DEFAULT.generate(random.Random(s)) for s in range(50)}
    assert len(problems) > 45


def test_generator_names_a_target_that_no_numbers_can_make():
    task = task_for(n_numbers=2, min_number=1, max_number=1, min_target=50, max_target=60, max_tries=30)
    with pytest.raises(ValueError, match=r"target \d+ cannot be made from 2 numbers in 1..1"):
        task.generate(random.Random(0))


def test_generator_finds_a_rare_solvable_draw_in_a_small_game():
    # 2 numbers in 1..20 make 400 only as 20*20; one random try almost surely misses it
    task = task_for(n_numbers=2, min_number=1, max_number=20, min_target=400, max_target=400, max_tries=1)
    for seed in range(5):
        assert task.generate(random.Random(seed)) == CountdownProblem((20, 20), 400)


def test_generator_gives_up_with_an_error_in_a_game_too_large_to_enumerate():
    # 37,820 multisets of 3 numbers in 1..60: past the exhaustive limit, so the draws' error stands
    task = task_for(
        n_numbers=3, min_number=1, max_number=60, min_target=300_000, max_target=300_000, max_tries=5
    )
    with pytest.raises(RuntimeError, match="no solvable numbers for target 300000"):
        task.generate(random.Random(0))


# ---- solver vs brute force -----------------------------------------------------------------------
PROBLEMS = st.builds(
    lambda nums, target: CountdownProblem(tuple(nums), target),
    st.lists(st.integers(1, 15), min_size=2, max_size=4),
    st.integers(1, 80),
)


@given(problem=PROBLEMS)
@example(problem=CountdownProblem((62, 36, 6, 70), 72))
@example(problem=CountdownProblem((1, 1, 1, 1), 97))
def test_is_solvable_agrees_with_brute_force_use_all(problem):
    task = task_for(n_numbers=max(2, len(problem.numbers)))
    expected = ref_solvable_all(problem.numbers, problem.target)
    assert task.is_solvable(problem) == expected
    assert bool(task.solutions(problem, limit=1)) == expected
    assert (task.solve(problem) is not None) == expected


@given(problem=PROBLEMS)
def test_is_solvable_agrees_with_solutions_subset_rule(problem):
    task = task_for(use_all=False)
    solvable = task.is_solvable(problem)
    assert bool(task.solutions(problem, limit=1)) == solvable, problem
    assert (task.solve(problem) is not None) == solvable, problem


def test_subset_rule_target_among_the_numbers_is_consistent():
    # use_all=False, the target 10 is one of the numbers, and no operation reaches it:
    # the task must agree with itself on whether the problem is solvable.
    task = task_for(n_numbers=3, use_all=False)
    p = CountdownProblem((6, 10, 3), 10)
    solvable = task.is_solvable(p)
    assert (task.solve(p) is not None) == solvable
    assert bool(task.solutions(p, limit=1)) == solvable
    assert task.verify(p, "10").ok == solvable


@given(problem=PROBLEMS, use_all=st.booleans())
def test_every_listed_solution_is_legal_and_reaches_the_target(problem, use_all):
    task = task_for(use_all=use_all)
    for steps in task.solutions(problem, limit=40):
        assert task.verify_steps(problem, steps).ok
        assert steps[-1].result == problem.target
        expr = steps_to_expression(problem.numbers, steps)
        assert task.verify_expression(problem, expr).ok, expr


def _normal(steps) -> tuple:
    """A step sequence up to the order in which + and * write their operands."""
    return tuple((s.op, *sorted((s.a, s.b)), s.result) if s.op in "+*" else tuple(s) for s in steps)


def ref_sequences(nums: tuple[int, ...], target: int, use_all: bool) -> set[tuple]:
    """Every legal step sequence reaching the target, by brute force (normalized with ``_normal``)."""
    out: set[tuple] = set()

    def walk(state: list[int], path: list[tuple]) -> None:
        if path and path[-1][-1] == target and (len(state) == 1 or not use_all):
            out.add(tuple(path))
        for i, j in combinations(range(len(state)), 2):
            a, b = state[i], state[j]
            rest = [state[k] for k in range(len(state)) if k not in (i, j)]
            hi, lo = max(a, b), min(a, b)
            ops = [("+", lo, hi, a + b), ("*", lo, hi, a * b)]
            if hi > lo:
                ops.append((hi, "-", lo, hi - lo))
            if hi % lo == 0:
                ops.append((hi, "/", lo, hi // lo))
            for op in ops:
                walk([*rest, op[-1]], [*path, op])

    walk(list(nums), [])
    return out


@given(
    nums=st.lists(st.integers(1, 12), min_size=2, max_size=4).map(tuple),
    target=st.integers(1, 60),
    use_all=st.booleans(),
)
@example(nums=(2, 3, 4), target=10, use_all=True)
def test_solutions_lists_exactly_the_legal_solutions(nums, target, use_all):
    task = task_for(use_all=use_all)
    got = {_normal(s) for s in task.solutions(CountdownProblem(nums, target))}
    assert got == ref_sequences(nums, target, use_all)


def test_solutions_of_a_small_problem():
    got = {_normal(s) for s in DEFAULT.solutions(CountdownProblem((2, 3, 4), 10))}
    assert got == {(("*", 2, 3, 6), ("+", 4, 6, 10)), (("*", 3, 4, 12), (12, "-", 2, 10))}


# ---- rules -----------------------------------------------------------------------------------------
@given(a=st.integers(1, 500), b=st.integers(1, 500))
def test_combine_gives_exactly_the_legal_results(a, b):
    steps = combine(a, b)
    assert {s.result for s in steps} == ref_results(a, b)
    for s in steps:
        assert s.result > 0
        assert check_step((a, b), s) is None
        if s.op == "-":
            assert s.a > s.b
        if s.op == "/":
            assert s.a % s.b == 0


@pytest.mark.parametrize(
    ("numbers", "step", "fragment"),
    [
        ((5, 3, 7, 9), Step(3, "-", 5, -2), "larger minus smaller"),
        ((5, 3, 7, 9), Step(3, "-", 5, 2), "larger minus smaller"),
        ((5, 5, 7), Step(5, "-", 5, 0), "larger minus smaller"),
        ((7, 2, 9), Step(7, "/", 2, 3), "exact"),
        ((7, 2, 9), Step(2, "/", 7, 0), "exact"),
        ((5, 3, 7, 9), Step(5, "+", 5, 10), "not available"),
        ((5, 3, 7, 9), Step(4, "+", 3, 7), "not available"),
        ((5, 3, 7, 9), Step(5, "+", 3, 9), "not 9"),
        ((5, 3, 7, 9), Step(5, "*", 3, 16), "not 16"),
        ((5, 3, 7, 9), Step(5, "^", 3, 125), "unknown operation"),
    ],
)
def test_check_step_rejects_illegal_steps(numbers, step, fragment):
    error = check_step(numbers, step)
    assert error is not None and fragment in error


@pytest.mark.parametrize(
    ("numbers", "step", "after"),
    [
        ((5, 3, 7, 9), Step(5, "-", 3, 2), (7, 9, 2)),
        ((8, 2, 7), Step(8, "/", 2, 4), (7, 4)),
        ((5, 5, 7), Step(5, "+", 5, 10), (7, 10)),  # two fives given: both may be used
        ((5, 3), Step(3, "*", 5, 15), (15,)),
    ],
)
def test_check_step_accepts_legal_steps(numbers, step, after):
    assert check_step(numbers, step) is None
    assert apply_step(numbers, step) == after


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("10+3-5", True),
        ("3-5+10", False),  # 3-5 is negative
        ("10-(5-3)", True),
        ("(3-5)+10", False),
        ("4*7/2", False),  # uses 4, 7, 2 but the problem has 10, 3, 5
    ],
)
def test_intermediates_must_be_positive(answer, ok):
    p = CountdownProblem((10, 3, 5), 8)
    assert DEFAULT.verify(p, answer).ok is ok


def test_division_must_be_exact_at_every_step():
    p = CountdownProblem((7, 2, 4), 14)
    assert DEFAULT.verify(p, "4*7/2").ok
    assert not DEFAULT.verify(p, "7/2*4").ok  # 7/2 is not an integer, even though the total is
    assert not DEFAULT.verify(p, "4/(2/7)").ok
    assert not DEFAULT.verify_steps(p, [Step(7, "/", 2, 3), Step(3, "*", 4, 12)]).ok


def test_number_reuse_and_foreign_numbers_are_rejected():
    p = CountdownProblem((5, 3, 7, 9), 24)
    assert DEFAULT.verify(p, "3*(9-7+5)+3").ok is False  # reaches 24 but uses 3 twice
    assert "used 2 times" in DEFAULT.verify(p, "3*(9-7+5)+3").reason
    assert DEFAULT.verify(p, "(9-5)*(3+7)-16").ok is False  # 16 is not given
    assert "not one of the given numbers" in DEFAULT.verify(p, "(9-5)*(3+7)-16").reason
    assert not DEFAULT.verify_steps(p, [Step(5, "+", 5, 10)]).ok
    assert not DEFAULT.verify(p, "<answer>5+5=10\n10+9=19\n19+7=26</answer>").ok
    # a result may be used once, like a given number
    assert not DEFAULT.verify(p, "9-5=4\n4*4=16\n16+7=23").ok
    assert DEFAULT.verify(p, "9+7=16\n16-5=11\n11*3=33").ok is False  # legal but 33
    assert DEFAULT.verify(p, "9*(7-5)+3+3").ok is False


def test_use_all_rejects_unused_numbers_and_subset_rule_accepts_them():
    p = CountdownProblem((5, 3, 7, 9), 8)
    strict, loose = task_for(use_all=True), task_for(use_all=False)
    for answer in ["5+3", "<answer>5+3</answer>", "5+3=8", "Step 1: 5+3=8"]:
        assert not strict.verify(p, answer).ok, answer
        assert "not used" in strict.verify(p, answer).reason
        assert loose.verify(p, answer).ok, answer
    assert not strict.verify_steps(p, [Step(5, "+", 3, 8)]).ok
    assert loose.verify_steps(p, [Step(5, "+", 3, 8)]).ok
    # at most once still forbids reuse under the subset rule
    assert not loose.verify(p, "5+5-3+1").ok
    assert not loose.verify_steps(p, [Step(5, "+", 5, 10), Step(10, "-", 3, 7)]).ok


def test_verify_accepts_the_forms_a_model_writes():
    p = CountdownProblem((62, 36, 6, 70), 72)
    for answer in [
        "36*(70-62-6)",
        "36 * (70 - 62 - 6)",
        "<answer>36*(70-62-6)</answer>",
        "<answer>36*(70-62-6) = 72</answer>",
        "some thoughts\n<answer>(70-62-6)*36</answer>",
        "70-62=8\n8-6=2\n36*2=72",
        "<answer>Step 1: 70-62=8\nStep 2: 8-6=2\nStep 3: 36*2=72</answer>",
        "1. 70-62=8\n2. 8-6=2\n3. 36*2=72",
        "70-62=8; 8-6=2; 36*2=72",
    ]:
        v = DEFAULT.verify(p, answer)
        assert v.ok, (answer, v.reason)
    assert not DEFAULT.verify(p, "<answer>36*(70-62-6) = 71</answer>").ok
    assert not DEFAULT.verify(p, "").ok


def test_detect_kind():
    assert detect_kind("36*(70-62-6)") == "expression"
    assert detect_kind("<answer>70-62=8\n8-6=2</answer>") == "steps"
    assert detect_kind("70-62=8") == "steps"
    assert detect_kind("Current State: 72:[1, 2], Operations: []") == "trace"
    assert detect_kind("<think>\nStep 1: 1+1=2\n</think>") == "think"


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("70-62=8", Step(70, "-", 62, 8)),
        (" 8 * 6 = 48 ", Step(8, "*", 6, 48)),
        ("8/2=4", Step(8, "/", 2, 4)),
        ("8^2=64", None),
        ("-8+2=6", None),
        ("8+2=", None),
        ("８+2=10", None),
        ("1234567890+1=1234567891", None),
        ("1+1=2=2", None),
        ("", None),
    ],
)
def test_parse_step(text, step):
    assert parse_step(text) == step


# ---- mutations of correct answers are rejected ---------------------------------------------------------
def _digit_spans(expr: str) -> list[tuple[int, int]]:
    spans, i = [], 0
    while i < len(expr):
        if expr[i].isdigit():
            j = i
            while j < len(expr) and expr[j].isdigit():
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def _solved(seed: int) -> tuple[CountdownProblem, list[Step], str]:
    p = DEFAULT.generate(random.Random(seed))
    steps = DEFAULT.solve(p)
    return p, steps, steps_to_expression(p.numbers, steps)


@given(seed=SEEDS, which=st.integers(0, 3), delta=st.integers(1, 50))
def test_changing_one_number_of_the_answer_is_rejected(seed, which, delta):
    p, _, expr = _solved(seed)
    assert DEFAULT.verify(p, f"<answer>{expr}</answer>").ok
    start, end = _digit_spans(expr)[which]
    new = int(expr[start:end]) + delta
    mutated = expr[:start] + str(new) + expr[end:]
    assert not DEFAULT.verify(p, mutated).ok, mutated
    assert not DEFAULT.verify(p, f"<answer>{mutated}</answer>").ok, mutated


@given(seed=SEEDS, src=st.integers(0, 3), dst=st.integers(0, 3))
def test_using_a_number_twice_is_rejected(seed, src, dst):
    p, _, expr = _solved(seed)
    spans = _digit_spans(expr)
    value = expr[slice(*spans[src])]
    assume(value != expr[slice(*spans[dst])])
    start, end = spans[dst]
    mutated = expr[:start] + value + expr[end:]
    assert not DEFAULT.verify(p, mutated).ok, mutated


@given(seed=SEEDS, extra=st.integers(1, 99))
def test_leaving_a_number_out_is_rejected(seed, extra):
    p, steps, expr = _solved(seed)
    bigger = CountdownProblem((*p.numbers, extra), p.target)  # the same answer now leaves `extra` unused
    strict, loose = task_for(n_numbers=5), task_for(n_numbers=5, use_all=False)
    steps_text = "\n".join(map(str, steps))
    for answer in (expr, f"<answer>{expr}</answer>", steps_text):
        assert not strict.verify(bigger, answer).ok, answer
        assert loose.verify(bigger, answer).ok, answer
    # and dropping the last step leaves two numbers
    assert not DEFAULT.verify_steps(p, steps[:-1]).ok
    assert not DEFAULT.verify(p, "\n".join(map(str, steps[:-1]))).ok


@given(seed=SEEDS, other=st.integers(1, 200))
def test_swapping_the_target_is_rejected(seed, other):
    p, steps, expr = _solved(seed)
    assume(other != p.target)
    wrong = CountdownProblem(p.numbers, other)
    assert not DEFAULT.verify(wrong, expr).ok
    assert not DEFAULT.verify_steps(wrong, steps).ok
    assert not DEFAULT.verify(wrong, "\n".join(map(str, steps))).ok
    assert not DEFAULT.verify(p, f"{expr} = {other}").ok


@given(seed=SEEDS, index=st.integers(0, 2), delta=st.integers(-5, 5).filter(bool))
def test_altering_one_step_result_is_rejected(seed, index, delta):
    p, steps, _ = _solved(seed)
    bad = list(steps)
    s = bad[index]
    assume(s.result + delta > 0)
    bad[index] = Step(s.a, s.op, s.b, s.result + delta)
    assert not DEFAULT.verify_steps(p, bad).ok
    assert not DEFAULT.verify(p, "\n".join(map(str, bad))).ok
    assert not DEFAULT.verify(p, "<answer>" + "\n".join(map(str, bad)) + "</answer>").ok


# ---- held-out targets ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("lo", "hi"), [(10, 100), (1, 1000), (50, 59)])
def test_heldout_targets_are_a_tenth_of_the_target_range(lo, hi):
    task = task_for(min_target=lo, max_target=hi)
    held = task.heldout_targets()
    size = hi - lo + 1
    assert held <= set(range(lo, hi + 1))
    assert abs(len(held) - 0.1 * size) <= 1
    assert held == task_for(min_target=lo, max_target=hi).heldout_targets()  # deterministic
    for target in range(lo, hi + 1):
        expected = "test" if target in held else "train"
        assert task.split_of(CountdownProblem((1, 2, 3, 4), target)) == expected


def test_split_depends_on_split_seed_and_fraction():
    assert task_for(split_seed=0).heldout_targets() != task_for(split_seed=1).heldout_targets()
    assert task_for(heldout_target_fraction=0.0).heldout_targets() == frozenset()
    assert len(task_for(heldout_target_fraction=0.5).heldout_targets()) in (45, 46)


def test_generated_problems_fall_in_both_splits():
    rng = random.Random(3)
    splits = [DEFAULT.split_of(DEFAULT.generate(rng)) for _ in range(400)]
    share = splits.count("test") / len(splits)
    assert 0.03 < share < 0.2


def test_vocabulary_has_single_digits_and_operators():
    vocab = DEFAULT.vocabulary()
    for token in [*"0123456789", "+", "-", "*", "/", "="]:
        assert token in vocab


def test_countdown_config_is_frozen():
    with pytest.raises(AttributeError):
        CountdownConfig().n_numbers = 5  # type: ignore[misc]
