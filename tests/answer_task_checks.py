"""Checks shared by the tests of tasks whose answer is one short value (list_functions, zebra_puzzles,
self_reference): hostile text gets a Verdict and runs nothing."""

from __future__ import annotations

import ast
import builtins
import json
import os
import subprocess
from typing import Any

from hypothesis import strategies as st

from backtrack.tasks.base import MAX_ANSWER_CHARS, Verdict

PAYLOAD = "__import__('os').system('touch {marker}')"


def hostile_texts(marker: str = "/tmp/backtrack-pwned") -> list[Any]:
    """Inputs a verifier must survive: huge numbers, 1e400, deep brackets, unicode digits, 200k
    characters, NUL bytes, code, and values that are not text at all."""
    payload = PAYLOAD.format(marker=marker)
    return [
        "",
        "<answer></answer>",
        "<answer>",
        "</answer>",
        "9" * 200_000,
        "<answer>" + "9" * 5_000 + "</answer>",
        "<answer>-" + "9" * 13 + "</answer>",
        "1e400",
        "<answer>1e400</answer>",
        "<answer>[1e400]</answer>",
        "<answer>inf</answer>",
        "<answer>NaN</answer>",
        "<answer>1_000</answer>",
        "[" * 100_000 + "]" * 99_990,
        "<answer>" + "[" * 50_000 + "]" * 50_000 + "</answer>",
        "<answer>[" + ", ".join(["9" * 12] * 5_000) + "]</answer>",
        "<answer>" + "1," * 60_000 + "</answer>",
        "<answer>٣</answer>",
        "<answer>[١٢, ٣]</answer>",
        "<answer>²</answer>",
        "<answer>１２</answer>",
        "x" * (MAX_ANSWER_CHARS + 1),
        "<answer>" + "a" * (MAX_ANSWER_CHARS - 20) + "</answer>",
        "\x00" * 1_000,
        "<answer>\x00</answer>",
        "<answer>[1,\x002]</answer>",
        "<answer>" * 20_000 + "</answer>" * 20_000,
        payload,
        f"<answer>{payload}</answer>",
        f"<answer>[{payload}]</answer>",
        f'<answer>eval("{payload}")</answer>',
        '<answer>{"__class__": 1}</answer>',
        "<answer>\ud800</answer>",
        None,
        12,
        b"<answer>1</answer>",
        ["<answer>1</answer>"],
    ]


# Fragments hypothesis glues together: answer tags, brackets, separators, digits of several scripts.
FRAGMENTS = st.sampled_from(
    [
        *("<answer>", "</answer>", "<think>", "</think>", "[", "]", ",", " ", "-", "+", ".", "\n", "e"),
        *("9" * 30, "0", "1", "5", "42", "٣", "²", "\x00", "carol", "Bob", "1e400", "'", '"', "{", "}"),
    ]
)
ANSWER_LIKE = st.lists(FRAGMENTS, max_size=60).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=400), ANSWER_LIKE)


def assert_verdict(verdict: object) -> Verdict:
    assert isinstance(verdict, Verdict)
    assert isinstance(verdict.reason, str) and verdict.reason
    return verdict


def check_runs_nothing(task: Any, problem: Any, monkeypatch: Any, tmp_path: Any) -> None:
    """Every hostile text gets a rejection, and no code runner or unbounded parser is called."""
    calls: list[str] = []

    def spy(name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"verify called {name}")

        return record

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, spy(name))
    monkeypatch.setattr(ast, "literal_eval", spy("ast.literal_eval"))
    monkeypatch.setattr(json, "loads", spy("json.loads"))
    monkeypatch.setattr(os, "system", spy("os.system"))
    monkeypatch.setattr(os, "popen", spy("os.popen"))
    monkeypatch.setattr(subprocess, "Popen", spy("subprocess.Popen"))
    marker = tmp_path / "pwned"
    for text in hostile_texts(str(marker)):
        verdict = assert_verdict(task.verify(problem, text))
        assert not verdict.ok, text if isinstance(text, str) and len(text) < 200 else type(text)
        assert verdict.kind != "error", verdict.reason
        task.answer_key(problem, text)
        assert task.well_formed(problem, text) in (True, False)
    assert calls == []
    assert not marker.exists()
