"""The command line as a person uses it: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import random

import pytest

from backtrack.cli import main
from backtrack.tasks import TASK_NAMES, get_task


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_solve_countdown_prints_the_dfs_trace(capsys):
    code, out, _ = run(capsys, "solve", "countdown", "--numbers", "62", "36", "6", "70", "--target", "72")
    assert code == 0
    assert out.startswith("Current State: 72:[62, 36, 6, 70], Operations: []\n")
    assert out.rstrip().endswith("72,72 equal: Goal Reached")


def test_solve_accepts_the_compact_problem_and_format_options(capsys):
    argv = ("solve", "countdown", "10: 2 3 4", "-f", "backtrack-k", "-o", "k=2", "--stats")
    code, out, err = run(capsys, *argv)
    assert code == 0
    assert out.count("Wait,") == 2 and "<answer>" in out
    assert json.loads(err.strip().splitlines()[-1])["backtracks"] == 2


def test_solve_sudoku_prints_a_trace_that_verifies(capsys):
    problem = get_task("sudoku").generate(random.Random(5))
    code, out, _ = run(capsys, "solve", "sudoku", problem.puzzle, "--format", "dfs")
    assert code == 0
    assert get_task("sudoku").verify(problem, out).ok


@pytest.mark.parametrize(
    ("answer", "code", "word"),
    [("36*((70-62)-6)", 0, "correct"), ("36*((70-62)-5)", 1, "wrong"), ("__import__('os')", 1, "wrong")],
)
def test_verify_countdown_exit_code_and_reason(capsys, answer, code, word):
    problem = ("--numbers", "62", "36", "6", "70", "--target", "72")
    got, out, _ = run(capsys, "verify", "countdown", *problem, "--answer", answer)
    assert got == code
    assert out.startswith(word)


def test_verify_json_output(capsys):
    code, out, _ = run(
        capsys, "verify", "countdown", "--numbers", "1", "2", "--target", "3", "--answer", "1+2", "--json"
    )
    assert code == 0
    assert json.loads(out) == {"ok": True, "reason": "1+2 = 3", "kind": "expression"}


def test_verify_sudoku_grid(capsys):
    problem = get_task("sudoku").generate(random.Random(6))
    code, _, _ = run(capsys, "verify", "sudoku", "--puzzle", problem.puzzle, "--answer", problem.solution)
    assert code == 0
    wrong = problem.solution[1] + problem.solution[0] + problem.solution[2:]
    code, out, _ = run(capsys, "verify", "sudoku", "--puzzle", problem.puzzle, "--answer", wrong)
    assert code == 1 and out.startswith("wrong")


def test_verify_input_file_gives_one_verdict_per_row(capsys, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "\n".join(
            [
                json.dumps({"numbers": [62, 36, 6, 70], "target": 72, "answer": "36*(70-62-6)"}),
                json.dumps({"numbers": [62, 36, 6, 70], "target": 72, "answer": "62+36"}),
                json.dumps({"numbers": [1, 2]}),
                "not json",
            ]
        )
    )
    code, out, err = run(capsys, "verify", "countdown", "--input", str(rows))
    assert code == 1  # some rows are wrong
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [v["ok"] for v in verdicts] == [True, False, False, False]
    assert all(v["reason"] for v in verdicts)
    assert "1/4 correct" in err


def test_tasks_lists_every_task_with_formats_and_options(capsys):
    code, out, _ = run(capsys, "tasks")
    assert code == 0
    for name in TASK_NAMES:
        task = get_task(name)
        block = out.split(f"{name}:", 1)[1]
        assert f"formats: {', '.join(task.formats())}" in block
        first_option, default = next(iter(task.config_dict().items()))
        assert f"{first_option}={json.dumps(default)}" in block


def test_verify_reads_the_problem_in_the_tasks_own_notation(capsys):
    code, out, _ = run(capsys, "verify", "countdown", "72: 62 36 6 70", "--answer", "36*(70-62-6)")
    assert code == 0 and out.startswith("correct")
    problem = get_task("sudoku").generate(random.Random(7))
    code, out, _ = run(capsys, "verify", "sudoku", problem.puzzle, "--answer", problem.solution)
    assert code == 0 and out.startswith("correct")


@pytest.mark.parametrize("name", TASK_NAMES)
def test_verify_input_accepts_dataset_rows_with_an_answer(capsys, tmp_path, name):
    task = get_task(name)
    problem = task.generate(random.Random(3))
    row = {"prompt": "p", "completion": "c", "split": "train", **problem.to_dict()}
    rows = [{**row, "answer": task.reference_answer(problem)}, {**row, "answer": "nonsense"}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = run(capsys, "verify", name, "--input", str(path))
    assert code == 1  # the second row is wrong
    assert [json.loads(line)["ok"] for line in out.splitlines()] == [True, False]
    assert "1/2 correct" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("solve", "countdown", "--numbers", "62", "x", "--target", "72"),
        ("solve", "countdown", "--numbers", "1", "2", "--target", "3", "--format", "nope"),
        ("solve", "chess", "1: 2 3"),
        ("verify", "countdown", "--numbers", "1", "2", "--target", "3"),
        ("verify", "countdown", "--numbers", "1", "2", "--answer", "1+2"),
        ("verify", "countdown", "72 62 36", "--answer", "1+2"),
        ("solve", "sudoku"),
        ("verify", "sudoku", "--puzzle", "123", "--answer", "1"),
        ("verify", "countdown", "--input", "/nonexistent/rows.jsonl"),
        ("generate", "countdown", "--n", "0", "--out", "/tmp/never-written"),
        ("solve", "countdown", "--numbers", "1", "2", "--target", "3", "--bogus-flag"),
        ("no-such-command",),
    ],
)
def test_bad_arguments_get_one_error_line(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out


def test_generate_writes_a_dataset(capsys, tmp_path):
    out_dir = tmp_path / "cd"
    config = ("-c", "n_numbers=3", "-c", "max_number=20", "-c", "min_target=1", "-c", "max_target=40")
    argv = ("generate", "countdown", "--n", "30", "--seed", "1", "--format", "direct", "--out", str(out_dir))
    code, out, _ = run(capsys, *argv, *config)
    assert code == 0, out
    assert (out_dir / "metadata.json").exists()
    metadata = json.loads((out_dir / "metadata.json").read_text())
    assert metadata["seed"] == 1 and metadata["format"] == "direct"


def test_flops_prints_the_reference_formula_for_17m(capsys):
    code, out, _ = run(capsys, "flops", "17M", "--tokens", "4096", "--samples", "1")
    assert code == 0
    # linear = 2*512^2 + 2*512*128 + 3*512*1024; flops = 8 * (linear*L + 512*L*(L+1)/2)
    linear = 2 * 512**2 + 2 * 512 * 128 + 3 * 512 * 1024
    expected = 8 * (linear * 4096 + 512 * 4096 * 4097 // 2)
    assert f"{expected:,}" in out


def test_models_lists_the_paper_sizes(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    for name in ("3M*", "17M*", "38M*", "144M*", "365M*"):
        assert name in out


def test_train_sft_then_eval_from_the_command_line(capsys, tmp_path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = tmp_path / "data"
        config = ("-c", "n_numbers=3", "-c", "max_number=9", "-c", "min_target=1", "-c", "max_target=30")
        argv = ("generate", "countdown", "--n", "200", "--format", "direct", "--out", str(data))
        code, _, _ = run(capsys, *argv, *config)
        assert code == 0
        out = tmp_path / "model"
        argv = ("--data", str(data), "--model", "tiny", "--out", str(out), "--context", "128")
        code, printed, _ = run(capsys, "train", "sft", *argv, "--max-steps", "3", "--save-steps", "2")
        assert code == 0, printed
        assert json.loads(printed.strip().splitlines()[-1])["steps"] == 3
        assert (out / "config.json").exists()
        argv = ("--model", str(out), "--data", str(data), "--strategy", "parallel", "--samples", "1,2")
        code, printed, _ = run(capsys, "eval", *argv, "--max-new-tokens", "16", "--limit", "4")
        assert code == 0, printed
        assert "n=2:" in printed and "FLOPs/problem" in printed
        code, _, err = run(capsys, "eval", *argv, "--select", "bogus")
        assert code == 2 and err.startswith("error: ")
    finally:
        torch.set_num_threads(threads)
