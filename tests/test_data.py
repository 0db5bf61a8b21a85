"""Tests for ``backtrack.data.build_dataset``: layout, splits by content, dedupe, determinism, atomicity."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import datasets
import pytest

import backtrack
from backtrack import data
from backtrack.data import GENERATOR_VERSION, build_dataset, split_prompt
from backtrack.tasks import get_task
from backtrack.traces import format_of, formats, parse, render

COUNTDOWN_FORMATS = ("dfs", "think", "compact", "direct", "backtrack-k")
CASES = [("countdown", fmt, 60) for fmt in COUNTDOWN_FORMATS] + [
    ("sudoku", "dfs", 12),
    ("sudoku", "direct", 12),
    ("sudoku", "backtrack-k", 12),
    ("list_functions", "direct", 30),
    ("zebra_puzzles", "direct", 12),
    ("self_reference", "direct", 30),
    ("arc_1d", "direct", 12),
    ("arc_1d", "backtrack-k", 12),
    ("advanced_geometry", "direct", 12),
    ("advanced_geometry", "backtrack-k", 12),
    ("color_cube_rotation", "direct", 12),
]
PROBLEM_FIELDS = {"countdown": ("numbers", "target"), "sudoku": ("puzzle",)}
# A tiny CountDown game: few distinct problems, so duplicates are common.
TINY = {"n_numbers": 2, "max_number": 6, "min_target": 1, "max_target": 12}


def build(
    out: Path, task: str = "countdown", fmt: str = "direct", n: int = 40, seed: int = 0, **kw: Any
) -> Any:
    kw.setdefault("workers", 1)
    return build_dataset(task, n, seed, fmt, out, progress=False, **kw)


def file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    loaded = datasets.load_from_disk(str(path))
    return {name: loaded[name].to_list() for name in loaded}


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".building-" in p.name]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Any]]:
    """One small dataset per (task, format), built once for the module."""
    root = tmp_path_factory.mktemp("built")
    out = {}
    for task, fmt, n in CASES:
        path = root / f"{task}-{fmt}"
        out[(task, fmt)] = (path, build(path, task, fmt, n, seed=3))
    return out


def test_cases_cover_every_format() -> None:
    assert {(t, f) for t, f, _ in CASES} == {tuple(name.split("/")) for name in formats()}


@pytest.mark.parametrize(("task_name", "fmt"), [(t, f) for t, f, _ in CASES])
def test_rows_are_consistent(built: dict, task_name: str, fmt: str) -> None:
    path, info = built[(task_name, fmt)]
    task = get_task(task_name)
    splits = rows(path)
    assert set(splits) == {"train", "test"}
    assert {k: len(v) for k, v in splits.items()} == info.splits
    assert sum(info.splits.values()) == info.n - info.duplicates - info.test_capped
    keys = {name: [r["key"] for r in split] for name, split in splits.items()}
    assert len(set(keys["train"])) == len(keys["train"]) and len(set(keys["test"])) == len(keys["test"])
    assert not set(keys["train"]) & set(keys["test"])
    for name, split in splits.items():
        indices = [r["index"] for r in split]
        assert indices == sorted(indices)
        for row in split:
            assert list(row)[:2] == ["prompt", "completion"]
            assert row["split"] == name
            problem = task.problem_from_dict(row)
            assert row["key"] == task.content_key(problem)
            assert task.split_of(problem) == name
            assert task.verify(problem, row["solution"]).ok, row["solution"]
            check_trace_row(task, problem, fmt, row)


def check_trace_row(task: Any, problem: Any, fmt: str, row: dict[str, Any]) -> None:
    """The stored text is the rendered trace, split as documented, and parses back to its stats."""
    text = row["prompt"] + row["completion"]
    if task.name == "sudoku":
        assert row["prompt"] == task.prompt(problem)
        # The sudoku parsers read trace lines only; the prompt's grid rows are not trace lines.
        text = row["completion"]
    elif format_of(task, fmt).statement_first:  # CountDown's dfs, think, direct
        assert row["prompt"].startswith("Current State: ") and row["prompt"].count("\n") == 1
        assert row["prompt"].endswith(
            f"{problem.target}:[{', '.join(map(str, problem.numbers))}], Operations: []\n"
        )
    else:
        assert row["prompt"] == task.prompt(problem) + "\n"
    trace_text = text if format_of(task, fmt).statement_first else row["completion"]
    assert row["chars"] == len(trace_text)
    parsed = parse(task.name, problem, fmt, text)
    assert parsed.valid == row["solved"], parsed.errors[:3]
    assert parsed.backtracks == row["backtracks"]
    assert parsed.dead_ends == row["dead_ends"]
    assert parsed.steps == row["steps"]


def test_rows_match_a_fresh_render(built: dict) -> None:
    """Row i is item i of its own ``Random(f"{seed}:{i}")``: generate, then render with the same rng."""
    path, _ = built[("countdown", "dfs")]
    task = get_task("countdown")
    for row in rows(path)["train"][:10]:
        rng = random.Random(f"3:{row['index']}")
        problem = task.generate(rng)
        trace = render("countdown", problem, "dfs", rng=rng)
        assert (list(problem.numbers), problem.target) == (row["numbers"], row["target"])
        assert row["prompt"] + row["completion"] == trace.text
        assert split_prompt(task, problem, "dfs", trace.text) == (row["prompt"], row["completion"])


def test_metadata(built: dict) -> None:
    path, info = built[("countdown", "backtrack-k")]
    assert info.path == path and info.metadata_path == path / "metadata.json"
    meta = json.loads(info.metadata_path.read_text())
    assert meta["task"] == "countdown" and meta["format"] == "backtrack-k"
    assert meta["task_config"] == get_task("countdown").config_dict()
    assert meta["format_options"] == {"use_all": True}
    assert meta["seed"] == 3 and meta["n"] == 60 and meta["test_size"] is None
    assert meta["generator_version"] == GENERATOR_VERSION
    assert meta["backtrack_version"] == backtrack.__version__
    assert meta["splits"] == info.splits and meta["duplicates"] == info.duplicates
    assert meta["columns"] == ["prompt", "completion", "numbers", "target", *data.TAIL_COLUMNS]
    all_rows = [r for split in rows(path).values() for r in split]
    stats = meta["stats"]["all"]
    assert stats["rows"] == len(all_rows)
    assert stats["solved_share"] == 1.0  # backtrack-k always ends at the solution
    assert stats["mean_backtracks"] == pytest.approx(
        sum(r["backtracks"] for r in all_rows) / len(all_rows), abs=1e-4
    )
    assert stats["max_chars"] == max(r["chars"] for r in all_rows)
    assert info.seconds > 0 and info.traces_per_second > 0
    assert "train" in info.summary()


def test_countdown_test_split_is_exactly_the_heldout_targets(tmp_path: Path) -> None:
    task = get_task("countdown")
    heldout = task.heldout_targets()
    splits = rows(build(tmp_path / "d", n=300).path)
    assert splits["test"], "300 problems should include some held-out targets"
    assert all(r["target"] in heldout for r in splits["test"])
    assert not any(r["target"] in heldout for r in splits["train"])


def test_same_arguments_give_identical_files_whatever_the_workers(tmp_path: Path) -> None:
    first = build(tmp_path / "a", fmt="dfs", n=50)
    again = build(tmp_path / "b", fmt="dfs", n=50)
    pooled = build(tmp_path / "c", fmt="dfs", n=50, workers=2)
    other_seed = build(tmp_path / "d", fmt="dfs", n=50, seed=1)
    reference = file_bytes(first.path)
    assert any(name.endswith(".arrow") for name in reference) and "metadata.json" in reference
    assert file_bytes(again.path) == reference
    assert file_bytes(pooled.path) == reference
    differs = file_bytes(other_seed.path)
    assert differs.keys() == reference.keys()
    assert differs["train/data-00000-of-00001.arrow"] != reference["train/data-00000-of-00001.arrow"]


def test_duplicates_are_dropped_keeping_the_first(tmp_path: Path) -> None:
    n = 200
    info = build(tmp_path / "d", n=n, task_config=TINY)
    task = get_task("countdown", **TINY)
    first_index: dict[str, int] = {}
    for i in range(n):
        first_index.setdefault(task.content_key(task.generate(random.Random(f"0:{i}"))), i)
    kept = [r for split in rows(info.path).values() for r in split]
    assert info.duplicates == n - len(first_index) > 0
    assert sorted((r["key"], r["index"]) for r in kept) == sorted(first_index.items())
    assert json.loads(info.metadata_path.read_text())["duplicates"] == info.duplicates


def test_test_size_keeps_the_first_test_rows(tmp_path: Path) -> None:
    full = rows(build(tmp_path / "full", n=300).path)["test"]
    capped = build(tmp_path / "capped", n=300, test_size=3)
    assert capped.splits["test"] == 3 and capped.test_capped == len(full) - 3
    assert [r["index"] for r in rows(capped.path)["test"]] == [r["index"] for r in full[:3]]
    assert capped.splits["train"] == len(rows(tmp_path / "full")["train"])


def test_refuses_to_overwrite_unless_told(tmp_path: Path) -> None:
    out = tmp_path / "d"
    build(out, n=10)
    with pytest.raises(FileExistsError, match="overwrite"):
        build(out, n=10, seed=1)
    assert json.loads((out / "metadata.json").read_text())["seed"] == 0
    build(out, n=10, seed=1, overwrite=True)
    assert json.loads((out / "metadata.json").read_text())["seed"] == 1
    assert leftovers(tmp_path) == []


def test_overwrite_only_replaces_datasets_or_empty_directories(tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="not a dataset"):
        build(precious, n=10, overwrite=True)
    assert (precious / "thesis.tex").read_text() == "years of work"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build(empty, n=10, overwrite=True).splits["train"] > 0
    assert leftovers(tmp_path) == []


def test_failure_mid_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_item = data._Maker.item

    def flaky(self: Any, i: int) -> tuple[Any, ...]:
        if i == 25:
            raise OSError("disk on fire")
        return real_item(self, i)

    monkeypatch.setattr(data._Maker, "item", flaky)
    with pytest.raises(RuntimeError, match=r"item 25 .*disk on fire"):
        build(tmp_path / "d", n=40)
    assert not (tmp_path / "d").exists()
    assert leftovers(tmp_path) == []


def test_failure_while_saving_keeps_the_old_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "d"
    build(out, n=10)
    before = file_bytes(out)

    def broken_save(*args: Any) -> None:
        raise OSError("no space left")

    monkeypatch.setattr(data, "_save", broken_save)
    with pytest.raises(OSError, match="no space"):
        build(out, n=10, seed=1, overwrite=True)
    assert file_bytes(out) == before
    with pytest.raises(OSError, match="no space"):
        build(tmp_path / "new", n=10)
    assert not (tmp_path / "new").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("chess", 10, 0, "dfs"), {}, "unknown task"),
        (("countdown", 10, 0, "bfs"), {}, "unknown format"),
        (("sudoku", 10, 0, "think"), {}, "unknown format"),
        (("countdown", 0, 0, "dfs"), {}, "n must be"),
        (("countdown", True, 0, "dfs"), {}, "n must be"),
        (("countdown", 10, -1, "dfs"), {}, "seed must be"),
        (("countdown", 10, "0", "dfs"), {}, "seed must be"),
        (("countdown", 10, 1.5, "dfs"), {}, "seed must be"),
        (("countdown", 10, 0, "dfs"), {"workers": 0}, "workers must be"),
        (("countdown", 10, 0, "dfs"), {"test_size": -1}, "test_size must be"),
        (("countdown", 10, 0, "dfs"), {"task_config": {"colour": 3}}, "unknown countdown option"),
        (("countdown", 10, 0, "dfs"), {"task_config": {"n_numbers": 1}}, "n_numbers"),
        (("countdown", 10, 0, "dfs"), {"format_options": {"nope": 1}}, "bad format options"),
        (("countdown", 10, 0, "dfs"), {"format_options": {"heuristic": {1, 2}}}, "JSON"),
    ],
)
def test_bad_arguments_are_rejected_before_any_work(
    tmp_path: Path, args: tuple, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_dataset(*args, tmp_path / "d", progress=False, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_prompt_split_per_format() -> None:
    countdown, sudoku = get_task("countdown"), get_task("sudoku")
    problem = countdown.problem([62, 36, 6, 70], 72)
    text = "Current State: 72:[62, 36, 6, 70], Operations: []\nExploring Operation: 70-62=8, ...\n"
    assert split_prompt(countdown, problem, "dfs", text) == (
        text.split("\n")[0] + "\n",
        text.split("\n", 1)[1],
    )
    assert split_prompt(countdown, problem, "backtrack-k", "<think>\n") == (
        countdown.prompt(problem) + "\n",
        "<think>\n",
    )
    with pytest.raises(ValueError, match="problem statement"):
        split_prompt(countdown, problem, "think", "Current State: 72:[62, 36, 6, 70], Operations: []")
    grid = sudoku.generate(random.Random(0))
    prompt, completion = split_prompt(sudoku, grid, "direct", "(0, 0) = 1\n")
    assert prompt == sudoku.prompt(grid) and prompt.endswith("\n") and completion == "(0, 0) = 1\n"
