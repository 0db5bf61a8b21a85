"""Recipes: TOML validated into typed models; one clear error naming the bad key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from backtrack.recipes import (
    DEFAULT_RECIPE_TOML,
    RecipeError,
    default_recipe,
    load_recipe,
    parse_recipe,
    prompt_tokens_bound,
)

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def base() -> dict:
    """A two-model recipe to mutate: the default study's arms, the backtracking one continuing from
    the direct one."""
    data = tomllib.loads(DEFAULT_RECIPE_TOML)
    data["models"][1]["init"] = data["models"][0]["name"]
    return data


def test_default_recipe_compares_two_arms_from_scratch_at_equal_training_tokens():
    recipe = default_recipe()
    assert recipe.task.name == "countdown"
    direct, dfs = recipe.models
    assert (direct.format, dfs.format) == ("direct", "compact")
    assert direct.init is None and dfs.init is None
    rows = {
        m.name: m.train.max_steps * m.train.batch_size * (m.train.max_length or m.context)
        for m in (direct, dfs)
    }
    assert rows["direct"] == rows["dfs"]  # each arm's training tokens (packed rows) are equal
    assert all(m.train.bf16 is False for m in recipe.models)  # the same numbers with or without AMX
    assert [e.strategy for e in dfs.eval] == ["sequential", "parallel", "hybrid"]
    assert [e.select for e in direct.eval] == ["oracle", "majority", "first_valid"]


@pytest.mark.parametrize("name", ["paper-countdown.toml", "paper-sudoku.toml"])
def test_shipped_paper_recipes_load(name):
    recipe = load_recipe(RECIPES / name)
    sizes = {m.size for m in recipe.models}
    assert {"17M", "38M", "144M"} <= sizes
    dfs = next(m for m in recipe.models if m.format == "dfs")
    assert dfs.train.max_length == 4096  # the paper's trace rows
    assert dfs.context > 4096  # room for the prompt before a 4,096-token budget


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_recipe_validates_and_generates_within_its_contexts(path):
    recipe = load_recipe(path)  # load_recipe runs check_generation_fits
    for model in recipe.models:
        prompt = prompt_tokens_bound(recipe, model)
        if prompt is None:  # a saved model the user provides: measured once it is there
            assert model.pretrained and not Path(model.size).exists()
            continue
        assert all(prompt + spec.generated()[1] <= model.context for spec in model.eval)


def test_gpu_quick_is_the_papers_countdown_comparison_on_17m_models():
    recipe = load_recipe(RECIPES / "gpu-quick.toml")
    assert recipe.task.options["n_numbers"] == 4 and recipe.device == "cuda"
    assert {m.size for m in recipe.models} == {"17M"}
    by_format = {m.format: m for m in recipe.models}
    assert by_format["dfs"].eval[0].budgets == [256, 512, 1024, 2048, 4096]
    assert by_format["direct"].eval[0].samples == [1, 2, 4, 8, 16, 32]


def mutate(path: tuple, value, *, delete: bool = False) -> dict:
    data = base()
    node = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("models", 0, "train", "max_steps"), 0, "models[0].train.max_steps"),
        (("models", 1, "eval", 0, "strategy"), "beam", "models[1].eval[0].strategy"),
        (("models", 0, "train", "max_stepz"), 10, "models[0].train"),  # unknown key: named in its table
        (("data", "n"), "many", "data.n"),
        (("models", 0, "eval", 0, "budgets"), [64, 32], "models[0].eval[0].budgets"),
        (("task", "name"), "chess", "task"),
        (("task", "options"), {"n_numbers": 1}, "task"),
        (("models", 1, "format"), "bogus", "recipe"),
        (("models", 1, "name"), "direct", "recipe"),
        (("bogus_top_level",), 1, "recipe"),
        (("tokenizer",), {"whole_numbers": -5}, "tokenizer.whole_numbers"),
        (("models", 0, "rl"), {"max_steps": 2, "num_generations": 1}, "models[0].rl.num_generations"),
        (("models", 0, "rl"), {"max_steps": 2, "beta": -1}, "models[0].rl.beta"),
        (("models", 0, "train", "max_length"), 0, "models[0].train.max_length"),
        (("models", 0, "init"), "nobody", "recipe"),
        (("models", 0, "train", "max_length"), 100_000, "models[0]"),  # longer than the context
        # generating past the context: the prompt + the largest budget / max_new_tokens must fit
        (("models", 1, "eval", 0, "budgets"), [64, 1088], "models[1].eval[0].budgets"),
        (("models", 0, "eval", 0, "max_new_tokens"), 272, "models[0].eval[0].max_new_tokens"),
        (
            ("models", 0, "rl"),
            {"max_steps": 2, "max_completion_length": 300},
            "models[0].rl.max_completion_length",
        ),
    ],
)
def test_bad_recipes_get_one_error_naming_the_place(path, value, where):
    with pytest.raises(RecipeError) as info:
        parse_recipe(mutate(path, value), "r.toml")
    message = str(info.value)
    assert message.startswith(f"r.toml: {where}:"), message
    assert "\n" not in message


def two_models(init: str, order: tuple[int, int] = (0, 1), size: str = "1M") -> dict:
    data = base()
    first, second = (data["models"][i] for i in order)
    first.pop("init", None)
    second.update(init=init, size=size)
    data["models"] = [first, second]
    return data


def test_init_names_an_earlier_model_of_the_same_size():
    recipe = parse_recipe(two_models("direct", order=(0, 1)))
    assert recipe.models[1].init == "direct" and recipe.model("direct").format == "direct"
    with pytest.raises(RecipeError, match="model 'direct': init 'direct' must name a model listed before"):
        parse_recipe(two_models("direct", order=(1, 0)))  # itself
    with pytest.raises(RecipeError, match="model 'dfs': init 'dfs' must name a model listed before it"):
        parse_recipe(two_models("dfs", order=(0, 1)))  # itself, listed second
    with pytest.raises(RecipeError, match="model 'direct': init 'dfs' must name a model listed before it"):
        parse_recipe(mutate(("models", 0, "init"), "dfs"))  # listed after it
    with pytest.raises(RecipeError, match="size '250K' is not its init model's \\('1M'\\)"):
        parse_recipe(two_models("direct", order=(0, 1), size="250K"))


def test_missing_required_section_is_reported():
    with pytest.raises(RecipeError, match=r"r\.toml: data: required key missing"):
        parse_recipe(mutate(("data",), None, delete=True), "r.toml")


def test_a_misspelt_key_names_the_key_it_meant_and_every_error_is_listed():
    data = mutate(("models", 0, "train", "max_step"), 10)
    del data["models"][0]["train"]["max_steps"]
    data["models"][1]["size"] = "17MB"
    with pytest.raises(RecipeError) as info:
        parse_recipe(data, "r.toml")
    message = str(info.value)
    assert "models[0].train: unknown key max_step (did you mean max_steps?)" in message
    assert "max_steps: required key missing" not in message  # the misspelling, not a second problem
    assert "models[1].size: size '17MB' is neither a named size" in message and "did you mean 17M?" in message


def test_format_options_and_budgets_are_checked_at_parse_time():
    with pytest.raises(RecipeError, match="heuristc: not an option of format countdown/compact"):
        parse_recipe(mutate(("models", 1, "format_options"), {"heuristc": "mult"}))
    with pytest.raises(RecipeError, match="need a context of"):
        parse_recipe(mutate(("models", 1, "eval", 0, "budgets"), [64, 100_000]))


def test_load_recipe_reports_a_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(RecipeError, match="no recipe file"):
        load_recipe(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(bad)


def test_digest_changes_with_content_and_only_with_the_parts_asked():
    a = default_recipe()
    b = parse_recipe(mutate(("models", 0, "train", "max_steps"), 7))
    assert a.digest() != b.digest()
    assert a.digest("task", "data") == b.digest("task", "data")
    assert a.digest() == default_recipe().digest()


def test_recipes_are_frozen():
    recipe = default_recipe()
    with pytest.raises(Exception, match="frozen"):
        recipe.seed = 3  # type: ignore[misc]


def test_cpu_rl_recipe_runs_grpo_on_two_arms_with_equal_training_tokens():
    recipe = load_recipe(RECIPES / "cpu-rl.toml")
    direct, dfs = recipe.models
    assert direct.init is None and dfs.init is None
    assert (direct.format, dfs.format) == ("direct", "compact")
    assert direct.rl is not None and dfs.rl is not None
    assert max(direct.eval[0].samples) == 32  # pass@1 and pass@32 before and after GRPO
    assert dfs.eval[0].strategy == "sequential"
    assert max(dfs.eval[0].budgets) == dfs.rl.max_completion_length  # rewarded at the evaluated budget
    row_tokens = [m.train.max_steps * m.train.batch_size * m.context for m in (direct, dfs)]
    assert abs(row_tokens[0] - row_tokens[1]) / row_tokens[1] < 0.01
    assert recipe.data.test_size >= 200
    paper = {m.name: m.rl for m in load_recipe(RECIPES / "paper-countdown.toml").models}
    assert paper["dfs-17M"].learning_rate == 1e-6 and paper["dfs-17M"].num_generations == 8


def test_a_model_without_eval_must_be_a_base_that_others_continue_from():
    data = base()
    assert data["models"][1]["init"] == data["models"][0]["name"]
    data["models"][1]["eval"] = []  # nothing continues from the last model
    with pytest.raises(RecipeError, match="trained for nothing"):
        parse_recipe(data)
    data = base()
    data["models"][0]["eval"] = []  # the first model is continued from: a shared base
    parse_recipe(data)
    data["models"][0]["rl"] = {"max_steps": 2}
    with pytest.raises(RecipeError, match="needs an eval list"):
        parse_recipe(data)
