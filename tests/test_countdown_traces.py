"""CountDown search and its trace formats: dfs (and beam), think, direct, backtrack-k (compact has its
own file, test_countdown_compact.py).

Every rendered trace must parse back to the renderer's own counts, verify exactly when it is solved,
and carry an answer that replays legally; mutated traces must not verify.
"""

from __future__ import annotations

import random
from functools import cache
from itertools import combinations

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from backtrack import traces
from backtrack.search.events import EventKind, search_stats
from backtrack.tasks import get_task
from backtrack.tasks.countdown import CountdownProblem, Step, apply_step, check_step, parse_step
from backtrack.tasks.countdown.formats import backtrack_k as countdown_backtrack_k
from backtrack.tasks.countdown.formats import dfs as countdown_dfs
from backtrack.tasks.countdown.search import SearchLimits, beam, dfs, exhaustive, solution_path

TASK = get_task("countdown")
SEEDS = st.integers(0, 2**32 - 1)
SAMPLE_SEED = 2024
SAMPLE_SIZE = 1000


def problem_of(seed: int, task=TASK) -> CountdownProblem:
    return task.generate(random.Random(seed))


@cache
def sample() -> tuple[CountdownProblem, ...]:
    """~1000 random 4-number problems of the paper's distribution (the same ones in every test)."""
    rng = random.Random(SAMPLE_SEED)
    return tuple(TASK.generate(rng) for _ in range(SAMPLE_SIZE))


@cache
def unsolved_dfs_problems() -> tuple[CountdownProblem, ...]:
    return tuple(p for p in sample()[:300] if not traces.render("countdown", p, "dfs").solved)


def lines_of(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def check_round_trip(problem: CountdownProblem, fmt: str, trace, task=TASK) -> None:
    """The checks every format shares: counts, validity, verifier and a replayable answer."""
    parsed = traces.parse("countdown", problem, fmt, trace.text)
    assert parsed.valid == trace.solved, parsed.errors[:3]
    assert parsed.goal_claimed == trace.solved or fmt == "backtrack-k"
    assert (parsed.backtracks, parsed.dead_ends, parsed.steps) == (
        trace.backtracks,
        trace.dead_ends,
        trace.steps,
    )
    if fmt != "backtrack-k":  # the parser of our own traces finds nothing to complain about
        assert parsed.errors in ([], ["no goal reached"]), parsed.errors[:3]
    verdict = task.verify(problem, trace.text)
    assert verdict.ok == trace.solved, verdict.reason
    if trace.solved:
        if isinstance(parsed.answer, str):
            assert task.verify_expression(problem, parsed.answer).ok
        else:
            assert task.verify_steps(problem, list(parsed.answer)).ok
            assert parsed.answer[-1].result == problem.target


# ---- dfs / beam ------------------------------------------------------------------------------------
@given(seed=SEEDS, heuristic=st.sampled_from(["sum", "mult"]))
@example(seed=0, heuristic="sum")
def test_dfs_trace_round_trips(seed, heuristic):
    p = problem_of(seed)
    trace = traces.render("countdown", p, "dfs", heuristic=heuristic)
    check_round_trip(p, "dfs", trace)
    lines = lines_of(trace.text)
    assert lines[0] == f"Current State: {p.target}:[{', '.join(map(str, p.numbers))}], Operations: []"
    goals = [line for line in lines if line.endswith("Goal Reached")]
    assert goals == ([f"{p.target},{p.target} equal: Goal Reached"] if trace.solved else [])
    if trace.solved:
        assert lines[-1] == goals[0]
    stats = search_stats(dfs(p, SearchLimits(heuristic=heuristic)))
    assert (stats.solved, stats.backtracks, stats.dead_ends, stats.generated) == (
        trace.solved,
        trace.backtracks,
        trace.dead_ends,
        trace.steps,
    )
    assert trace.stats()["chars"] == len(trace.text)


@given(seed=SEEDS, width=st.integers(1, 5), heuristic=st.sampled_from(["sum", "mult"]))
def test_beam_trace_round_trips(seed, width, heuristic):
    p = problem_of(seed)
    trace = traces.render("countdown", p, "dfs", search="beam", beam_width=width, heuristic=heuristic)
    check_round_trip(p, "dfs", trace)
    stats = search_stats(beam(p, width, SearchLimits(heuristic=heuristic)))
    assert (stats.solved, stats.dead_ends, stats.generated) == (trace.solved, trace.dead_ends, trace.steps)


@given(
    nums=st.lists(st.integers(1, 30), min_size=3, max_size=3).map(tuple),
    target=st.integers(1, 100),
    heuristic=st.sampled_from(["sum", "mult"]),
)
def test_unpruned_beam_as_wide_as_a_level_is_exhaustive(nums, target, heuristic):
    # three numbers: at most 3 pairs x 4 operations = 12 nodes on the middle level
    p = CountdownProblem(nums, target)
    stats = search_stats(beam(p, 12, SearchLimits(heuristic=heuristic, prune=False)))
    assert stats.solved == TASK.is_solvable(p)


@given(seed=SEEDS, heuristic=st.sampled_from(["sum", "mult"]))
def test_think_trace_round_trips(seed, heuristic):
    p = problem_of(seed)
    trace = traces.render("countdown", p, "think", heuristic=heuristic)
    check_round_trip(p, "think", trace)
    full = traces.render("countdown", p, "dfs", heuristic=heuristic)
    assert trace.solved == full.solved  # the same search, the last level decided silently
    assert len(trace.text) <= len(full.text)
    for line in lines_of(trace.text):
        if line.endswith("No Solution"):
            assert line.startswith("[") and line.count(",") == 1, line  # a two-number state


@given(
    seed=SEEDS,
    fmt=st.sampled_from(["dfs", "think"]),
    order=st.sampled_from(["generation", "random"]),
    prune=st.booleans(),
)
def test_every_child_order_gives_a_trace_that_round_trips(seed, fmt, order, prune):
    p = problem_of(seed)
    trace = traces.render("countdown", p, fmt, rng=random.Random(seed), order=order, prune=prune)
    check_round_trip(p, fmt, trace)
    if not prune:  # the order changes which path is found first, never whether one is
        assert trace.solved == TASK.is_solvable(p)


def explored_at_root(text: str) -> list[str]:
    """The operations tried on the first state, in order (the lines right after a root state)."""
    lines = lines_of(text)
    return [
        lines[i + 1].split(",")[0] for i, line in enumerate(lines[:-1]) if line.endswith("Operations: []")
    ]


def test_generation_order_tries_pairs_left_to_right_and_operations_in_stream_of_search_order():
    p = CountdownProblem((2, 3, 4), 100)  # unsolvable: every root child is tried, none pruned (target 100)
    trace = traces.render("countdown", p, "think", order="generation", prune=False)
    ops = [line.removeprefix("Exploring Operation: ") for line in explored_at_root(trace.text)]
    assert ops == ["2+3=5", "2*3=6", "3-2=1", "2+4=6", "2*4=8", "4-2=2", "4/2=2", "3+4=7", "3*4=12", "4-3=1"]
    heuristic = explored_at_root(traces.render("countdown", p, "think", heuristic="sum", prune=False).text)
    assert sorted(heuristic) == sorted(explored_at_root(trace.text)) != heuristic


def test_random_order_follows_the_rng_and_heuristic_order_ties_results_to_the_target():
    p = CountdownProblem((2, 3, 4), 100)
    drawn = {
        tuple(
            explored_at_root(
                traces.render("countdown", p, "think", rng=random.Random(s), order="random", prune=False).text
            )
        )
        for s in range(6)
    }
    assert len(drawn) > 1
    again = traces.render("countdown", p, "think", rng=random.Random(3), order="random", prune=False)
    assert tuple(explored_at_root(again.text)) in drawn
    # heuristic order: the first result explored is the one closest to the target
    first = explored_at_root(traces.render("countdown", p, "think", heuristic="sum", prune=False).text)[0]
    assert first.endswith("=12")


def test_unknown_order_and_a_beam_in_another_order_are_rejected():
    p = CountdownProblem((62, 36, 6, 70), 72)
    with pytest.raises(ValueError, match="unknown order"):
        traces.render("countdown", p, "dfs", order="bfs")
    with pytest.raises(ValueError, match="DFS only"):
        traces.render("countdown", p, "dfs", search="beam", order="random")


@given(seed=SEEDS)
def test_direct_trace_round_trips(seed):
    p = problem_of(seed)
    trace = traces.render("countdown", p, "direct")
    check_round_trip(p, "direct", trace)
    assert trace.solved and trace.backtracks == 0 and trace.dead_ends == 0
    assert trace.steps == len(p.numbers) - 1
    parsed = traces.parse("countdown", p, "direct", trace.text)
    assert parsed.answer == solution_path(p)


@given(
    seed=SEEDS, heuristic=st.sampled_from(["sum", "mult", "random"]), search=st.sampled_from(["dfs", "beam"])
)
def test_rendering_is_deterministic(seed, heuristic, search):
    p = problem_of(seed)
    first = traces.render("countdown", p, "dfs", rng=random.Random(seed), heuristic=heuristic, search=search)
    again = traces.render("countdown", p, "dfs", rng=random.Random(seed), heuristic=heuristic, search=search)
    assert first == again


@given(seed=SEEDS)
def test_subset_rule_dfs_trace_round_trips(seed):
    task = get_task("countdown", use_all=False)
    p = problem_of(seed, task)
    trace = traces.render("countdown", p, "dfs", use_all=False)
    parsed = countdown_dfs.parse(p, trace.text, use_all=False)
    assert parsed.valid == trace.solved
    assert (parsed.backtracks, parsed.dead_ends, parsed.steps) == (
        trace.backtracks,
        trace.dead_ends,
        trace.steps,
    )
    assert task.verify(p, trace.text).ok == trace.solved
    if trace.solved:
        assert task.verify_steps(p, list(parsed.answer)).ok


def test_unknown_format_search_and_heuristic_are_rejected():
    p = CountdownProblem((62, 36, 6, 70), 72)
    with pytest.raises(ValueError, match="unknown format"):
        traces.render("countdown", p, "bfs")
    with pytest.raises(ValueError, match="unknown search"):
        traces.render("countdown", p, "dfs", search="astar")
    with pytest.raises(ValueError, match="heuristic"):
        traces.render("countdown", p, "dfs", heuristic="max")
    with pytest.raises(ValueError, match="beam width"):
        traces.render("countdown", p, "dfs", search="beam", beam_width=0)
    assert set(traces.formats("countdown")) == {"dfs", "direct", "think", "compact", "backtrack-k"}


def test_formats_need_a_solvable_problem():
    p = CountdownProblem((1, 1, 1, 1), 97)
    assert not TASK.is_solvable(p)
    for fmt in ("direct", "backtrack-k"):
        with pytest.raises(ValueError, match="no solution"):
            traces.render("countdown", p, fmt)
    trace = traces.render("countdown", p, "dfs")  # a search trace of a failed search is still a trace
    check_round_trip(p, "dfs", trace)
    assert not trace.solved


def test_dfs_solves_about_the_papers_share():
    problems = sample()
    solved = sum(traces.render("countdown", p, "dfs", heuristic="sum").solved for p in problems)
    share = solved / len(problems)
    print(f"DFS (sum heuristic) solved {solved}/{len(problems)} = {share:.1%} of random 4-number problems")
    assert 0.6 <= share <= 0.9


def test_exhaustive_search_solves_every_solvable_problem():
    for p in sample()[:200]:
        events = list(exhaustive(p))
        assert any(e.kind is EventKind.GOAL for e in events)
        assert TASK.verify_steps(p, list(solution_path(p))).ok


@given(
    nums=st.lists(st.integers(1, 12), min_size=2, max_size=4).map(tuple),
    target=st.integers(1, 60),
    use_all=st.booleans(),
)
def test_exhaustive_search_agrees_with_is_solvable(nums, target, use_all):
    p = CountdownProblem(nums, target)
    task = get_task("countdown", use_all=use_all)
    if not use_all:
        assume(target not in nums)  # a zero-operation "solution"; see test_countdown's subset-rule test
    found = any(e.kind is EventKind.GOAL for e in exhaustive(p, use_all))
    assert found == task.is_solvable(p)
    path = solution_path(p, use_all)
    assert (path is not None) == found
    if path:
        assert task.verify_steps(p, list(path)).ok


# ---- backtrack-k ---------------------------------------------------------------------------------------
@cache
def _reach(nums: tuple[int, ...]) -> frozenset[int]:
    """Final values of games using all of ``nums`` (sorted), by brute force."""
    if len(nums) == 1:
        return frozenset(nums)
    out: set[int] = set()
    for i, j in combinations(range(len(nums)), 2):
        rest = [nums[k] for k in range(len(nums)) if k not in (i, j)]
        a, b = nums[i], nums[j]
        values = {a + b, a * b, abs(a - b)} - {0}
        if max(a, b) % min(a, b) == 0:
            values.add(max(a, b) // min(a, b))
        for v in values:
            out |= _reach(tuple(sorted([*rest, v])))
    return frozenset(out)


def max_wrong_branches(p: CountdownProblem, path: tuple[Step, ...]) -> int:
    """How many distinct wrong branches (leaving point, first operation) the problem allows."""
    state, options = p.numbers, set()
    for at, correct in enumerate(path):
        for i, j in combinations(range(len(state)), 2):
            a, b = state[i], state[j]
            hi, lo = max(a, b), min(a, b)
            firsts = [Step(a, "+", b, a + b), Step(a, "*", b, a * b)]
            if hi > lo:
                firsts.append(Step(hi, "-", lo, hi - lo))
            if hi % lo == 0:
                firsts.append(Step(hi, "/", lo, hi // lo))
            for first in firsts:
                if first == correct:
                    continue
                after = apply_step(state, first)
                if _reach(tuple(sorted(after))) - {p.target}:
                    options.add((at, first))
        state = apply_step(state, correct)
    return len(options)


def wrong_branches(p: CountdownProblem, text: str) -> list[tuple[int, tuple[Step, ...], tuple[int, ...]]]:
    """Replay a backtrack-k text: each wrong branch as (leaving step, its steps, its final state),
    checking that every step is legal on the state it acts on."""
    stack: list[tuple[tuple[int, ...], Step | None]] = [(p.numbers, None)]
    branches = []
    for line in lines_of(text):
        if line.startswith("Step "):
            number, _, rest = line[5:].partition(": ")
            step = parse_step(rest.partition(", left")[0])
            assert int(number) == len(stack), line
            assert check_step(stack[-1][0], step) is None, line
            after = apply_step(stack[-1][0], step)
            assert rest.endswith(f"left [{', '.join(map(str, after))}]"), line
            stack.append((after, step))
        elif line.startswith("Wait"):
            where = line.rpartition("go back to ")[2].rstrip(".")
            back = 0 if where == "the start" else int(where.removeprefix("step "))
            final = stack[-1][0]
            branches.append((back, tuple(s for _, s in stack[back + 1 :]), final))
            del stack[back + 1 :]
    return branches


@given(seed=SEEDS, k=st.integers(0, 4), small=st.booleans(), rng_seed=st.integers(0, 1000))
@example(seed=0, k=4, small=True, rng_seed=0)
@example(seed=406, k=2, small=True, rng_seed=83)  # a problem with two 4s: both branches start 4+5=9
def test_backtrack_k_has_exactly_k_distinct_legal_wrong_branches(seed, k, small, rng_seed):
    # small numbers repeat often, which is where distinctness is easy to get wrong
    task = get_task("countdown", max_number=6, min_target=10, max_target=40) if small else TASK
    p = problem_of(seed, task)
    path = solution_path(p)
    most = max_wrong_branches(p, path)
    if k > most:
        with pytest.raises(ValueError):
            traces.render("countdown", p, "backtrack-k", k=k, rng=random.Random(rng_seed))
        return
    trace = traces.render("countdown", p, "backtrack-k", k=k, rng=random.Random(rng_seed))
    check_round_trip(p, "backtrack-k", trace)
    assert trace.solved and trace.backtracks == k and trace.dead_ends == k
    branches = wrong_branches(p, trace.text)
    assert len(branches) == k
    assert len({(at, steps[0]) for at, steps, _ in branches}) == k, branches
    for at, steps, final in branches:
        assert len(final) == 1 and final[0] != p.target
        assert steps and steps[0] != path[at]
    last = lines_of(trace.text)[-1]
    assert last.startswith("<answer>") and last.endswith("</answer>")


def test_backtrack_k_repeated_numbers_give_distinct_branches():
    # (5, 5, 3) -> 13 has two pairs (5, 3); the same wrong branch must not be written twice.
    p = CountdownProblem((5, 5, 3), 13)
    path = solution_path(p)
    most = max_wrong_branches(p, path)
    for seed in range(20):
        for k in range(1, most + 1):
            trace = traces.render("countdown", p, "backtrack-k", k=k, rng=random.Random(seed))
            branches = wrong_branches(p, trace.text)
            assert len(set(branches)) == len(branches) == k, (seed, k, trace.text)
    with pytest.raises(ValueError):
        traces.render("countdown", p, "backtrack-k", k=most + 1)


def test_backtrack_k_limits():
    p = CountdownProblem((2, 3), 6)  # one correct step; the wrong ones are 2+3 and 3-2
    assert max_wrong_branches(p, solution_path(p)) == 2
    trace = traces.render("countdown", p, "backtrack-k", k=2)
    assert trace.backtracks == 2
    with pytest.raises(ValueError, match="k=3"):
        traces.render("countdown", p, "backtrack-k", k=3)
    with pytest.raises(ValueError):
        traces.render("countdown", p, "backtrack-k", k=-1)
    with pytest.raises(ValueError, match="use_all"):
        traces.render("countdown", p, "backtrack-k", k=1, use_all=False)


def test_backtrack_k_zero_is_the_plain_solution():
    p = CountdownProblem((62, 36, 6, 70), 72)
    trace = traces.render("countdown", p, "backtrack-k", k=0)
    assert "Wait" not in trace.text
    assert trace.steps == 3 and trace.backtracks == 0
    check_round_trip(p, "backtrack-k", trace)


# ---- mutated traces ---------------------------------------------------------------------------------
def goal_path_line(lines: list[str], path: tuple[Step, ...], index: int) -> int:
    """The line where the DFS explored the ``index``-th step of its goal path: the last Exploring line
    written while at the node whose operations are ``path[:index]`` (DFS never returns to it)."""
    ops = "[" + ", ".join(f"'{s}'" for s in path[:index]) + "]"
    at_node, found = False, None
    for n, line in enumerate(lines):
        if line.startswith("Current State:"):
            at_node = line.endswith(f"Operations: {ops}")
        elif at_node and line.startswith(f"Exploring Operation: {path[index]},"):
            found = n
    assert found is not None
    return found


def _other_op(state: tuple[int, ...], step: Step) -> Step:
    for op in "+-*/":
        wrong = Step(step.a, op, step.b, step.result)
        if op != step.op and check_step(state, wrong) is not None:
            return wrong
    raise AssertionError(step)


@given(seed=SEEDS, fmt=st.sampled_from(["dfs", "think", "direct"]), index=st.integers(0, 2))
def test_altering_an_operation_on_the_goal_path_makes_the_trace_invalid(seed, fmt, index):
    p = problem_of(seed)
    trace = traces.render("countdown", p, fmt)
    assume(trace.solved)
    path = traces.parse("countdown", p, fmt, trace.text).answer
    lines = lines_of(trace.text)
    n = goal_path_line(lines, path, index)
    state = p.numbers
    for s in path[:index]:
        state = apply_step(state, s)
    wrong = _other_op(state, path[index])
    lines[n] = lines[n].replace(f"Operation: {path[index]},", f"Operation: {wrong},", 1)
    text = "\n".join(lines) + "\n"
    parsed = traces.parse("countdown", p, fmt, text)
    assert not parsed.valid
    assert not TASK.verify(p, text).ok


@given(seed=SEEDS, fmt=st.sampled_from(["dfs", "think", "direct"]), index=st.integers(0, 2))
def test_altering_a_result_on_the_goal_path_makes_the_trace_invalid(seed, fmt, index):
    p = problem_of(seed)
    trace = traces.render("countdown", p, fmt)
    assume(trace.solved)
    path = traces.parse("countdown", p, fmt, trace.text).answer
    lines = lines_of(trace.text)
    n = goal_path_line(lines, path, index)
    s = path[index]
    lines[n] = lines[n].replace(f"Operation: {s},", f"Operation: {s.a}{s.op}{s.b}={s.result + 1},", 1)
    text = "\n".join(lines) + "\n"
    assert not traces.parse("countdown", p, fmt, text).valid
    assert not TASK.verify(p, text).ok


@pytest.mark.parametrize("which", range(12))
def test_a_fake_goal_line_does_not_make_an_unsolved_trace_valid(which):
    unsolved = unsolved_dfs_problems()
    assert len(unsolved) >= 12
    p = unsolved[which]
    t = p.target
    for fmt in ("dfs", "think"):
        text = traces.render("countdown", p, fmt).text
        last_value = next(
            (
                line.partition(",")[0]
                for line in reversed(lines_of(text))
                if line.endswith("unequal: No Solution")
            ),
            "1",
        )
        for fake in (
            f"{t},{t} equal: Goal Reached",
            f"{last_value},{t} equal: Goal Reached",
            f"Exploring Operation: 1+1={t}, Resulting Numbers: [{t}]\n{t},{t} equal: Goal Reached",
            f"Moving to Node #0\n{t},{t} equal: Goal Reached",
        ):
            forged = text + fake + "\n"
            parsed = traces.parse("countdown", p, fmt, forged)
            assert parsed.goal_claimed
            assert not parsed.valid, (fmt, fake)
            assert not TASK.verify(p, forged).ok


def test_a_fake_goal_line_on_an_unsolved_beam_trace_is_invalid():
    for p in sample()[:60]:
        trace = traces.render("countdown", p, "dfs", search="beam", beam_width=1)
        if trace.solved:
            continue
        forged = trace.text + f"{p.target},{p.target} equal: Goal Reached\n"
        assert not TASK.verify(p, forged).ok


@given(seed=SEEDS, fmt=st.sampled_from(["dfs", "think", "direct"]), pick=st.integers(0, 10_000))
def test_a_wrong_state_in_a_current_state_line_is_reported(seed, fmt, pick):
    p = problem_of(seed)
    lines = lines_of(traces.render("countdown", p, fmt).text)
    states = [n for n, line in enumerate(lines) if line.startswith("Current State:")]
    n = states[pick % len(states)]
    head, _, tail = lines[n].partition(":[")
    nums, _, rest = tail.partition("]")
    values = [int(v) for v in nums.split(", ")]
    values[0] += 1
    lines[n] = f"{head}:[{', '.join(map(str, values))}]{rest}"
    parsed = traces.parse("countdown", p, fmt, "\n".join(lines) + "\n")
    assert any(e.startswith(f"line {n + 1}:") and "state" in e for e in parsed.errors), parsed.errors[:3]


@given(seed=SEEDS, fmt=st.sampled_from(["dfs", "think"]))
def test_a_wrong_resulting_numbers_claim_is_reported(seed, fmt):
    p = problem_of(seed)
    lines = lines_of(traces.render("countdown", p, fmt).text)
    explored = [i for i, line in enumerate(lines) if line.startswith("Exploring Operation:")]
    assume(explored)  # the pruning may leave the root without children
    n = explored[0]
    head, _, nums = lines[n].partition("Resulting Numbers: [")
    lines[n] = f"{head}Resulting Numbers: [999, {nums}"
    parsed = traces.parse("countdown", p, fmt, "\n".join(lines) + "\n")
    assert any(e.startswith(f"line {n + 1}:") for e in parsed.errors)


def test_reaching_the_goal_elsewhere_then_moving_does_not_misreport_the_answer():
    # The winning operation 4+6=10 is explored at node #0,0, then the text moves to node #0,1
    # and claims the goal there: the answer the parser reports must replay (or the trace be invalid).
    p = CountdownProblem((2, 3, 4), 10)
    text = "\n".join(
        [
            "Current State: 10:[2, 3, 4], Operations: []",
            "Exploring Operation: 2*3=6, Resulting Numbers: [4, 6]",
            "Generated Node #0,0: 10:[4, 6] Operation: 2*3=6",
            "Exploring Operation: 2+3=5, Resulting Numbers: [4, 5]",
            "Generated Node #0,1: 10:[4, 5] Operation: 2+3=5",
            "Moving to Node #0,0",
            "Current State: 10:[4, 6], Operations: ['2*3=6']",
            "Exploring Operation: 4+6=10, Resulting Numbers: [10]",
            "Moving to Node #0,1",
            "Current State: 10:[4, 5], Operations: ['2+3=5']",
            "10,10 equal: Goal Reached",
        ]
    )
    parsed = countdown_dfs.parse(p, text)
    assert not parsed.valid or TASK.verify_steps(p, list(parsed.answer)).ok, parsed.answer


def test_backtrack_k_answer_decides_validity():
    p = CountdownProblem((62, 36, 6, 70), 72)
    text = traces.render("countdown", p, "backtrack-k", k=2).text
    assert TASK.verify(p, text).ok
    for wrong in ["36*(70-62-5)", "36*(70-62-6)+1", "36*(70-62)", "72"]:
        forged = (
            text.replace("<answer>", "<answer>X", 1).split("<answer>X")[0] + f"<answer>{wrong}</answer>\n"
        )
        assert not TASK.verify(p, forged).ok, wrong
        assert not countdown_backtrack_k.parse(p, forged).valid
    assert not TASK.verify(p, text.split("<answer>")[0]).ok  # no answer at all
