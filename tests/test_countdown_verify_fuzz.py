"""The CountDown verifier as a security boundary.

``verify`` receives untrusted model text. Whatever it gets, it must return a ``Verdict`` quickly
(< 50 ms, measured after a warm-up call), never raise, never run code, and never accept
an answer that an independent checker (written here) rejects.
"""

from __future__ import annotations

import ast
import builtins
import gc
import os
import random
import re
import string
import subprocess
import time
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backtrack import traces
from backtrack.tasks import base as task_base
from backtrack.tasks import get_task
from backtrack.tasks.base import MAX_ANSWER_CHARS, Verdict
from backtrack.tasks.countdown import CountdownProblem, extract_answer, steps_to_expression
from backtrack.tasks.countdown.formats import backtrack_k as countdown_backtrack_k
from backtrack.tasks.countdown.formats import compact as countdown_compact
from backtrack.tasks.countdown.formats import dfs as countdown_dfs

TASK = get_task("countdown")
LOOSE = get_task("countdown", use_all=False)
PROBLEM = CountdownProblem((62, 36, 6, 70), 72)
GOOD = "36*(70-62-6)"
LIMIT_S = 0.05
SEEDS = st.integers(0, 2**32 - 1)
HEAD = "Current State: 72:[62, 36, 6, 70], Operations: []\n"
EXPLORE = "Exploring Operation: 70-62=8, Resulting Numbers: [36, 6, 8]\n"


def timed_verify(text, problem=PROBLEM, task=TASK, warm_up=True) -> Verdict:
    """Verify, asserting a well-formed verdict within the budget.

    One measurement after an optional warm-up call on the same input; only when that one is over the
    budget is it repeated (best of five), so that other processes on a busy machine do not fail a
    verdict that is fast by itself. The test process's own garbage collection is not the verifier's
    time and is kept out of the measurement."""
    if warm_up:
        task.verify(problem, text)
    best = float("inf")
    for _ in range(5):
        gc.disable()
        try:
            start = time.perf_counter()
            verdict = task.verify(problem, text)
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
        if best < LIMIT_S:
            break
    assert isinstance(verdict, Verdict)
    assert isinstance(verdict.ok, bool) and isinstance(verdict.reason, str) and verdict.reason
    assert best < LIMIT_S, f"verify took {best * 1000:.1f} ms on {len(text)} chars: {text[:60]!r}"
    return verdict


@pytest.fixture(scope="module", autouse=True)
def warm_up():
    """Import the lazily loaded parsers and fill caches before anything is timed."""
    for text in [GOOD, "70-62=8\n8-6=2\n36*2=72", HEAD + EXPLORE, "<think>\n</think>\n<answer>1</answer>"]:
        TASK.verify(PROBLEM, text)
        LOOSE.verify(PROBLEM, text)


# ---- independent checkers (the verifier may accept only what these accept) -------------------------
def oracle_expression(problem: CountdownProblem, text: str, use_all: bool = True) -> bool:
    """Evaluate a CountDown expression with Python's own parser, after allowing only digits, the four
    operators, brackets and blanks (so parsing it is safe): exact, positive integer intermediates."""
    lhs, sep, rhs = text.partition("=")
    rhs = rhs.strip()
    if sep and not (re.fullmatch("[0-9]{1,12}", rhs) and int(rhs) == problem.target):
        return False
    lhs = lhs.strip()
    if not lhs or not set(lhs) <= set("0123456789+-*/() \t") or "**" in lhs or "//" in lhs:
        return False
    try:
        tree = ast.parse(lhs, mode="eval")
    except SyntaxError:
        return False
    literals: list[int] = []

    def value(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            literals.append(node.value)
            return Fraction(node.value)
        if isinstance(node, ast.BinOp):
            x, y = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                out = x + y
            elif isinstance(node.op, ast.Sub):
                out = x - y
            elif isinstance(node.op, ast.Mult):
                out = x * y
            elif isinstance(node.op, ast.Div) and y != 0:
                out = x / y
            else:
                raise ValueError("operator")
            if out.denominator != 1 or out <= 0:
                raise ValueError("intermediate")
            return out
        raise ValueError(type(node).__name__)

    try:
        result = value(tree.body)
    except ValueError:
        return False
    have, used = Counter(problem.numbers), Counter(literals)
    fits = used == have if use_all else not (used - have)
    return fits and result == problem.target


_STEP_AT_END = re.compile(r"([0-9]+)\s*([-+*/])\s*([0-9]+)\s*=\s*([0-9]+)\s*$")


def oracle_steps(problem: CountdownProblem, text: str, use_all: bool = True) -> bool:
    """Replay ``a op b = c`` lines (whatever prefix they carry) with the game's rules."""
    state = list(problem.numbers)
    last = None
    for line in re.split(r"[\n,;]", extract_answer(text)):
        if not line.strip():
            continue
        match = _STEP_AT_END.search(line)
        if not match:
            return False
        a, op, b, c = int(match[1]), match[2], int(match[3]), int(match[4])
        if op == "+":
            ok = a + b == c
        elif op == "*":
            ok = a * b == c
        elif op == "-":
            ok = a > b and a - b == c
        else:
            ok = b > 0 and a % b == 0 and a // b == c
        if not ok:
            return False
        for n in (a, b):
            if n not in state:
                return False
            state.remove(n)
        state.append(c)
        last = c
    if last is None or last != problem.target:
        return False
    return len(state) == 1 or not use_all


def assert_sound(problem: CountdownProblem, text: str, verdict: Verdict, use_all: bool = True) -> None:
    """An accepted answer must be right by the independent checkers."""
    if not verdict.ok:
        return
    if verdict.kind == "expression":
        assert oracle_expression(problem, extract_answer(text), use_all), text
    elif verdict.kind == "steps":
        assert oracle_steps(problem, text, use_all), text
    elif verdict.kind == "trace":
        parsed = countdown_dfs.parse(problem, text, use_all=use_all)
        assert parsed.valid
        task = TASK if use_all else LOOSE
        assert task.verify_steps(problem, list(parsed.answer)).ok, text[-300:]
    elif verdict.kind == "compact":
        parsed = countdown_compact.parse(problem, text, use_all=use_all)
        assert parsed.valid
        task = TASK if use_all else LOOSE
        assert task.verify_steps(problem, list(parsed.answer)).ok, text[-300:]
    elif verdict.kind == "think":
        parsed = countdown_backtrack_k.parse(problem, text, use_all=use_all)
        assert oracle_expression(problem, parsed.answer, use_all), parsed.answer
    else:
        raise AssertionError(f"unexpected kind {verdict.kind!r} of an accepted answer")


def test_the_winning_trace_prefix_is_valid():
    assert timed_verify(HEAD + WINNING + "72,72 equal: Goal Reached\n").ok


def test_oracles_agree_on_known_answers():
    assert oracle_expression(PROBLEM, GOOD) and oracle_expression(PROBLEM, GOOD + " = 72")
    assert not oracle_expression(PROBLEM, "36*(70-62)-6")
    assert not oracle_expression(PROBLEM, "(6-62+70)*36")
    assert oracle_steps(PROBLEM, "70-62=8\n8-6=2\n36*2=72")
    assert not oracle_steps(PROBLEM, "70-62=8\n8-6=2")
    assert oracle_steps(PROBLEM, "70-62=8\n8-6=2", use_all=False) is False  # 2 is not the target


# ---- random input ---------------------------------------------------------------------------------------
@given(text=st.text(max_size=2000))
def test_random_text_gets_a_fast_verdict(text):
    verdict = timed_verify(text, warm_up=False)
    assert_sound(PROBLEM, text, verdict)


@given(text=st.text(alphabet=string.printable, max_size=3000))
def test_random_printable_garbage_gets_a_fast_verdict(text):
    verdict = timed_verify(text, warm_up=False)
    assert_sound(PROBLEM, text, verdict)


FRAGMENTS = [
    "Current State: ",
    "Try ",
    "[36, 2]: ",
    ". Goal Reached",
    ". No Solution",
    "72:",
    "[62, 36, 6, 70]",
    "[36, 6, 8]",
    ", Operations: ",
    "[]",
    "['70-62=8']",
    "Exploring Operation: ",
    "70-62=8",
    "8-6=2",
    "36*2=72",
    ", Resulting Numbers: ",
    "Generated Node #",
    "0,0",
    "0,1,2",
    "Moving to Node #",
    " unequal: No Solution",
    " equal: Goal Reached",
    "72,72",
    "] No Solution",
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "Step ",
    "1",
    "2",
    ": ",
    ", left ",
    "Wait, ",
    "Let me go back to ",
    "step ",
    "the start",
    ".",
    GOOD,
    "=",
    " ",
    ",",
    "\n",
    "\n",
    "²",
    "７２",
    "٧",
    "\t",
]
SOUP = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=80).map("".join)


@given(text=SOUP, use_all=st.booleans())
def test_trace_like_soup_gets_a_fast_sound_verdict(text, use_all):
    task = TASK if use_all else LOOSE
    verdict = timed_verify(text, task=task, warm_up=False)
    assert verdict.kind != "error", verdict.reason  # no internal exception behind the verdict
    assert_sound(PROBLEM, text, verdict, use_all)


@given(text=SOUP)
def test_trace_parsers_never_raise(text):
    for fmt in traces.formats("countdown"):
        parsed = traces.parse("countdown", PROBLEM, fmt, text)
        assert isinstance(parsed.valid, bool)
        assert not parsed.valid or parsed.goal_claimed


WINNING = (  # the goal path of PROBLEM, up to its last operation
    EXPLORE
    + "Generated Node #0,0: 72:[36, 6, 8] Operation: 70-62=8\nMoving to Node #0,0\n"
    + "Current State: 72:[36, 6, 8], Operations: ['70-62=8']\n"
    + "Exploring Operation: 8-6=2, Resulting Numbers: [36, 2]\n"
    + "Generated Node #0,0,0: 72:[36, 2] Operation: 8-6=2\nMoving to Node #0,0,0\n"
    + "Current State: 72:[36, 2], Operations: ['70-62=8', '8-6=2']\n"
    + "Exploring Operation: 36*2=72, Resulting Numbers: [72]\n"
)
UNICODE_DIGIT_TRACES = {
    "dfs target": "Current State: ²:[62, 36, 6, 70], Operations: []\n",
    "dfs dead end": HEAD + EXPLORE + "²,72 unequal: No Solution\n",
    "dfs goal": HEAD + WINNING + "²,72 equal: Goal Reached\n",
    "think step number": f"<think>\nStep ²: 70-62=8, left [36, 6, 8]\n</think>\n<answer>{GOOD}</answer>\n",
    "think go back": (
        "<think>\nStep 1: 70-62=8, left [36, 6, 8]\nWait, 8 is not 72. Let me go back to step ².\n"
        f"</think>\n<answer>{GOOD}</answer>\n"
    ),
}


@pytest.mark.parametrize("name", UNICODE_DIGIT_TRACES)
def test_unicode_digits_in_trace_lines_do_not_crash_the_parsers(name):
    # '²'.isdigit() is True but int('²') raises: the parsers must not trust str.isdigit().
    text = UNICODE_DIGIT_TRACES[name]
    verdict = timed_verify(text)
    assert verdict.kind != "error", verdict.reason
    assert not verdict.ok or "think" in name
    countdown_dfs.parse(PROBLEM, text)
    countdown_backtrack_k.parse(PROBLEM, text)


# ---- mutated correct answers ------------------------------------------------------------------------------
EDIT_TOKENS = [*"0123456789+-*/()= \n,;:[]#<>'", "²", "７", "Step 1: ", "Wait", " equal: Goal Reached", "\t"]
EDITS = st.lists(
    st.tuples(
        st.integers(0, 10**6), st.sampled_from(["insert", "delete", "replace"]), st.sampled_from(EDIT_TOKENS)
    ),
    min_size=1,
    max_size=6,
)


def correct_answer(problem: CountdownProblem, kind: str) -> str:
    steps = TASK.solve(problem)
    expr = steps_to_expression(problem.numbers, steps)
    if kind == "expression":
        return expr
    if kind == "tagged":
        return f"Let me think.\n<answer>{expr} = {problem.target}</answer>"
    if kind == "steps":
        return "\n".join(f"Step {i}: {s}" for i, s in enumerate(steps, 1))
    if kind == "backtrack-k":
        return traces.render("countdown", problem, "backtrack-k", k=1).text
    return traces.render("countdown", problem, kind).text  # dfs, think, compact, direct


def mutate(text: str, edits) -> str:
    for position, action, token in edits:
        i = position % (len(text) + 1)
        if action == "insert":
            text = text[:i] + token + text[i:]
        elif action == "delete":
            text = text[:i] + text[i + len(token) :]
        else:
            text = text[:i] + token + text[i + len(token) :]
    return text


@given(
    seed=SEEDS,
    kind=st.sampled_from(
        ["expression", "tagged", "steps", "direct", "dfs", "think", "compact", "backtrack-k"]
    ),
    edits=EDITS,
)
def test_mutated_correct_answers_get_fast_sound_verdicts(seed, kind, edits):
    problem = TASK.generate(random.Random(seed))
    original = correct_answer(problem, kind)
    if kind not in ("dfs", "think"):  # a dfs search may fail; every other form is a solution
        assert TASK.verify(problem, original).ok
    text = mutate(original, edits)
    verdict = timed_verify(text, problem=problem, warm_up=False)
    assert_sound(problem, text, verdict)


# ---- named attacks --------------------------------------------------------------------------------------
ATTACKS = {
    "power tower": "9**9**9**9",
    "power tower in tags": "<answer>9**9**9**9</answer>",
    "big power": "2**10000",
    "reward worker hang": "50**60**70",
    "power equals target": "72**1",
    "deep nesting": "(" * 10_000 + "1" + ")" * 10_000,
    "deep nesting in tags": "<answer>" + "(" * 10_000 + GOOD + ")" * 10_000 + "</answer>",
    "nesting just past the bound": "(" * 40 + GOOD + ")" * 40,
    "unbalanced brackets": "(" * 5000,
    "huge literal": "9" * 100_000,
    "huge literal times one": "9" * 100_000 + "*1",
    "huge literal step": "9" * 100_000 + "+1=" + "9" * 100_000,
    "long literal": "72" + "0" * 50,
    "leading zeros": "036*(070-062-006)",
    "one megabyte": "1+" * 500_000 + "1",
    "one megabyte of text": "x" * 1_000_000,
    "one megabyte of newlines": "\n" * 1_000_000,
    "arabic-indic digits": "٧٢",
    "arabic-indic expression": "٣٦*(٧٠-٦٢-٦)",
    "fullwidth digits": "７２",
    "fullwidth expression": "３６*(７０-６２-６)",
    "fullwidth steps": "７０-６２=８\n８-６=２\n３６*２=７２",
    "superscript steps": "70-62=8\n8-6=²\n36*2=72",
    "os.system": "__import__('os').system('touch /tmp/pwned')",
    "subclasses": "().__class__.__bases__[0].__subclasses__()",
    "lambda": "(lambda: 72)()",
    "lambda expression": "lambda x: 36*(70-62-6)",
    "f-string": "f'{36*(70-62-6)}'",
    "f-string import": "f\"{__import__('os').getcwd()}\"",
    "eval call": f"eval('{GOOD}')",
    "walrus": "(x:=72)",
    "comparison": f"{GOOD}==72",
    "float": "36.0*(70-62-6)",
    "exponent float": "7.2e1",
    "hex": "0x48",
    "underscore literal": "7_2",
    "unary minus": "-6+62-70+36*2",
    "unary plus": "+36*(70-62-6)",
    "double operator": "36*(70--62-6)",
    "floor division": "36*(70-62-6)//1",
    "modulo": "36*(70-62-6)%100",
    "division by zero": "36*(70-62-6)/(6-6)",
    "zero literal": "36*(70-62-6)+0",
    "target only": "72",
    "empty": "",
    "blank": "   \n\t  ",
    "newline inside expression": "36*(70-\n62-6)",
    "newline inside tags": "<answer>36*\n(70-62-6)</answer>",
    "carriage return": "36*(70-62-6)\r72",
    "nested answer tags": f"<answer><answer>{GOOD}</answer></answer>",
    "unclosed answer tag": f"<answer>{GOOD}",
    "reversed answer tags": f"</answer>{GOOD}<answer>",
    "many open tags": "<answer>" * 20_000 + GOOD,
    "many close tags": GOOD + "</answer>" * 20_000,
    "wrong after right": f"<answer>{GOOD}</answer> <answer>36*(70-62)</answer>",
    "null bytes": "36*(70\x00-62-6)",
    "zero-width space": "36*(70-62\u200b-6)",
    "rtl override": "36*(70-62-6)\u202e",
    "unrelated steps": "1+1=2\n2+2=4",
    "steps with reuse": "70-62=8\n8-6=2\n2*36=72\n72-72=0",
    "step of giant numbers": "999999999*999999999=999999998000000001",
    "think without answer": "<think>\n" + "Step 1: 70-62=8, left [36, 6, 8]\n" * 100,
    "think with code answer": "<think>\n</think>\n<answer>__import__('os').system('true')</answer>",
    "goal line only": "72,72 equal: Goal Reached",
    "goal before state": "72,72 equal: Goal Reached\n" + HEAD,
    "trace with bogus node ids": HEAD
    + "".join(f"Moving to Node #0,{i},9,9\nCurrent State: 72:[1], Operations: []\n" for i in range(2000)),
    "trace with negative ids": HEAD
    + "Generated Node #-1: 72:[1] Operation: 1+1=2\nMoving to Node #-1\n" * 1000,
    "trace with huge node id": HEAD + "Moving to Node #" + "0," * 20_000 + "0\n",
    "trace with thousands of explores": HEAD + EXPLORE * 1000,
    "trace with a fake goal": HEAD
    + "Exploring Operation: 70+2=72, Resulting Numbers: [72]\n72,72 equal: Goal Reached\n",
    "trace with long number lists": HEAD
    + "Current State: 72:["
    + ", ".join(["1"] * 5000)
    + "], Operations: []\n",
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_named_attacks_get_a_fast_verdict(name):
    text = ATTACKS[name]
    verdict = timed_verify(text)
    assert verdict.kind != "error", verdict.reason
    assert not verdict.ok, (name, verdict.reason)


@pytest.mark.parametrize("name", ["deep nesting", "huge literal", "one megabyte", "power tower"])
def test_attacks_are_fast_even_on_the_first_call(name):
    timed_verify(ATTACKS[name], warm_up=False)


@pytest.mark.parametrize(
    "answer",
    [
        f"<answer>1+1</answer> <answer>{GOOD}</answer>",  # the last answer counts
        f"<answer> {GOOD} </answer>",
        "36 *\t(70 - 62 - 6)",
        f"{GOOD}\n",
        f"<answer>\n{GOOD}\n</answer>",
    ],
)
def test_harmless_variations_of_a_correct_answer_are_accepted(answer):
    assert timed_verify(answer).ok


@pytest.mark.parametrize("value", [None, b"36*(70-62-6)", 72, ["36*(70-62-6)"], {"answer": GOOD}])
def test_non_text_answers_are_rejected(value):
    verdict = TASK.verify(PROBLEM, value)
    assert isinstance(verdict, Verdict) and not verdict.ok


# ---- code must never run ---------------------------------------------------------------------------------
def _code_attacks(marker: str) -> list[str]:
    payload = f"__import__('os').system('touch {marker}')"
    return [
        payload,
        f"<answer>{payload}</answer>",
        f"<answer>{payload} = 72</answer>",
        f"{payload}\n8-6=2\n36*2=72",
        f"Step 1: {payload}",
        HEAD + f"Exploring Operation: {payload}, Resulting Numbers: [72]\n72,72 equal: Goal Reached\n",
        HEAD + f"Current State: {payload}:[1], Operations: [{payload}]\n",
        f"<think>\nStep 1: {payload}, left [1]\n</think>\n<answer>{payload}</answer>",
        f'exec("{payload}")',
        f"eval(compile(\"{payload}\", 'x', 'eval'))",
    ]


def test_verify_never_runs_the_answer(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    pwned_before = os.path.exists("/tmp/pwned")
    calls: list[str] = []

    def spy(name):
        def record(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"verify called {name}")

        return record

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, spy(name))
    monkeypatch.setattr(os, "system", spy("os.system"))
    monkeypatch.setattr(os, "popen", spy("os.popen"))
    monkeypatch.setattr(subprocess, "Popen", spy("subprocess.Popen"))
    for text in _code_attacks(str(marker)) + _code_attacks("/tmp/pwned"):
        verdict = TASK.verify(PROBLEM, text)
        assert isinstance(verdict, Verdict) and not verdict.ok, text
        verdict = LOOSE.verify(PROBLEM, text)
        assert isinstance(verdict, Verdict) and not verdict.ok, text
    assert calls == []
    assert not marker.exists()
    assert os.path.exists("/tmp/pwned") == pwned_before


def test_code_attacks_get_fast_verdicts(tmp_path):
    for text in _code_attacks(str(tmp_path / "pwned")):
        assert not timed_verify(text).ok
    assert not (tmp_path / "pwned").exists()


# ---- the largest inputs the verifier reads --------------------------------------------------------------
# A bound on lines is optional for the verifier; where it has one, the largest inputs respect it too.
MAX_LINES = getattr(task_base, "MAX_ANSWER_LINES", None)


def _fill(head: str, unit: str, tail: str = "") -> str:
    """``head`` + as many ``unit`` as fit under the verifier's input limits + ``tail``."""
    n = (MAX_ANSWER_CHARS - len(head) - len(tail) - 1) // len(unit)
    if MAX_LINES is not None and "\n" in unit:
        n = min(n, (MAX_LINES - head.count("\n") - tail.count("\n") - 1) // unit.count("\n"))
    return head + unit * n + tail


LARGEST = {
    "steps, one a line": _fill("", "70-62=8\n"),
    "steps, semicolons": _fill("", "1+1=2;"),
    "steps, commas": _fill("", "70-62=8,"),
    "steps, carriage returns": _fill("", "70-62=8\r"),
    "steps, unicode line separators": _fill("", "70-62=8\u2028"),
    "steps, form feeds in tags": _fill("<answer>", "1+1=2\x0c", "</answer>"),
    "steps in answer tags": _fill("<answer>", "Step 1: 70-62=8\n", "</answer>"),
    "think steps": _fill(
        "<think>\n", "Step 1: 70-62=8, left [36, 6, 8]\n", f"</think>\n<answer>{GOOD}</answer>"
    ),
    "think short steps": _fill("<think>\n", "Step 1: 1+1=2\n", "<answer>1</answer>"),
    "think returns": _fill("<think>\n", "Step 1: 70-62=8, left [36, 6, 8]\nWait, go back to the start.\n"),
    "trace states": _fill("", "Current State: 72:[1], Operations: []\n"),
    "trace restated root": _fill("", HEAD),
    "trace explores": _fill(HEAD, "Exploring Operation: 1+1=2, Resulting Numbers: [2]\n"),
    "trace dead ends": _fill(HEAD + EXPLORE, "[36, 6, 8] No Solution\n"),
    "trace short dead ends": _fill(HEAD + EXPLORE, "[1] No Solution\n"),
    "trace unequal lines": _fill(HEAD + EXPLORE, "8,72 unequal: No Solution\n"),
    "trace moves": _fill(HEAD, "Moving to Node #0\n" + HEAD),
    "trace bogus generated nodes": _fill(HEAD, "Generated Node #0,7: 72:[1, 2] Operation: 1+1=2\n"),
    "trace unrecognized lines": _fill(HEAD, "x\n"),
    "trace blank lines": _fill(HEAD, "\n"),
}


@pytest.mark.parametrize("name", list(LARGEST))
def test_the_largest_accepted_inputs_get_a_verdict_within_the_budget(name):
    text = LARGEST[name]
    assert len(text) <= MAX_ANSWER_CHARS and (MAX_LINES is None or text.count("\n") < MAX_LINES)
    verdict = timed_verify(text)
    assert not verdict.ok or name == "think steps"  # backtrack-k is judged by its <answer>, which is right


def test_inputs_over_the_limit_are_rejected_by_size():
    verdict = timed_verify(GOOD + " " * MAX_ANSWER_CHARS)
    assert not verdict.ok and "limit" in verdict.reason
