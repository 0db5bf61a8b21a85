"""Budget sweeps: curves, pass@k and trace statistics in the schema the report reads."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from backtrack.budget import sequence_flops
from backtrack.data import split_prompt
from backtrack.evaluate import evaluate_model, trace_statistics
from backtrack.models import build_model
from backtrack.recipes import EvalSpec
from backtrack.sample import Completion
from backtrack.tasks import get_task
from backtrack.tokenizer import build_tokenizer
from backtrack.traces import render

TASK = get_task("countdown", n_numbers=3, max_number=9, min_target=1, max_target=30)


@pytest.fixture(scope="module")
def tok() -> Any:
    return build_tokenizer("countdown")


def rows(fmt: str, n: int = 6) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        problem = TASK.generate(random.Random(i))
        prompt, completion = split_prompt(TASK, problem, fmt, render("countdown", problem, fmt).text)
        out.append({"prompt": prompt, "completion": completion, **problem.to_dict()})
    return out


class ScriptedBackend:
    """Answers every prompt with the dataset's own completion, cut at the cap like a model."""

    def __init__(self, tok: Any, answers: dict[str, str], config: Any) -> None:
        self.tok, self.answers, self.config = tok, answers, config

    def decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True)

    def generate(self, prompts, n=1, max_new_tokens=256, temperature=0.0, seed=0):
        out = []
        for prompt in prompts:
            full = self.tok(self.answers[prompt], add_special_tokens=False)["input_ids"]
            ids = full[:max_new_tokens]
            out.append([Completion(self.decode(ids), len(ids), len(ids) == len(full), tuple(ids))] * n)
        return out


def test_sequential_accuracy_is_read_off_one_run_at_every_budget(tok):
    data = rows("direct")
    model = build_model("tiny", tok, 256)
    backend = ScriptedBackend(tok, {r["prompt"]: r["completion"] for r in data}, model.config)
    lengths = [len(tok(r["completion"], add_special_tokens=False)["input_ids"]) for r in data]
    budgets = [8, max(lengths)]
    entry, records = evaluate_model(
        None,
        tok,
        TASK,
        data,
        [EvalSpec(strategy="sequential", budgets=budgets)],
        fmt="direct",
        backend=backend,
    )
    points = entry["curves"][0]["points"]
    assert [p["accuracy"] for p in points] == [0.0, 1.0]  # a direct solution needs more than 8 tokens
    assert points[1]["flops"] == pytest.approx(
        sum(sequence_flops(model.config, n) for n in lengths) / len(data)
    )
    assert entry["trace_stats"]["valid_share"] == 1.0 and entry["trace_stats"]["mean_backtracks"] == 0
    assert len(records) == len(data)


def test_parallel_oracle_gives_pass_at_k_and_flops_scale_with_samples(tok):
    data = rows("direct")
    model = build_model("tiny", tok, 256)
    backend = ScriptedBackend(tok, {r["prompt"]: r["completion"] for r in data}, model.config)
    spec = EvalSpec(strategy="parallel", samples=[1, 2, 4], max_new_tokens=200)
    entry, _ = evaluate_model(None, tok, TASK, data, [spec], fmt="direct", backend=backend)
    points = entry["curves"][0]["points"]
    assert [p["accuracy"] for p in points] == [1.0, 1.0, 1.0]
    assert points[2]["flops"] == pytest.approx(4 * points[0]["flops"])
    assert entry["pass_at_k"]["k"] == [1, 2, 4] and entry["pass_at_k"]["value"] == [1.0, 1.0, 1.0]


def test_a_real_tiny_model_runs_every_strategy(tok):
    data = rows("dfs", 4)
    model = build_model("tiny", tok, 256)
    specs = [
        EvalSpec(strategy="sequential", budgets=[8, 16]),
        EvalSpec(strategy="parallel", samples=[1, 2], max_new_tokens=12, select="majority"),
        EvalSpec(strategy="hybrid", budgets=[16], runs=2),
    ]
    entry, records = evaluate_model(model, tok, TASK, data, specs, fmt="dfs", batch_size=8)
    assert [c["strategy"] for c in entry["curves"]] == ["sequential", "parallel", "hybrid"]
    for curve in entry["curves"]:
        for point in curve["points"]:
            assert 0.0 <= point["accuracy"] <= 1.0 and point["flops"] > 0 and point["n"] == 4
    sequential_flops = [p["flops"] for p in entry["curves"][0]["points"]]
    assert sequential_flops == sorted(sequential_flops)
    assert len(records) == 2 * len(data)


def test_false_step_share_counts_untrue_lines_not_unfinished_searches():
    problem = TASK.generate(random.Random(3))
    text = render(TASK, problem, "dfs").text
    lines = text.split("\n")
    cut = "\n".join(lines[: len(lines) // 2]) + "\nExploring Operat"  # budget ran out mid-line
    step = next(i for i, line in enumerate(lines) if line.startswith("Exploring Operation:"))
    head, _, tail = lines[step].partition("=")
    result, _, rest = tail.partition(",")
    false = "\n".join([*lines[:step], f"{head}={int(result) + 1},{rest}", *lines[step + 1 :]])
    texts = [text, cut, cut, false]
    stats = trace_statistics(TASK, "dfs", [problem] * 4, texts, [True, False, True, True])
    # the cut trace that stopped on its own ends in a malformed line: that is written, so it counts
    assert stats["false_step_share"] == 2 / 4
    # the false line is corrected on the next one, so the goal path itself is legal
    assert stats["valid_share"] == 2 / 4


def test_selections_over_the_same_draw_generate_once(tok):
    data = rows("direct")
    model = build_model("tiny", tok, 256)
    backend = ScriptedBackend(tok, {r["prompt"]: r["completion"] for r in data}, model.config)
    calls = []
    generate = backend.generate
    backend.generate = lambda *a, **k: calls.append(k) or generate(*a, **k)
    specs = [
        EvalSpec(strategy="parallel", samples=[1, 2], max_new_tokens=200, select=select)
        for select in ("oracle", "majority", "first_valid")
    ]
    entry, _ = evaluate_model(None, tok, TASK, data, specs, fmt="direct", backend=backend)
    assert len(calls) == 1
    assert [c["select"] for c in entry["curves"]] == ["oracle", "majority", "first_valid"]
    # another temperature is another draw
    hotter = EvalSpec(strategy="parallel", samples=[1, 2], max_new_tokens=200, temperature=1.0)
    evaluate_model(None, tok, TASK, data, [specs[0], hotter], fmt="direct", backend=backend)
    assert len(calls) == 3
