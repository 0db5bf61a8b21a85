"""Building trace datasets: generation in parallel, splits by content, de-duplication, metadata.

``build_dataset("countdown", 500_000, 0, "dfs", Path("data/cd4"))`` writes a Hugging Face
``DatasetDict`` (``train`` and ``test``) with ``save_to_disk`` plus a ``metadata.json`` beside it.

Why it is built this way:

- Item ``i`` comes from its own ``random.Random(f"{seed}:{i}")``. String seeds hash the same in every
  process, so the rows depend only on the arguments, never on the number of workers or the chunking.
- Splits are decided by content (``task.split_of``: held-out CountDown targets, a hash of the Sudoku
  puzzle), never by seed or index: reasoning-gym's neighbouring seeds overlap, so splitting by seed
  leaks test problems into training (reasoning-gym's item i of seed s is item i-1 of seed s+1).
- Indices ``0..n-1`` are generated; a problem whose ``key`` was already seen is dropped (the first
  occurrence wins), so no problem appears twice or in both splits. The number dropped is reported,
  and the dataset has fewer than ``n`` rows rather than generating past ``n - 1``.
- Rows stream to scratch Arrow files as they arrive (a 500k-trace CountDown set is ~6 GB of text), and
  the finished ``DatasetDict`` is renamed into place only when complete: a crash leaves no partial ``out``.
- Same arguments give byte-identical files: one shard per 500 MB, a fingerprint derived from the
  arguments, and no timestamps in ``metadata.json`` (elapsed time is only in the returned info).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import backtrack
from backtrack.tasks import get_task
from backtrack.traces import format_of

__all__ = ["GENERATOR_VERSION", "SPLITS", "DatasetInfo", "build_dataset", "reference_answer", "split_prompt"]

# Bump whenever the rows produced for the same arguments change (item seeding, columns, prompt split).
GENERATOR_VERSION = 2
GENERATOR_NAME = "backtrack.data.build_dataset"  # in metadata.json; marks directories overwrite may replace
SPLITS = ("train", "test")
METADATA_FILE = "metadata.json"
# Columns after the problem's own fields, in order. ``solution`` is the reference answer as text.
TAIL_COLUMNS = ("solution", "split", "key", "index", "solved", "backtracks", "dead_ends", "steps", "chars")
STAT_COLUMNS = ("solved", "backtracks", "dead_ends", "steps", "chars")
AUTO_WORKERS_MIN_N = 2000  # below this, starting processes costs more than it saves
MAX_SHARD_BYTES = 500 * 2**20
_FLUSH_ROWS = 1024  # rows per Arrow record batch in the scratch files
_MAX_CHUNK = 256  # indices per pool task: large enough to amortise IPC, small enough for a live bar

# Positions inside a row tuple (columns in order; see ``_Plan.columns``); the stats come last.
_SPLIT, _KEY = (TAIL_COLUMNS.index(c) - len(TAIL_COLUMNS) for c in ("split", "key"))
_STATS = -len(STAT_COLUMNS)
assert TAIL_COLUMNS[_STATS:] == STAT_COLUMNS


@dataclass(frozen=True)
class DatasetInfo:
    """What ``build_dataset`` wrote and how long it took (timings are not part of the files)."""

    path: Path
    metadata_path: Path
    task: str
    format: str
    n: int  # indices generated
    splits: dict[str, int]  # rows written per split
    duplicates: int  # generated problems dropped because their key was already seen
    test_capped: int  # unique test problems dropped by ``test_size``
    seconds: float
    traces_per_second: float  # generated items (n) per wall-clock second, writing included

    def summary(self) -> str:
        rows = ", ".join(f"{name} {count}" for name, count in self.splits.items())
        return (
            f"{self.path}: {self.task}/{self.format}, {rows} ({self.duplicates} duplicates dropped, "
            f"{self.test_capped} over test_size) in {self.seconds:.1f}s, "
            f"{self.traces_per_second:.0f} traces/s"
        )


# ---- where the prompt ends, and the reference answer -----------------------------------------------
def split_prompt(task: Any, problem: Any, fmt: str, text: str) -> tuple[str, str]:
    """(prompt, completion) with ``prompt + completion`` the training text.

    Formats that state the problem on their first line (``statement_first``) keep that line as the
    prompt, so the trace is exactly the paper's; the others get the task's natural-language (or grid)
    prompt in front.
    """
    if format_of(task, fmt).statement_first:
        cut = text.find("\n") + 1
        if cut == 0:
            raise ValueError(
                f"{task.name}/{fmt} trace does not open with its problem statement: {text[:60]!r}"
            )
        return text[:cut], text[cut:]
    prompt = task.prompt(problem)
    return (prompt if prompt.endswith("\n") else prompt + "\n"), text


def reference_answer(task: Any, problem: Any, trace: Any = None) -> str:
    """A correct answer as text (``task.reference_answer``): an expression for CountDown, the solution
    grid for Sudoku. A trace that reached the goal may already hold a solution, which saves solving."""
    return task.reference_answer(problem, trace)


# ---- generation (runs in worker processes; keep it free of heavy imports) --------------------------
@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs to make item ``i``; small and picklable for spawned processes."""

    task: str
    task_config: dict[str, Any]
    fmt: str
    format_options: dict[str, Any]
    seed: int
    fields: tuple[str, ...] = ()  # the problem's own columns, from ``problem.to_dict()``

    @property
    def columns(self) -> tuple[str, ...]:
        return ("prompt", "completion", *self.fields, *TAIL_COLUMNS)


@dataclass
class _Maker:
    """A plan with its task and renderer built once per process."""

    plan: _Plan
    task: Any = field(init=False)
    render: Callable[..., Any] = field(init=False)

    def __post_init__(self) -> None:
        self.task = get_task(self.plan.task, **self.plan.task_config)
        self.render = format_of(self.task, self.plan.fmt).render

    def item(self, i: int) -> tuple[Any, ...]:
        """Row ``i`` as a tuple in column order (tuples pickle compactly between processes)."""
        plan, task = self.plan, self.task
        rng = random.Random(f"{plan.seed}:{i}")
        problem = task.generate(rng)
        trace = self.render(problem, rng=rng, **plan.format_options)
        prompt, completion = split_prompt(task, problem, plan.fmt, trace.text)
        values = problem.to_dict()
        return (
            prompt,
            completion,
            *(values[f] for f in plan.fields),
            reference_answer(task, problem, trace),
            task.split_of(problem),
            task.content_key(problem),
            i,
            trace.solved,
            trace.backtracks,
            trace.dead_ends,
            trace.steps,
            len(trace.text),
        )

    def chunk(self, span: tuple[int, int]) -> list[tuple[Any, ...]]:
        rows = []
        for i in range(*span):
            try:
                rows.append(self.item(i))
            except Exception as exc:
                raise RuntimeError(
                    f"item {i} (seed {self.plan.seed}) failed: {type(exc).__name__}: {exc}"
                ) from exc
        return rows


_MAKER: _Maker | None = None  # the worker process's maker, set by ``_init_worker``


def _init_worker(plan: _Plan) -> None:
    global _MAKER
    _MAKER = _Maker(plan)


def _make_chunk(span: tuple[int, int]) -> list[tuple[Any, ...]]:
    assert _MAKER is not None, "worker used before _init_worker"
    return _MAKER.chunk(span)


def _spans(n: int, workers: int) -> list[tuple[int, int]]:
    size = max(1, min(_MAX_CHUNK, math.ceil(n / (workers * 8))))
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _generate(plan: _Plan, n: int, workers: int) -> Iterator[list[tuple[Any, ...]]]:
    """Chunks of rows in index order, from this process or from a spawn-safe pool."""
    spans = _spans(n, workers)
    if workers == 1:
        maker = _Maker(plan)
        for span in spans:
            yield maker.chunk(span)
        return
    # ProcessPoolExecutor rather than multiprocessing.Pool: a worker that cannot start (or dies)
    # raises BrokenProcessPool here instead of being restarted for ever.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(plan,)) as pool:
        yield from pool.map(_make_chunk, spans)


# ---- writing -----------------------------------------------------------------------------------
@dataclass
class _SplitStats:
    rows: int = 0
    solved: int = 0
    backtracking: int = 0  # rows whose search backtracked at least once
    backtracks: int = 0
    dead_ends: int = 0
    steps: int = 0
    chars: int = 0
    max_chars: int = 0

    def add(self, solved: bool, backtracks: int, dead_ends: int, steps: int, chars: int) -> None:
        self.rows += 1
        self.solved += bool(solved)
        self.backtracking += backtracks > 0
        self.backtracks += backtracks
        self.dead_ends += dead_ends
        self.steps += steps
        self.chars += chars
        self.max_chars = max(self.max_chars, chars)

    def merged(self, other: _SplitStats) -> _SplitStats:
        return _SplitStats(
            self.rows + other.rows,
            self.solved + other.solved,
            self.backtracking + other.backtracking,
            self.backtracks + other.backtracks,
            self.dead_ends + other.dead_ends,
            self.steps + other.steps,
            self.chars + other.chars,
            max(self.max_chars, other.max_chars),
        )

    def summary(self) -> dict[str, Any]:
        def mean(total: int) -> float:
            return round(total / self.rows, 4) if self.rows else 0.0

        return {
            "rows": self.rows,
            "solved_share": mean(self.solved),
            "backtracking_share": mean(self.backtracking),
            "mean_backtracks": mean(self.backtracks),
            "mean_dead_ends": mean(self.dead_ends),
            "mean_steps": mean(self.steps),
            "mean_chars": mean(self.chars),
            "max_chars": self.max_chars,
        }


class _SplitWriter:
    """Buffers row tuples of one split and writes them as Arrow record batches (columns via zip)."""

    def __init__(self, path: Path, schema: Any) -> None:
        import pyarrow as pa

        self.path = path
        self._pa = pa
        self._schema = schema
        self._writer = pa.ipc.new_stream(str(path), schema)
        self._rows: list[tuple[Any, ...]] = []
        self.stats = _SplitStats()

    def add(self, row: tuple[Any, ...]) -> None:
        self._rows.append(row)
        self.stats.add(*row[_STATS:])
        if len(self._rows) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            columns = [list(column) for column in zip(*self._rows, strict=True)]
            self._writer.write_batch(self._pa.record_batch(columns, schema=self._schema))
            self._rows = []

    def close(self) -> None:
        self.flush()
        self._writer.close()


def _features(plan: _Plan, sample: tuple[Any, ...]) -> Any:
    """Column types inferred from one row, so an empty split still gets the full schema."""
    import datasets
    import pyarrow as pa

    table = pa.Table.from_pydict({name: [value] for name, value in zip(plan.columns, sample, strict=True)})
    return datasets.Features.from_arrow_schema(table.schema)


def _save(scratch: dict[str, Path], features: Any, target: Path, fingerprint: str) -> None:
    """Copy the scratch files into a ``DatasetDict`` on disk with fixed shards and fingerprints."""
    import datasets

    splits = {}
    num_shards = {}
    for name, path in scratch.items():
        loaded = datasets.Dataset.from_file(str(path))
        # from_file's fingerprint hashes the scratch file's mtime; ours depends on the arguments only.
        splits[name] = datasets.Dataset(
            loaded.data,
            info=datasets.DatasetInfo(features=features),
            split=datasets.NamedSplit(name),
            fingerprint=hashlib.sha256(f"{fingerprint}:{name}".encode()).hexdigest()[:16],
        )
        num_shards[name] = 1 + path.stat().st_size // MAX_SHARD_BYTES
    bars_were_off = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # our own bar covers the build; datasets' bars would interleave
    try:
        datasets.DatasetDict(splits).save_to_disk(str(target), num_shards=num_shards)
    finally:
        if not bars_were_off:
            datasets.enable_progress_bars()


def _move_into_place(built: Path, out: Path, trash: Path) -> None:
    """Rename ``built`` to ``out``. An existing ``out`` (overwrite) is moved into ``trash`` first, and
    put back if the rename fails, so ``out`` is always either the old dataset or the new one."""
    old = None
    if out.exists() or out.is_symlink():
        old = trash / "previous"
        os.replace(out, old)
    try:
        os.replace(built, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise


# ---- progress ----------------------------------------------------------------------------------
@contextlib.contextmanager
def _progress(total: int, label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (stdout stays clean for the CLI's summary), or a no-op."""
    if not enabled:
        yield lambda k: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task_id = bar.add_task(label, total=total)
        yield lambda k: bar.advance(task_id, k)


# ---- validation --------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_arguments(n: Any, seed: Any, test_size: Any, workers: Any, options: Any, config: Any) -> None:
    """Reject bad arguments before any work, with messages that say what is allowed."""
    if not _is_int(n) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if test_size is not None and (not _is_int(test_size) or test_size < 0):
        raise ValueError(f"test_size must be None or an integer >= 0, got {test_size!r}")
    if workers is not None and (not _is_int(workers) or workers < 1):
        raise ValueError(f"workers must be None or an integer >= 1, got {workers!r}")
    for name, value in (("task_config", config), ("format_options", options)):
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ValueError(f"{name} must be a dict with string keys, got {value!r}")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name} must be JSON-serializable (it goes into metadata.json): {exc}"
            ) from None


def _check_replaceable(out: Path, overwrite: bool) -> None:
    """``out`` must be new, or (with ``overwrite``) an earlier dataset or an empty directory: a typo'd
    ``--out ~ --overwrite`` must not delete a home directory."""
    if not (out.exists() or out.is_symlink()):
        return
    if not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        return
    try:
        generator = json.loads((out / METADATA_FILE).read_text(encoding="utf-8")).get("generator")
    except (OSError, ValueError, AttributeError):
        generator = None
    if generator != GENERATOR_NAME:
        raise FileExistsError(
            f"{out} exists and is not a dataset written by {GENERATOR_NAME}; not replacing it"
        )


def _problem_fields(task: Any, seed: int) -> tuple[str, ...]:
    """The problem's own columns (``problem.to_dict()`` keys), minus ``solution``, which is the
    reference-answer column (for Sudoku the same grid)."""
    fields = tuple(f for f in task.generate(random.Random(f"{seed}:0")).to_dict() if f != "solution")
    clash = set(fields) & {"prompt", "completion", *TAIL_COLUMNS}
    if clash:
        raise RuntimeError(f"{task.name} problem fields {sorted(clash)} collide with dataset columns")
    return fields


def _sample_row(plan: _Plan) -> tuple[Any, ...]:
    """Item 0, made in this process: checks the format options and gives the column types."""
    try:
        return _Maker(plan).item(0)
    except TypeError as exc:  # an unknown keyword reaches the renderer as a TypeError
        raise ValueError(
            f"bad format options {plan.format_options} for {plan.task}/{plan.fmt}: {exc}"
        ) from exc


# ---- the entry point ---------------------------------------------------------------------------
def build_dataset(
    task: str,
    n: int,
    seed: int,
    fmt: str,
    out: Path,
    *,
    task_config: dict[str, Any] | None = None,
    format_options: dict[str, Any] | None = None,
    test_size: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> DatasetInfo:
    """Generate items ``0..n-1`` of ``task`` rendered in ``fmt`` and save them as a ``DatasetDict``.

    Rows whose key repeats an earlier one are dropped; ``test_size`` keeps only the first test rows in
    index order. ``workers`` defaults to every core when ``n >= 2000`` (else 1); the files do not depend
    on it. Raises ``ValueError`` for bad arguments and ``FileExistsError`` when ``out`` exists and
    ``overwrite`` is False (or ``out`` is neither empty nor an earlier dataset). Nothing appears at
    ``out`` unless the whole build succeeds; a killed process may leave a hidden
    ``.<name>.building-*`` directory beside it, which is safe to delete.

    With ``workers > 1`` the pool uses ``spawn`` (safe with threads and on every OS), so a script
    that calls this must guard its entry point with ``if __name__ == "__main__":``.
    """
    started = time.perf_counter()
    task_config = {} if task_config is None else task_config
    format_options = {} if format_options is None else format_options
    _check_arguments(n, seed, test_size, workers, format_options, task_config)
    task_obj = get_task(task, **task_config)  # unknown task or option: the registry's ValueError
    trace_format = format_of(task_obj, fmt)  # an unknown format: a ValueError listing the known ones
    out = Path(out)
    _check_replaceable(out, overwrite)
    if workers is None:
        workers = (os.cpu_count() or 1) if n >= AUTO_WORKERS_MIN_N else 1

    plan = _Plan(
        task,
        task_obj.config_dict(),
        fmt,
        # the options the renderer gets: the caller's, then those the format takes from the task's config
        {**format_options, **{k: v for k, v in trace_format.defaults.items() if k not in format_options}},
        seed,
        _problem_fields(task_obj, seed),
    )
    features = _features(plan, _sample_row(plan))
    metadata = _metadata_head(plan, n, test_size)

    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        counts = _write_splits(plan, n, workers, test_size, features, build, progress, metadata)
        (build / "dataset" / METADATA_FILE).write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
        _move_into_place(build / "dataset", out, build)
    finally:
        shutil.rmtree(build, ignore_errors=True)

    seconds = time.perf_counter() - started
    return DatasetInfo(
        path=out,
        metadata_path=out / METADATA_FILE,
        task=task,
        format=fmt,
        n=n,
        splits=dict(counts["splits"]),
        duplicates=counts["duplicates"],
        test_capped=counts["test_capped"],
        seconds=seconds,
        traces_per_second=n / seconds if seconds > 0 else float("inf"),
    )


def _metadata_head(plan: _Plan, n: int, test_size: int | None) -> dict[str, Any]:
    """The arguments part of ``metadata.json`` (also the source of the datasets' fingerprints)."""
    return {
        "generator": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSION,
        "backtrack_version": backtrack.__version__,
        "task": plan.task,
        "task_config": plan.task_config,
        "format": plan.fmt,
        "format_options": plan.format_options,
        "seed": plan.seed,
        "item_seed": "random.Random(f'{seed}:{index}')",
        "n": n,
        "test_size": test_size,
        "columns": list(plan.columns),
    }


def _write_splits(
    plan: _Plan,
    n: int,
    workers: int,
    test_size: int | None,
    features: Any,
    build: Path,
    progress: bool,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Stream rows into per-split scratch files, de-duplicating by key, then save the DatasetDict."""
    scratch_dir = build / "scratch"
    scratch_dir.mkdir()
    scratch = {name: scratch_dir / f"{name}.arrow" for name in SPLITS}
    writers = {name: _SplitWriter(path, features.arrow_schema) for name, path in scratch.items()}
    seen: set[str] = set()
    duplicates = test_capped = 0
    cap = math.inf if test_size is None else test_size
    label = f"{plan.task}/{plan.fmt}"
    try:
        with _progress(n, label, progress) as advance:
            for rows in _generate(plan, n, workers):
                for row in rows:
                    key = row[_KEY]
                    if key in seen:
                        duplicates += 1
                        continue
                    seen.add(key)
                    writer = writers.get(row[_SPLIT])
                    if writer is None:
                        raise ValueError(
                            f"split_of gave {row[_SPLIT]!r} for {key!r}; expected one of {SPLITS}"
                        )
                    if row[_SPLIT] == "test" and writer.stats.rows >= cap:
                        test_capped += 1
                        continue
                    writer.add(row)
                advance(len(rows))
    finally:
        for writer in writers.values():
            writer.close()
    fingerprint = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode()).hexdigest()
    _save(scratch, features, build / "dataset", fingerprint)
    shutil.rmtree(scratch_dir)
    stats = {name: writer.stats for name, writer in writers.items()}
    everything = stats["train"].merged(stats["test"])
    return {
        **metadata,
        "splits": {name: s.rows for name, s in stats.items()},
        "generated": n,
        "duplicates": duplicates,
        "test_capped": test_capped,
        "stats": {**{name: s.summary() for name, s in stats.items()}, "all": everything.summary()},
    }
