"""The CLI's error contract, case by case: bad input is one ``error:`` line naming the argument and what
is accepted (exit 2), a wrong answer is exit 1, an unexpected failure one line with a --debug hint
(exit 3); outputs are checked before any work and never overwritten or mixed into other files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backtrack.cli import main

PROBLEM = ("--numbers", "62", "36", "6", "70", "--target", "72")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def one_error(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 2) -> str:
    """Run ``argv``; it must fail with ``code`` and exactly one ``error:`` line, no traceback."""
    got, out, err = run(capsys, *argv)
    lines = err.strip().splitlines()
    assert got == code, (got, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in out + err
    return lines[0]


# ---- solve ------------------------------------------------------------------------------------------
def test_a_misspelt_format_option_names_the_option_and_the_accepted_ones(capsys):
    line = one_error(capsys, "solve", "countdown", "72: 62 36 6 70", "-o", "heuristc=mult")
    assert "heuristc" in line and "did you mean heuristic?" in line and "accepted:" in line


def test_solve_output_ends_with_a_newline_and_the_answer_follows_on_stderr(capsys):
    code, out, err = run(capsys, "solve", "countdown", "72: 62 36 6 70")
    assert code == 0 and out.endswith("\n")
    assert err.startswith("answer: ") and "=" not in err  # the expression the trace reaches
    puzzle = "000400000023000160007680000810060700000720000000834600600070504004000800500200000"
    code, out, err = run(capsys, "solve", "sudoku", puzzle)
    assert code == 0 and out.endswith("\n")
    assert err.startswith("answer: 968413257")  # the solved grid


def test_the_old_option_spellings_still_work_but_are_hidden(capsys):
    code, _, _ = run(capsys, "solve", "countdown", "10: 2 3 4", "-f", "backtrack-k", "--option", "k=2")
    assert code == 0
    _, out, _ = run(capsys, "generate", "--help")
    assert "--task-option" in out and "--format-option" in out and "--config" not in out


# ---- verify -----------------------------------------------------------------------------------------
def rows_file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_verify_input_exits_1_when_any_row_is_wrong_and_0_when_all_are_right(capsys, tmp_path):
    wrong = json.dumps({"numbers": [62, 36, 6, 70], "target": 72, "answer": "62+36"})
    right = json.dumps({"numbers": [62, 36, 6, 70], "target": 72, "answer": "36*(70-62-6)"})
    code, out, _ = run(capsys, "verify", "countdown", "--input", str(rows_file(tmp_path, wrong, wrong)))
    assert code == 1 and len(out.splitlines()) == 2
    code, _, err = run(capsys, "verify", "countdown", "--input", str(rows_file(tmp_path, right)))
    assert code == 0 and "1/1 correct" in err


def test_a_row_with_a_huge_number_or_garbage_gets_its_own_verdict_and_the_batch_goes_on(capsys, tmp_path):
    rows = rows_file(
        tmp_path,
        '{"numbers": [1e400, 2], "target": 3, "answer": "1+2"}',
        '{"numbers": [1, 2], "target": 3, "answer": 12}',
        "\x00garbage{",
        json.dumps({"numbers": [1, 2], "target": 3, "answer": "1+2"}),
    )
    code, out, err = run(capsys, "verify", "countdown", "--input", str(rows))
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and "Traceback" not in err
    assert [v["ok"] for v in verdicts] == [False, False, False, True]
    assert all(v["reason"] for v in verdicts)


def test_answer_together_with_input_is_an_error(capsys, tmp_path):
    rows = rows_file(tmp_path, json.dumps({"numbers": [1, 2], "target": 3, "answer": "1+2"}))
    line = one_error(capsys, "verify", "countdown", "--input", str(rows), "--answer", "1+2")
    assert "--answer" in line


def test_verify_suggests_only_the_forms_it_accepts(capsys):
    line = one_error(capsys, "verify", "countdown", "--answer", "1+2")
    assert "PROBLEM" in line and "'72: 62 36 6 70'" in line and "--numbers" in line and "--puzzle" not in line
    assert run(capsys, "verify", "countdown", "3: 1 2", "--answer", "1+2")[0] == 0  # the form it suggests
    assert (
        run(capsys, "verify", "countdown", "--numbers", "1", "2", "--target", "3", "--answer", "1+2")[0] == 0
    )


# ---- recipes and run ----------------------------------------------------------------------------------
RECIPE = """
name = "x"
[task]
name = "countdown"
[data]
n = 10
[[models]]
name = "a"
format = "dfs"
size = "{size}"
context = 100
train = {{ {train} }}
eval = [{{ strategy = "sequential", budgets = [10] }}]
"""


def test_a_bad_size_fails_at_parse_time_before_any_data(capsys, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE.format(size="17MB", train="max_steps = 3"))
    line = one_error(capsys, "run", str(recipe), "--runs-dir", str(tmp_path / "runs"))
    assert "models[0].size" in line and "did you mean 17M?" in line
    assert not (tmp_path / "runs").exists()


def test_a_misspelt_recipe_key_names_the_key_it_meant(capsys, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE.format(size="tiny", train="max_step = 3"))
    line = one_error(capsys, "run", str(recipe), "--runs-dir", str(tmp_path / "runs"))
    assert "unknown key max_step (did you mean max_steps?)" in line
    assert "Field required" not in line and "required key missing" not in line


def test_runs_dir_naming_a_file_is_one_error_line(capsys, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "--runs-dir" in one_error(capsys, "run", "--runs-dir", str(a_file))


def test_a_gpu_recipe_on_a_cpu_asks_for_yes_with_the_expected_time(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("the warning is for machines without a GPU")
    recipe = Path(__file__).parents[1] / "recipes" / "paper-countdown.toml"
    line = one_error(capsys, "run", str(recipe), "--runs-dir", str(tmp_path))
    assert "no GPU" in line and "hours" in line and "--yes" in line
    assert not any(tmp_path.iterdir())


# ---- generate -----------------------------------------------------------------------------------------
def test_the_readme_sudoku_example_with_min_givens_alone_works(capsys, tmp_path):
    argv = ("generate", "sudoku", "--n", "2", "--format", "direct", "--out", str(tmp_path / "s"))
    code, _, err = run(capsys, *argv, "-c", "min_givens=30")
    assert code == 0, err
    meta = json.loads((tmp_path / "s" / "metadata.json").read_text())
    assert meta["task_config"]["min_givens"] == 30 and meta["task_config"]["max_givens"] >= 30


def test_generate_refuses_to_overwrite_without_the_flag(capsys, tmp_path):
    out = tmp_path / "d"
    argv = ("generate", "countdown", "--n", "20", "--format", "direct", "--out", str(out))
    assert run(capsys, *argv)[0] == 0
    assert "--overwrite" in one_error(capsys, *argv)


# ---- train and eval ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CountDown dataset, a Sudoku dataset and a 2-step tiny CountDown model."""
    import torch

    root = tmp_path_factory.mktemp("cli")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = ("-t", "n_numbers=3", "-t", "max_number=9", "-t", "max_target=30")
        for argv in (
            ("generate", "countdown", "--n", "120", "--format", "direct", "--out", str(root / "cd"), *config),
            ("generate", "sudoku", "--n", "4", "--format", "direct", "--out", str(root / "sd")),
            ("train", "sft", "--data", str(root / "cd"), "--model", "tiny", "--out", str(root / "m"),
             "--context", "128", "--max-steps", "2", "--save-steps", "1"),
        ):  # fmt: skip
            with pytest.raises(SystemExit) as exit_info:
                main(list(argv))
            assert exit_info.value.code == 0, argv
    finally:
        torch.set_num_threads(threads)
    return {"cd": root / "cd", "sd": root / "sd", "model": root / "m", "root": root}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--limit", "0"), ("--limit", "positive")),
        (("--limit", "-3"), ("--limit", "positive")),
        (("--samples", "-1,2"), ("--samples", "positive")),
        (("--samples", "1,x"), ("--samples", "integers")),
        (("--temperature", "-1"), ("--temperature", "greater than or equal to 0")),
        (("--strategy", "beem"), ("--strategy", "'sequential', 'parallel' or 'hybrid'")),
        (("--select", "majoirty"), ("--select", "'oracle', 'majority' or 'first_valid'")),
    ],
)
def test_eval_rejects_bad_settings_naming_the_flag_and_the_accepted_values(capsys, trained, args, words):
    line = one_error(capsys, "eval", "--model", str(trained["model"]), "--data", str(trained["cd"]), *args)
    assert all(word in line for word in words), line
    assert "errors.pydantic.dev" not in line


def test_eval_out_is_checked_before_the_evaluation_and_never_overwritten(capsys, trained, tmp_path):
    base = ("eval", "--model", str(trained["model"]), "--data", str(trained["cd"]), "--strategy", "parallel")
    base += ("--samples", "1", "--max-new-tokens", "4", "--limit", "2")
    assert "does not exist" in one_error(capsys, *base, "--out", str(tmp_path / "missing" / "r.json"))
    out = tmp_path / "r.json"
    code, printed, _ = run(capsys, *base, "--out", str(out))
    assert code == 0 and "/2)" in printed
    before = out.read_text()
    assert "--overwrite" in one_error(capsys, *base, "--out", str(out))
    assert out.read_text() == before
    code, _, _ = run(capsys, "report", str(out))  # what eval --out writes, report reads
    assert code == 0 and (tmp_path / "r.html").is_file()


def test_eval_json_prints_the_results_entry(capsys, trained):
    argv = ("eval", "--model", str(trained["model"]), "--data", str(trained["cd"]), "--strategy", "parallel")
    code, out, _ = run(capsys, *argv, "--samples", "1", "--max-new-tokens", "4", "--limit", "2", "--json")
    assert code == 0 and json.loads(out)["curves"][0]["points"][0]["n"] == 2


def test_a_countdown_model_on_sudoku_data_is_an_error_not_zero_percent(capsys, trained):
    line = one_error(capsys, "eval", "--model", str(trained["model"]), "--data", str(trained["sd"]))
    assert "countdown" in line and "sudoku" in line


def test_train_sft_refuses_a_folder_of_unrelated_files(capsys, trained, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    argv = ("train", "sft", "--data", str(trained["cd"]), "--model", "tiny", "--out", str(tmp_path))
    line = one_error(capsys, *argv, "--max-steps", "1")
    assert "notes.txt" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_train_sft_refuses_to_overwrite_a_finished_run_and_resume_trains_nothing(capsys, trained):
    argv = ("train", "sft", "--data", str(trained["cd"]), "--model", "tiny", "--out", str(trained["model"]))
    argv += ("--context", "128", "--max-steps", "2", "--save-steps", "1")
    assert "--overwrite" in one_error(capsys, *argv)
    code, out, err = run(capsys, *argv, "--resume")
    assert code == 0 and "nothing to resume" in err and "nothing was trained" in err and out == ""


def test_resume_with_nothing_to_resume_is_an_error(capsys, trained, tmp_path):
    argv = ("train", "sft", "--data", str(trained["cd"]), "--model", "tiny", "--out", str(tmp_path / "new"))
    assert "no checkpoint" in one_error(capsys, *argv, "--max-steps", "1", "--resume")


# ---- consistency ---------------------------------------------------------------------------------------
def test_version_and_short_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("backtrack-lab ")
    code, out, _ = run(capsys, "eval", "-h")
    assert code == 0 and "--limit" in out


@pytest.mark.parametrize("argv", [("models", "--json"), ("formats", "--json"), ("flops", "17M", "--json")])
def test_listing_commands_print_json(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and json.loads(out)


def test_rl_grpo_takes_max_steps_and_keeps_steps_as_a_hidden_alias(capsys):
    _, out, _ = run(capsys, "rl", "grpo", "--help")
    assert "--max-steps" in out and "--steps " not in out


def test_an_unexpected_failure_is_one_line_with_a_debug_hint(capsys, monkeypatch):
    import backtrack.traces

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(backtrack.traces, "render", broken)
    line = one_error(capsys, "solve", "countdown", "72: 62 36 6 70", code=3)
    assert "boom" in line and "--debug" in line
    with pytest.raises(RuntimeError):
        main(["--debug", "solve", "countdown", "72: 62 36 6 70"])


def test_training_on_mostly_truncated_examples_prints_a_warning_line(capsys, trained, tmp_path):
    argv = ("train", "sft", "--data", str(trained["cd"]), "--model", "tiny", "--out", str(tmp_path / "m"))
    code, _, err = run(capsys, *argv, "--context", "40", "--max-steps", "1")
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert code == 0 and len(warnings) == 1 and "truncated" in warnings[0]
