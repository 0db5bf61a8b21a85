"""The k-sweep study: sweeps in recipes (expansion, validation), models of several tasks in one recipe,
CountDown's wrong-answer backtrack-k variant, and the report's solved-share-against-k part; the shipped
CPU sweep recipe runs end to end at a tiny size."""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path
from typing import Any

import datasets
import pytest
import torch

from backtrack.data import build_dataset
from backtrack.recipes import RecipeError, load_recipe, parse_recipe
from backtrack.report_sweep import plot_sweeps, sweep_markdown, sweeps
from backtrack.run import Study
from backtrack.tasks import get_task
from backtrack.tasks.countdown.verify import verify_expression
from backtrack.traces import parse, render

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
SMALL_COUNTDOWN = {"n_numbers": 3, "max_number": 9, "min_target": 1, "max_target": 30}
TASK = get_task("countdown", **SMALL_COUNTDOWN)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def recipe_with(model: dict[str, Any], *more: dict[str, Any]) -> dict[str, Any]:
    base = {
        "format": "backtrack-k",
        "size": "tiny",
        "context": 512,
        "train": {"max_steps": 1},
        "eval": [{"strategy": "sequential", "budgets": [16]}],
    }
    return {
        "name": "sweep",
        "task": {"name": "countdown", "options": SMALL_COUNTDOWN},
        "data": {"n": 50, "test_size": 4},
        "models": [{**base, **model}, *({**base, **m} for m in more)],
    }


# ---- sweeps in recipes ---------------------------------------------------------------------------
def test_a_sweep_expands_to_one_model_per_value_with_the_option_set():
    recipe = parse_recipe(recipe_with({"name": "cd", "sweep": {"k": [0, 1, 3]}, "format_options": {"x": 1}}
                                      | {"format_options": {}}))  # fmt: skip
    assert [m.name for m in recipe.models] == ["cd-k0", "cd-k1", "cd-k3"]
    assert [m.format_options for m in recipe.models] == [{"k": 0}, {"k": 1}, {"k": 3}]
    assert {(m.sweep_of, m.sweep_key) for m in recipe.models} == {("cd", "k")}


def test_swept_models_mix_with_written_out_ones_and_keep_their_other_options():
    recipe = parse_recipe(
        recipe_with(
            {"name": "plain", "format": "direct"},
            {"name": "wrong", "sweep": {"k": [1, 2]}, "format_options": {"wrong_answer": True}},
        )
    )
    assert [m.name for m in recipe.models] == ["plain", "wrong-k1", "wrong-k2"]
    assert recipe.model("wrong-k2").format_options == {"wrong_answer": True, "k": 2}
    assert recipe.model("plain").sweep_of is None


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"k": [0, 1], "j": [1]}, "must name one format option"),
        ({"k": []}, "non-empty list"),
        ({"k": 3}, "non-empty list"),
        ({"k": [0.5]}, "integers, strings or booleans"),
        ({"k": [1, 1]}, "values repeat"),
        ({"k": ["a b"]}, "cannot be part of a model name"),
        ({"k": [0, -1]}, "k must be an integer >= 0"),
        ({"depth": [1]}, "format_options depth: not an option of format"),
    ],
)
def test_a_bad_sweep_is_refused_before_anything_runs(sweep, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe(recipe_with({"name": "cd", "sweep": sweep}))


def test_a_swept_option_may_not_also_be_set_and_names_stay_unique():
    with pytest.raises(RecipeError, match="swept and also set"):
        parse_recipe(recipe_with({"name": "cd", "sweep": {"k": [1]}, "format_options": {"k": 2}}))
    with pytest.raises(RecipeError, match="unique"):
        parse_recipe(recipe_with({"name": "cd", "sweep": {"k": [1]}}, {"name": "cd-k1"}))


def test_a_model_may_have_its_own_task_and_data_and_inits_only_from_its_task():
    sudoku = {"name": "sudoku", "options": {"min_givens": 70, "max_givens": 74}}
    recipe = parse_recipe(
        recipe_with(
            {"name": "cd"},
            {"name": "sd", "format": "direct", "task": sudoku, "data": {"n": 20, "test_size": 2}},
        )
    )
    assert recipe.task_of(recipe.model("sd")).name == "sudoku"
    assert recipe.data_of(recipe.model("sd")).n == 20 and recipe.data_of(recipe.model("cd")).n == 50
    with pytest.raises(RecipeError, match="format 'think' is not one of"):
        parse_recipe(recipe_with({"name": "sd", "task": sudoku, "format": "think"}))  # a CountDown format
    with pytest.raises(RecipeError, match="not its init model's"):
        parse_recipe(
            recipe_with({"name": "cd"}, {"name": "sd", "format": "direct", "task": sudoku, "init": "cd"})
        )


# ---- the wrong-answer variant ----------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, 1, 3])
def test_wrong_answer_traces_keep_k_backtracks_and_give_a_legal_wrong_expression(k):
    for seed in range(8):
        problem = TASK.generate(random.Random(seed))
        right = render(TASK, problem, "backtrack-k", rng=random.Random(seed), k=k)
        wrong = render(TASK, problem, "backtrack-k", rng=random.Random(seed), k=k, wrong_answer=True)
        assert wrong.backtracks == k == parse(TASK, problem, "backtrack-k", wrong.text).backtracks
        assert not wrong.solved and not TASK.verify(problem, wrong.text).ok
        answer = wrong.text.rsplit("<answer>", 1)[1].split("</answer>")[0]
        verdict = verify_expression(problem, answer, use_all=True)
        assert "not the target" in verdict.reason  # legal: every number once, exact; only the value is off
        # the same shape: thinking, the target claimed, one answer
        assert wrong.text.count("Wait,") == right.text.count("Wait,") == k
        assert wrong.text.endswith("</think>\n<answer>" + answer + "</answer>\n")


def test_a_wrong_answer_dataset_keeps_a_correct_solution_column(tmp_path):
    out = tmp_path / "wrong"
    build_dataset(
        "countdown", 40, 0, "backtrack-k", out, task_config=SMALL_COUNTDOWN,
        format_options={"k": 1, "wrong_answer": True}, progress=False, workers=1,
    )  # fmt: skip
    rows = datasets.load_from_disk(str(out))["train"]
    assert len(rows) > 10
    for row in rows:
        problem = TASK.problem_from_dict(row)
        assert TASK.verify(problem, f"<answer>{row['solution']}</answer>").ok
        assert not TASK.verify(problem, row["completion"]).ok and row["backtracks"] == 1


# ---- the report -----------------------------------------------------------------------------------
def entry(accuracy: float, flops: float, **extra: Any) -> dict[str, Any]:
    point = {"budget": 64, "samples": 1, "tokens": 10, "flops": flops, "accuracy": accuracy, "n": 10}
    return {"format": "backtrack-k", "curves": [{"strategy": "sequential", "points": [point]}], **extra}


def swept_results() -> dict[str, Any]:
    models: dict[str, Any] = {}
    for k, before, after in [(0, 0.1, 0.2), (1, 0.3, 0.5), (3, 0.2, 0.4)]:
        sweep = {"of": "cd", "key": "k", "value": k}
        models[f"cd-k{k}"] = entry(
            before, 1e6, task="countdown", sweep=sweep, training_flops={"own": 1e9, "total": 1e9}
        )
        models[f"cd-k{k}-grpo"] = entry(
            after,
            2e6,
            task="countdown",
            sweep=sweep,
            base=f"cd-k{k}",
            training_flops={"own": 1e9, "total": 1e9, "grpo": 3e8},
        )
    models["other"] = entry(0.9, 1e5)
    return {"name": "t", "models": models}


def test_the_report_reads_each_sweep_before_and_after_grpo_with_its_flops(tmp_path):
    (group,) = sweeps(swept_results())
    assert (group.task, group.of, group.key) == ("countdown", "cd", "k")
    assert [(p.value, p.solved, p.solved_after) for p in group.points] == [
        (0, 0.1, 0.2),
        (1, 0.3, 0.5),
        (3, 0.2, 0.4),
    ]
    assert group.points[1].grpo_flops == 3e8 and group.points[1].training_flops == 1e9
    table = "\n".join(sweep_markdown(swept_results()))
    assert "| 1 | cd-k1 | 30.0% | 50.0% | 1.00e+09 | 3.00e+08 | 1.00e+06 / 2.00e+06 |" in table
    assert plot_sweeps(swept_results(), tmp_path / "k.png").is_file()


def test_a_run_without_a_sweep_draws_no_sweep_figure(tmp_path):
    results = {"name": "t", "models": {"m": entry(0.5, 1e6)}}
    assert sweeps(results) == [] and sweep_markdown(results) == []
    assert plot_sweeps(results, tmp_path / "k.png") is None and not (tmp_path / "k.png").exists()


# ---- the shipped CPU sweep, at a tiny size ------------------------------------------------------------
def tiny_copy(path: Path) -> dict[str, Any]:
    """The recipe with its shape kept (tasks, sweeps, formats, rewards) and every size cut to seconds."""
    data = tomllib.loads(path.read_text())
    data["data"].update(n=150, test_size=3)
    for model in data["models"]:
        model.update(size="tiny")
        if "data" in model:
            model["data"].update(n=40, test_size=2)
        model["train"].update(max_steps=2, batch_size=4, save_steps=2)
        model["eval"] = [{"strategy": "sequential", "budgets": [8, 16]}]
        model["rl"].update(
            max_steps=1, batch_size=2, num_generations=2, max_completion_length=16, train_problems=8,
            eval_every=1, eval_problems=2, save_steps=1,
        )  # fmt: skip
    return data


def test_the_cpu_k_sweep_recipe_validates_and_runs_end_to_end_at_a_tiny_size(tmp_path):
    recipe = load_recipe(RECIPES / "cpu-k-sweep.toml")
    for sweep, task in (("cd", "countdown"), ("sudoku", "sudoku")):
        swept = [m for m in recipe.models if m.sweep_of == sweep]
        assert [m.format_options["k"] for m in swept] == [0, 1, 3]
        assert {recipe.task_of(m).name for m in swept} == {task}
    assert all(m.rl and m.rl.reward == "format" for m in recipe.models)
    assert any(m.format_options.get("wrong_answer") for m in recipe.models)

    Study(parse_recipe(tiny_copy(RECIPES / "cpu-k-sweep.toml")), tmp_path, log=lambda _: None).run()
    run = tmp_path / "cpu-k-sweep"
    results = json.loads((run / "results.json").read_text())
    names = ("cd-k0", "cd-k1", "cd-k3", "cd-wrong-k1", "sudoku-k0", "sudoku-k1", "sudoku-k3")
    assert set(results["models"]) == {f"{m}{s}" for m in names for s in ("", "-grpo")}
    after = results["models"]["cd-k3-grpo"]
    assert after["sweep"] == {"of": "cd", "key": "k", "value": 3} and after["task"] == "countdown"
    flops = after["training_flops"]
    assert flops["grpo"] > 0 and flops["total"] > 0 and flops["with_grpo"] == flops["total"] + flops["grpo"]
    report = (run / "report.md").read_text()
    assert "## Sweep countdown: cd, solved share against k" in report
    assert "## Sweep countdown: cd-wrong, solved share against k" in report
    assert "## Sweep sudoku: sudoku, solved share against k" in report
    assert results["models"]["sudoku-k1-grpo"]["task"] == "sudoku"
    assert (run / "figures" / "k_sweep.png").is_file()


def test_one_recipe_trains_and_evaluates_models_of_two_tasks(tmp_path):
    data = recipe_with(
        {"name": "cd", "sweep": {"k": [0, 1]}, "context": 256},
        {
            "name": "sd",
            "format": "direct",
            "task": {"name": "sudoku", "options": {"min_givens": 76, "max_givens": 78}},
            "data": {"n": 30, "test_size": 2},
            "context": 256,
        },
    )
    Study(parse_recipe(data), tmp_path, log=lambda _: None).run()
    results = json.loads((tmp_path / "sweep" / "results.json").read_text())
    assert {name: e["task"] for name, e in results["models"].items()} == {
        "cd-k0": "countdown", "cd-k1": "countdown", "sd": "sudoku",
    }  # fmt: skip
    assert results["models"]["sd"]["problems"] == 2
