"""`backtrack run`: stages in runs/<name>/, cached by input hash, resumable after a kill."""

from __future__ import annotations

import json
import tomllib

import pytest
import torch

from backtrack.recipes import parse_recipe
from backtrack.run import Study

SMOKE = """
name = "smoke"
[task]
name = "countdown"
options = { n_numbers = 3, min_number = 1, max_number = 9, min_target = 1, max_target = 50 }
[data]
n = 600
test_size = 8
[[models]]
name = "dfs"
format = "dfs"
size = "tiny"
context = 256
train = { max_steps = 6, learning_rate = 2e-3, batch_size = 4, save_steps = 3 }
eval = [{ strategy = "sequential", budgets = [16, 32] }]
[[models]]
name = "direct"
format = "direct"
size = "tiny"
context = 128
train = { max_steps = 4, learning_rate = 2e-3, batch_size = 8, save_steps = 2 }
eval = [{ strategy = "parallel", samples = [1, 2], max_new_tokens = 24 }]
"""


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def recipe():
    return parse_recipe(tomllib.loads(SMOKE))


def test_run_writes_results_and_a_report_then_reuses_every_stage(tmp_path):
    logs: list[str] = []
    report = Study(recipe(), tmp_path, log=logs.append).run()
    assert report.name == "report.html" and report.is_file()
    results = json.loads((tmp_path / "smoke" / "results.json").read_text())
    assert set(results["models"]) == {"dfs", "direct"}
    assert results["models"]["dfs"]["curves"][0]["strategy"] == "sequential"
    assert results["models"]["direct"]["curves"][0]["points"][-1]["samples"] == 2
    assert results["models"]["dfs"]["training"]["steps"] == 6
    assert any(line.startswith("[train]") for line in logs)

    again: list[str] = []
    Study(recipe(), tmp_path, log=again.append).run()
    assert again == []  # nothing regenerated, retrained or re-evaluated


def test_a_changed_setting_reruns_only_what_depends_on_it(tmp_path):
    Study(recipe(), tmp_path, log=lambda _: None).run()
    data = tomllib.loads(SMOKE)
    data["models"][1]["eval"][0]["samples"] = [1, 2, 4]
    logs: list[str] = []
    Study(parse_recipe(data), tmp_path, log=logs.append).run()
    assert logs == ["[eval] direct: parallel"]


def test_a_run_killed_during_training_resumes_from_its_checkpoint(tmp_path):
    study = Study(recipe(), tmp_path, log=lambda _: None)
    model = study.recipe.models[0]
    study.data(model)
    tokenizer = study.tokenizer()
    study.train(model, tokenizer)
    out = study.model_dir(model)
    # Simulate a kill after the step-3 checkpoint: the stage is unfinished, the last checkpoint stays.
    stage = json.loads((out / "stage.json").read_text())
    (out / "stage.json").write_text(json.dumps({"hash": stage["hash"], "done": False}))
    for checkpoint in out.glob("checkpoint-6"):
        import shutil

        shutil.rmtree(checkpoint)
    study.train(model, tokenizer)
    training = json.loads((out / "stage.json").read_text())["training"]
    assert training["resumed_from"].endswith("checkpoint-3")
    assert training["steps"] == 6 and training["steps_this_run"] == 3


def test_train_max_length_sets_the_packed_row_length_and_keeps_the_models_context(tmp_path):
    data = tomllib.loads(SMOKE)
    data["models"][0]["train"]["max_length"] = 128
    study = Study(parse_recipe(data), tmp_path, log=lambda _: None)
    model = study.recipe.models[0]
    study.data(model)
    out = study.train(model, study.tokenizer())
    assert json.loads((out / "sft_settings.json").read_text())["max_length"] == 128
    assert json.loads((out / "config.json").read_text())["max_position_embeddings"] == 256


def continued_recipe(direct_steps: int = 4) -> dict:
    """The smoke recipe with the direct model first and the DFS model continuing from it."""
    data = tomllib.loads(SMOKE)
    dfs, direct = data["models"]
    direct["train"]["max_steps"] = direct_steps
    dfs.update(init="direct", eval=[{"strategy": "sequential", "budgets": [8]}])
    dfs["train"].update(max_steps=2, learning_rate=1e-12)  # the weights stay the init model's
    data["models"] = [direct, dfs]
    return data


def test_a_continued_model_starts_from_its_init_models_weights_and_retrains_with_it(tmp_path):
    from backtrack.models import load_model

    logs: list[str] = []
    Study(parse_recipe(continued_recipe()), tmp_path, log=logs.append).run()
    assert "[train] dfs: tiny from direct on dfs, 2 steps" in logs
    direct, _ = load_model(tmp_path / "smoke" / "models" / "direct")
    dfs, _ = load_model(tmp_path / "smoke" / "models" / "dfs")
    assert dfs.config.max_position_embeddings == 256  # its own context, not the direct model's 128
    for (name, a), (_, b) in zip(direct.state_dict().items(), dfs.state_dict().items(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
    results = json.loads((tmp_path / "smoke" / "results.json").read_text())
    assert results["models"]["dfs"]["init"] == "direct"
    assert "continued from direct" in (tmp_path / "smoke" / "report.md").read_text()

    again: list[str] = []
    Study(parse_recipe(continued_recipe(direct_steps=5)), tmp_path, log=again.append).run()
    assert [line for line in again if line.startswith("[train]")] == [
        "[train] direct: tiny on direct, 5 steps",
        "[train] dfs: tiny from direct on dfs, 2 steps",
    ]


def test_an_rl_stage_trains_grpo_evaluates_again_and_reports_before_and_after(tmp_path):
    data = tomllib.loads(SMOKE)
    data["models"] = [data["models"][1]]  # the direct model: short completions keep GRPO quick
    data["models"][0]["rl"] = {
        "max_steps": 2,
        "batch_size": 2,
        "num_generations": 2,
        "max_completion_length": 16,
        "learning_rate": 1e-4,
        "eval_every": 1,
        "eval_problems": 4,
    }
    logs: list[str] = []
    Study(parse_recipe(data), tmp_path, log=logs.append).run()
    assert [line.split(":")[0] for line in logs if not line.startswith(("[data]", "[warning]"))] == [
        "[train] direct",
        "[eval] direct",
        "[rl] direct",
        "[eval] direct-grpo",
    ]
    results = json.loads((tmp_path / "smoke" / "results.json").read_text())
    after = results["models"]["direct-grpo"]
    assert after["base"] == "direct" and after["curves"][0]["strategy"] == "parallel"
    assert [step for step, _ in after["rl"]["rewards"]] == [1, 2]
    assert after["rl"]["steps"] == 2
    report = (tmp_path / "smoke" / "report.md").read_text()
    assert "Before and after GRPO" in report and "rl_rewards.png" in report

    again: list[str] = []
    Study(parse_recipe(data), tmp_path, log=again.append).run()
    assert again == []


SHARED_BASE = """
name = "shared"
[task]
name = "countdown"
options = { n_numbers = 3, min_number = 1, max_number = 9, min_target = 1, max_target = 50 }
[data]
n = 600
test_size = 6
[[models]]
name = "base"
format = "direct"
size = "tiny"
context = 128
train = { max_steps = 3, batch_size = 8, save_steps = 3 }
eval = []
[[models]]
name = "direct"
format = "direct"
size = "tiny"
context = 128
init = "base"
train = { max_steps = 2, batch_size = 8, save_steps = 2 }
eval = [{ strategy = "parallel", samples = [1, 2], max_new_tokens = 24 }]
[[models]]
name = "dfs"
format = "think"
size = "tiny"
context = 256
init = "base"
train = { max_steps = 2, batch_size = 2, save_steps = 2 }
eval = [{ strategy = "sequential", budgets = [16, 32] }]
"""


def test_a_shared_base_is_trained_once_and_only_the_arms_are_evaluated(tmp_path):
    logs: list[str] = []
    Study(parse_recipe(tomllib.loads(SHARED_BASE)), tmp_path, log=logs.append).run()
    results = json.loads((tmp_path / "shared" / "results.json").read_text())
    assert set(results["models"]) == {"direct", "dfs"}
    assert sum(line.startswith("[train] base") for line in logs) == 1
    assert not any(line.startswith("[eval] base") for line in logs)
    assert {results["models"][m]["init"] for m in ("direct", "dfs")} == {"base"}
