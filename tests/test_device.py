"""The device rule (CUDA when present, else the CPU; --device and a recipe key override it) and where the
stages put their models. CUDA is stubbed: these tests run on machines without a GPU."""

from __future__ import annotations

import shutil
import tomllib

import pytest
import torch

import backtrack.models
from backtrack.cli import main
from backtrack.device import DeviceError, resolve_device
from backtrack.recipes import RecipeError, parse_recipe
from backtrack.run import Study

SMOKE = """
name = "smoke"
[task]
name = "countdown"
options = { n_numbers = 3, min_number = 1, max_number = 9, min_target = 1, max_target = 30 }
[data]
n = 300
test_size = 4
[[models]]
name = "direct"
format = "direct"
size = "tiny"
context = 128
train = { max_steps = 2, batch_size = 4, save_steps = 2 }
eval = [{ strategy = "parallel", samples = [1, 2], max_new_tokens = 8 }]
"""


@pytest.fixture
def cuda_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.fixture
def cuda_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def test_the_rule_is_cuda_when_present_else_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == torch.device("cuda")
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")  # an explicit request wins
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(None) == torch.device("cpu")


def test_cuda_requested_without_cuda_is_an_error(cuda_absent: None) -> None:
    with pytest.raises(DeviceError, match="no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("gpu")


def test_a_cuda_index_past_the_devices_is_an_error(cuda_present: None) -> None:
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(DeviceError, match="1 CUDA device"):
        resolve_device("cuda:3")


@pytest.mark.parametrize(
    "argv",
    [
        ("eval", "--model", "m", "--data", "d"),
        ("run",),
        ("rl", "grpo", "--model", "m", "--data", "d", "--out", "o"),
    ],
)
def test_device_cuda_without_cuda_is_one_error_line_and_exit_2(
    argv: tuple[str, ...], cuda_absent: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--device", "cuda"])
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert err.startswith("error: ") and "no CUDA device" in err
    assert len(err.strip().splitlines()) == 1


def test_a_recipe_names_its_device_and_refuses_unknown_ones() -> None:
    assert parse_recipe({**tomllib.loads(SMOKE), "device": "cpu"}).device == "cpu"
    with pytest.raises(RecipeError, match="device"):
        parse_recipe({**tomllib.loads(SMOKE), "device": "tpu"})


def test_the_eval_stage_loads_its_model_onto_cuda_when_present(tmp_path, monkeypatch) -> None:
    recipe = parse_recipe(tomllib.loads(SMOKE))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        study = Study(recipe, tmp_path, log=lambda _: None, device="cpu")
        study.run()  # trained and evaluated on the CPU
        shutil.rmtree(tmp_path / "smoke" / "eval")  # so the evaluation runs again

        asked: list[torch.device | None] = []
        real_load_model = backtrack.models.load_model

        def spy(path, *, device=None, **kwargs):
            asked.append(device)
            return real_load_model(path, device="cpu", **kwargs)  # the stubbed CUDA cannot hold a model

        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(backtrack.models, "load_model", spy)
        on_gpu = Study(recipe, tmp_path, log=lambda _: None)  # no --device, no recipe key: the rule
        assert on_gpu.device == torch.device("cuda")
        on_gpu.evaluate(recipe.models[0])
        assert asked and all(torch.device(d).type == "cuda" for d in asked)

        asked.clear()
        shutil.rmtree(tmp_path / "smoke" / "eval")
        Study(recipe, tmp_path, log=lambda _: None, device="cpu").evaluate(recipe.models[0])
        assert asked == [torch.device("cpu")]  # --device cpu overrides the rule
    finally:
        torch.set_num_threads(threads)
