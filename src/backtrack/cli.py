"""The ``backtrack`` command line (typer).

One error contract for every command:

- bad input (a number out of range, an unknown format or option, a malformed grid, an output that
  would overwrite or mix into other files) is one ``error: ...`` line on stderr naming the argument
  and what is accepted, exit code 2, checked before any work starts;
- a wrong answer (``verify``) is exit code 1;
- an unexpected failure is one line with a hint, exit code 3; ``--debug`` shows its traceback.
"""

from __future__ import annotations

import functools
import json
import os
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from backtrack.tasks import DEFAULT_TASK, TASK_NAMES, get_task

EXIT_BAD_INPUT = 2
EXIT_UNEXPECTED = 3
_CONTEXT = {"help_option_names": ["-h", "--help"]}
_DEBUG = {"on": False}  # set by main() from --debug (anywhere on the line)

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=_CONTEXT,
    help="backtrack-lab: sequential search vs parallel sampling in language-model reasoning.",
)


def _version(value: bool) -> None:
    if value:
        import backtrack

        typer.echo(f"backtrack-lab {backtrack.__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="show the traceback of an unexpected failure")
    ] = False,
) -> None:
    """backtrack-lab: sequential search vs parallel sampling in language-model reasoning."""


def _tty() -> bool:
    """Progress bars only on a terminal: piped output must not carry their control characters."""
    return sys.stderr.isatty()


def _quiet_libraries() -> None:
    """Keep transformers/datasets/torch chatter a user cannot act on off the terminal (--debug shows it)."""
    if _DEBUG["on"]:
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DATASETS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if not _tty():
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for category in (UserWarning, FutureWarning, DeprecationWarning):
        warnings.filterwarnings(
            "ignore", category=category, module=r"(transformers|trl|torch|datasets|accelerate)(\.|$)"
        )
    if "transformers" in sys.modules:  # already imported (tests): the environment is read at import
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    if "datasets" in sys.modules:
        import datasets

        datasets.logging.set_verbosity_error()
        if not _tty():
            datasets.disable_progress_bars()


TaskArg = Annotated[str, typer.Argument(help=f"task: {', '.join(TASK_NAMES)}")]
NumbersOpt = Annotated[
    list[int] | None, typer.Option("--numbers", help="CountDown numbers, e.g. --numbers 62 36 6 70")
]
TargetOpt = Annotated[int | None, typer.Option("--target", help="CountDown target")]
ProblemArg = Annotated[
    str | None,
    typer.Argument(help="the problem in the task's notation: '72: 62 36 6 70', a Sudoku grid, ..."),
]


class UserError(Exception):
    """A problem with the command's input; shown as one line."""


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse (3, true, 0.5), else as text."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise UserError(f"expected key=value, got {pair!r}")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = value
    return out


def _problem(task: Any, text: str | None, fields: dict[str, Any]) -> Any:
    """The problem from the task's own notation (``task.parse_problem``), or from its fields given as
    options (``--numbers``/``--target``, ``--puzzle``: ``task.problem_from_dict``)."""
    if text:
        return task.parse_problem(text)
    given = {key: value for key, value in fields.items() if value not in (None, [])}
    if given:
        try:
            return task.problem_from_dict(given)
        except KeyError as exc:
            raise UserError(f"a {task.name} problem needs {exc.args[0]!r} too (or give it as text)") from None
    try:
        task.parse_problem("")  # the task's ValueError shows its accepted form
        form = ""
    except ValueError as exc:
        form = f" ({str(exc).split(', got')[0]})"
    # Only the options that are this task's problem fields (an error path: one generated problem is cheap).
    own = set(task.generate(random.Random(0)).to_dict())
    flags = "/".join(f"--{key}" for key in fields if key in own)
    raise UserError(
        f"give the {task.name} problem as the PROBLEM argument{form}" + (f" or with {flags}" if flags else "")
    )


def _task(name: str, config: list[str] | None = None) -> Any:
    if name not in TASK_NAMES:
        raise UserError(f"unknown task {name!r} (known: {', '.join(TASK_NAMES)})")
    return get_task(name, **_parse_options(config))


def _merged(visible: list[str] | None, hidden: list[str] | None) -> list[str] | None:
    """A visible option and its hidden old name, given together or apart."""
    both = [*(visible or []), *(hidden or [])]
    return both or None


def _format_options(task_name: str, fmt: str, pairs: list[str] | None) -> dict[str, Any]:
    """``--format-option`` pairs, each checked against the format's renderer before any work."""
    from backtrack.traces import formats as task_formats
    from backtrack.validate import check_format_options

    if fmt not in task_formats(task_name):
        raise UserError(
            f"--format {fmt}: not a {task_name} format (accepted: {', '.join(task_formats(task_name))})"
        )
    options = _parse_options(pairs)
    check_format_options(task_name, fmt, options)
    return options


# Task options (generator knobs such as n_numbers) and format options (renderer knobs such as
# heuristic) have one name each on every command; the older spellings stay as hidden aliases.
TaskOptionOpt = Annotated[
    list[str] | None,
    typer.Option("--task-option", "-t", help="task option key=value, e.g. -t n_numbers=3 (see README)"),
]
TaskOptionAlias = Annotated[list[str] | None, typer.Option("--config", "-c", hidden=True)]
FormatOptionOpt = Annotated[
    list[str] | None,
    typer.Option("--format-option", "-o", help="format option key=value, e.g. -o heuristic=mult, -o k=2"),
]
FormatOptionAlias = Annotated[list[str] | None, typer.Option("--option", hidden=True)]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]


def _guard(fn: Any) -> Any:
    """The error contract: user errors become one line on stderr (exit 2); anything else one line and
    a hint (exit 3), or its traceback with --debug."""

    @functools.wraps(fn)  # typer reads the signature through __wrapped__
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except (UserError, ValueError, OSError, KeyError) as exc:
            if _DEBUG["on"]:
                raise
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            if isinstance(exc, OSError) and exc.filename is not None:
                message = f"{exc.strerror or exc}: {exc.filename}"
            _fail(" ".join(str(message).split()))
        except Exception as exc:
            if _DEBUG["on"]:
                raise
            first = " ".join(str(exc).split())[:300]
            typer.echo(
                f"error: unexpected failure ({type(exc).__name__}: {first}); rerun with --debug for the "
                "traceback",
                err=True,
            )
            raise typer.Exit(EXIT_UNEXPECTED) from None

    return wrapper


def _pydantic_flags(exc: Any, root: Any, flags: dict[str, str]) -> str:
    """A pydantic error about settings given as flags, as ``--flag: message`` parts on one line."""
    from backtrack.recipes import validation_messages

    def where(loc: tuple[Any, ...]) -> str:
        return flags.get(str(loc[0]), str(loc[0])) if loc else "arguments"

    return "; ".join(validation_messages(exc, root, where))


@app.command()
@_guard
def solve(
    task_name: TaskArg,
    problem: ProblemArg = None,
    numbers: NumbersOpt = None,
    target: TargetOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="trace format (see `backtrack formats`)")
    ] = "dfs",
    format_option: FormatOptionOpt = None,
    option_alias: FormatOptionAlias = None,
    seed: Annotated[int, typer.Option(help="seed for formats that sample (backtrack-k)")] = 0,
    stats: Annotated[bool, typer.Option(help="print trace statistics to stderr")] = False,
    task_option: TaskOptionOpt = None,
    config_alias: TaskOptionAlias = None,
) -> None:
    """Show the symbolic search trace for one problem; its answer (a CountDown expression, the
    solved Sudoku grid, ...) follows on stderr."""
    from backtrack.traces import render

    task = _task(task_name, _merged(task_option, config_alias))
    options = _format_options(task_name, fmt, _merged(format_option, option_alias))
    prob = _problem(task, problem, {"numbers": numbers, "target": target})
    trace = render(task, prob, fmt, rng=random.Random(seed), **options)
    text = trace.text
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    # stderr: stdout stays the trace alone, which `backtrack verify` accepts as it is.
    if answer := task.reference_answer(prob, trace):
        typer.echo(f"answer: {answer}", err=True)
    if stats:
        typer.echo(json.dumps(trace.stats()), err=True)


@app.command()
@_guard
def verify(
    task_name: TaskArg,
    problem: ProblemArg = None,
    numbers: NumbersOpt = None,
    target: TargetOpt = None,
    puzzle: Annotated[
        str | None, typer.Option(help="Sudoku puzzle, 81 characters (36 with -t box=2x3)")
    ] = None,
    answer: Annotated[str | None, typer.Option(help="the answer text to check ('-' reads stdin)")] = None,
    input_path: Annotated[
        Path | None, typer.Option("--input", help="JSONL rows: the problem's fields and 'answer'")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
    task_option: TaskOptionOpt = None,
    config_alias: TaskOptionAlias = None,
) -> None:
    """Check an answer (expression, steps, whole trace or grid). Exit 0 if correct, 1 if not.

    ``--input rows.jsonl`` checks a dataset's own rows with an ``answer`` field added; exit 1 if any
    row is not correct."""
    task = _task(task_name, _merged(task_option, config_alias))
    if input_path is not None:
        given = [flag for flag, value in (("--answer", answer), ("--numbers", numbers), ("--target", target),
                                          ("--puzzle", puzzle), ("the PROBLEM argument", problem))
                 if value is not None]  # fmt: skip
        if given:
            raise UserError(f"--input reads the problems and answers from its rows; drop {', '.join(given)}")
        all_correct = _verify_file(task, input_path)
        raise typer.Exit(0 if all_correct else 1)
    if answer is None:
        raise UserError("give --answer TEXT (or --input rows.jsonl)")
    if answer == "-":
        answer = sys.stdin.read()
    prob = _problem(task, problem, {"numbers": numbers, "target": target, "puzzle": puzzle})
    verdict = task.verify(prob, answer)
    if as_json:
        typer.echo(json.dumps(verdict.to_dict()))
    else:
        typer.echo(f"{'correct' if verdict.ok else 'wrong'} ({verdict.kind}): {verdict.reason}")
    raise typer.Exit(0 if verdict.ok else 1)


def _row_verdict(task: Any, line: str) -> dict[str, Any]:
    """The verdict for one JSONL row. Whatever the row holds (1e400, garbage, a wrong type), it gets a
    verdict of its own and the batch goes on."""
    try:
        row = json.loads(line)
        if not isinstance(row, dict) or "answer" not in row:
            raise ValueError("row needs the problem's fields and 'answer'")
        if not isinstance(row["answer"], str):
            raise ValueError("'answer' must be a string")
        return task.verify(task.problem_from_dict(row), row["answer"]).to_dict()
    except KeyError as exc:
        return {"ok": False, "reason": f"bad row: missing field {exc}", "kind": "error"}
    except (ValueError, TypeError, OverflowError, ArithmeticError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        return {"ok": False, "reason": f"bad row: {reason}", "kind": "error"}


def _verify_file(task: Any, path: Path) -> bool:
    """One JSON verdict per input row on stdout, a count on stderr; True when every row is correct."""
    if not path.is_file():
        raise UserError(f"--input {path}: no such file")
    total = correct = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            total += 1
            verdict = {"line": lineno, **_row_verdict(task, line)}
            correct += bool(verdict["ok"])
            sys.stdout.write(json.dumps(verdict) + "\n")
    if total == 0:
        raise UserError(f"--input {path} holds no rows")
    typer.echo(f"{correct}/{total} correct", err=True)
    return correct == total


@app.command()
@_guard
def generate(
    task_name: TaskArg,
    n: Annotated[int, typer.Option("--n", help="number of problems")] = 1000,
    seed: Annotated[int, typer.Option(help="seed; same arguments give byte-identical files")] = 0,
    fmt: Annotated[str, typer.Option("--format", "-f", help="trace format")] = "dfs",
    out: Annotated[Path, typer.Option(help="output directory (a Hugging Face dataset on disk)")] = Path(
        "data/out"
    ),
    test_size: Annotated[int | None, typer.Option(help="cap on the test split")] = None,
    workers: Annotated[int | None, typer.Option(help="processes (default: all cores for large n)")] = None,
    task_option: TaskOptionOpt = None,
    config_alias: TaskOptionAlias = None,
    format_option: FormatOptionOpt = None,
    option_alias: FormatOptionAlias = None,
    overwrite: Annotated[bool, typer.Option(help="replace an earlier dataset at --out")] = False,
) -> None:
    """Build a dataset of traces (train/test split by content) with its metadata."""
    from backtrack.data import build_dataset
    from backtrack.outputs import check_writable_folder

    task_pairs = _merged(task_option, config_alias)
    _task(task_name, task_pairs)  # validate the task and its options before any work
    options = _format_options(task_name, fmt, _merged(format_option, option_alias))
    check_writable_folder(out, "--out")
    info = build_dataset(
        task_name,
        n,
        seed,
        fmt,
        out,
        task_config=_parse_options(task_pairs),
        format_options=options,
        test_size=test_size,
        workers=workers,
        overwrite=overwrite,
        progress=_tty(),
    )
    typer.echo(str(info.summary() if hasattr(info, "summary") else info))


@app.command()
@_guard
def models(
    task_name: Annotated[str, typer.Option("--task", help="vocabulary used for the counts")] = DEFAULT_TASK,
    as_json: JsonOpt = False,
) -> None:
    """List the named model sizes (Qwen2, random init) with their parameter counts."""
    from backtrack.models import describe_sizes
    from backtrack.tokenizer import build_tokenizer

    vocab = len(build_tokenizer(_task(task_name).name))
    rows = describe_sizes(vocab)
    if as_json:
        typer.echo(json.dumps({"task": task_name, "vocab_size": vocab, "sizes": rows}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"model sizes ({task_name} vocabulary: {vocab} tokens)", caption="* the reference study's sizes"
    )
    for column in ("name", "hidden", "layers", "heads", "kv", "ffn", "params", "non-emb."):
        table.add_column(column, justify="left" if column == "name" else "right", no_wrap=True)
    for row in rows:
        dims = [str(row[k]) for k in ("hidden", "layers", "heads", "kv_heads", "ffn")]
        name = row["name"] + ("*" if row["paper"] else "")
        table.add_row(name, *dims, f"{row['params']:,}", f"{row['non_embedding_params']:,}")
    Console().print(table)


@app.command()
@_guard
def flops(
    size: Annotated[str, typer.Argument(help="a named size (`backtrack models`) or a saved model path")],
    tokens: Annotated[int, typer.Option(help="generated tokens per sample (prompt excluded)")] = 4096,
    samples: Annotated[int, typer.Option(help="number of samples")] = 1,
    table: Annotated[bool, typer.Option(help="also print sequential budgets against best-of-n")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Inference FLOPs by the reference formula, for planning matched-compute comparisons."""
    from backtrack.budget import budget_table, inference_flops
    from backtrack.validate import check_model_size

    if tokens < 1:
        raise UserError(f"--tokens must be a positive integer, got {tokens}")
    if samples < 1:
        raise UserError(f"--samples must be a positive integer, got {samples}")
    dims: Any = size
    if Path(size).is_dir():
        from transformers import AutoConfig

        if not (Path(size) / "config.json").is_file():
            raise UserError(f"{size}: not a saved model folder (no config.json)")
        dims = AutoConfig.from_pretrained(size)
    else:
        check_model_size(size, "SIZE")
    total = inference_flops(dims, tokens, samples)
    rows = budget_table(dims, sample_tokens=tokens) if table else []
    if as_json:
        out: dict[str, Any] = {"size": size, "tokens": tokens, "samples": samples, "flops": total}
        if table:
            out["table"] = rows
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(f"{size}: {samples} x {tokens} tokens = {total:.4e} FLOPs ({total:,.0f})")
    for row in rows:
        typer.echo(
            f"  {row['strategy']:<10} n={row['samples']:<3} tokens={row['tokens']:<5} "
            f"flops={row['flops']:.3e}  = {row['equivalent_samples']:.2f} samples of {tokens}"
        )


@app.command()
@_guard
def tasks() -> None:
    """List the tasks with their trace formats and options (config fields with their defaults)."""
    from backtrack.tasks import task_class, task_options

    for name in TASK_NAMES:
        doc = (task_class(name).__doc__ or "").strip().splitlines()
        typer.echo(f"{name}: {doc[0] if doc else ''}".rstrip(": "))
        typer.echo(f"  formats: {', '.join(get_task(name).formats())}")
        options = ", ".join(f"{key}={json.dumps(value)}" for key, value in task_options(name))
        typer.echo(f"  options: {options or 'none'}")


@app.command()
@_guard
def formats(as_json: JsonOpt = False) -> None:
    """List the trace formats of every task, with the options each accepts (-o key=value)."""
    from backtrack.traces import formats as all_formats
    from backtrack.validate import format_option_names

    rows = []
    for name in all_formats():
        task_name, _, fmt = name.partition("/")
        rows.append({"task": task_name, "format": fmt, "options": format_option_names(task_name, fmt)})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        shown = "?" if row["options"] is None else ", ".join(row["options"]) or "-"
        typer.echo(f"{row['task']}/{row['format']}  options: {shown}")


train_app = typer.Typer(
    no_args_is_help=True,
    context_settings=_CONTEXT,
    help="Supervised fine-tuning (GRPO is under `backtrack rl`).",
)
app.add_typer(train_app, name="train")

TRUNCATED_WARNING_SHARE = 0.05  # above this share of truncated examples, training warns in words


def _warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def _check_training_out(
    out: Path, kind: str, *, resume: bool, overwrite: bool, max_steps: int | None
) -> None:
    """Refuse an output folder that would lose or mix work (see ``backtrack.outputs``); a finished run
    given --resume is a success with nothing to do."""
    from backtrack.outputs import RunFolder, check_training_output
    from backtrack.train.checkpoints import FINAL_TMP

    if kind == "sft":
        from backtrack.train.packing import CACHE_DIR
        from backtrack.train.sft import RESULT_FILE, SETTINGS_FILE

        folder = RunFolder(out, SETTINGS_FILE, RESULT_FILE, frozenset({CACHE_DIR, FINAL_TMP}))
    else:
        from backtrack.train.callbacks import METRICS_FILE
        from backtrack.train.grpo import INITIAL_DIR, RESULT_FILE, SETTINGS_FILE

        folder = RunFolder(out, SETTINGS_FILE, RESULT_FILE, frozenset({METRICS_FILE, INITIAL_DIR, FINAL_TMP}))
    note = check_training_output(folder, resume=resume, overwrite=overwrite, max_steps=max_steps)
    if note:
        typer.echo(note, err=True)
        raise typer.Exit(0)


def _check_saved_model(model: Path, data_task: str, data: Path) -> None:
    from backtrack.validate import check_model_dir, check_model_matches_data

    check_model_dir(model)
    check_model_matches_data(model, data_task, data)


@train_app.command("sft")
@_guard
def train_sft_command(
    data: Annotated[Path, typer.Option(help="a dataset from `backtrack generate`")],
    model: Annotated[str, typer.Option(help="a named size (`backtrack models`) or a saved model's path")],
    out: Annotated[Path, typer.Option(help="output directory (checkpoints, then model + tokenizer)")],
    context: Annotated[int, typer.Option(help="max tokens per packed row")] = 4096,
    max_steps: Annotated[int | None, typer.Option(help="optimizer steps (default: one epoch)")] = None,
    batch_size: Annotated[int, typer.Option(help="packed rows per step")] = 8,
    lr: Annotated[float, typer.Option(help="peak learning rate (warmup + cosine)")] = 5e-4,
    loss_on: Annotated[str, typer.Option(help="completion, or all (the paper's choice)")] = "completion",
    save_steps: Annotated[int, typer.Option(help="checkpoint every N steps")] = 500,
    seed: Annotated[int, typer.Option(help="initialisation and data order")] = 0,
    lora_r: Annotated[
        int | None,
        typer.Option(help="train rank-R LoRA adapters (peft) instead of every weight; saved merged"),
    ] = None,
    whole_numbers: Annotated[
        int, typer.Option(help="new models: one token per number 0..N instead of digits (0: digits)")
    ] = 0,
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint in --out")] = False,
    overwrite: Annotated[bool, typer.Option(help="start again over an earlier run in --out")] = False,
) -> None:
    """Supervised fine-tuning on a dataset's prompt/completion pairs (packed, resumable)."""
    from backtrack.models import MODEL_SIZES, build_model, load_model
    from backtrack.tokenizer import build_tokenizer
    from backtrack.train.sft import SFTSettings, train_sft
    from backtrack.validate import check_model_size, dataset_metadata

    meta = dataset_metadata(data)
    if whole_numbers < 0:
        raise UserError(f"--whole-numbers must be 0 or more, got {whole_numbers}")
    if max_steps is not None and max_steps < 1:
        raise UserError(f"--max-steps must be a positive integer, got {max_steps}")
    check_model_size(model, "--model")
    if model not in MODEL_SIZES:
        _check_saved_model(Path(model), meta["task"], data)
    settings = SFTSettings(
        output_dir=out,
        max_length=context,
        max_steps=max_steps,
        per_device_batch_size=batch_size,
        learning_rate=lr,
        loss_on=loss_on,
        seed=seed,
        save_steps=save_steps,
        lora_r=lora_r,
        resume=resume,
        overwrite=overwrite,
        progress=_tty(),
    )  # validated here, before the model is built
    _check_training_out(out, "sft", resume=resume, overwrite=overwrite, max_steps=max_steps)
    if model in MODEL_SIZES:
        tokenizer = build_tokenizer(meta["task"], whole_numbers=whole_numbers, **meta["task_config"])
        net = build_model(model, tokenizer, context, seed=seed)
    else:
        net, tokenizer = load_model(model)
    result = train_sft(net, tokenizer, data, settings)
    if result.examples and result.truncated / result.examples > TRUNCATED_WARNING_SHARE:
        _warn(
            f"{result.truncated} of {result.examples} examples ({result.truncated / result.examples:.0%}) "
            f"were longer than --context {context} and were truncated: the model never saw their ends"
        )
    typer.echo(json.dumps({k: v for k, v in result.to_dict().items() if k != "losses"}, default=str))


rl_app = typer.Typer(
    no_args_is_help=True,
    context_settings=_CONTEXT,
    help="Reinforcement learning on verifiable rewards (GRPO).",
)
app.add_typer(rl_app, name="rl")


def _dataset_task(data: Path, task_name: str | None, options: list[str] | None) -> Any:
    """The task a dataset was generated for, with the options in its metadata.json (so they need not be
    repeated), overridden by ``--task-option``."""
    metadata_path = data / "metadata.json"
    meta = json.loads(metadata_path.read_text()) if metadata_path.is_file() else {}
    name = task_name or meta.get("task")
    if name is None:
        raise UserError(f"{data} has no metadata.json naming its task; pass --task")
    if task_name and meta.get("task") and task_name != meta["task"]:
        raise UserError(f"--task {task_name} but {data} holds {meta['task']} data")
    config = dict(meta.get("task_config") or {}) if name == meta.get("task") else {}
    config.update(_parse_options(options))
    if name not in TASK_NAMES:
        raise UserError(f"unknown task {name!r} (known: {', '.join(TASK_NAMES)})")
    return get_task(name, **config)


@rl_app.command("grpo")
@_guard
def rl_grpo_command(
    model: Annotated[Path, typer.Option(help="a trained model directory (e.g. from `backtrack train sft`)")],
    data: Annotated[Path, typer.Option(help="a dataset from `backtrack generate` (test split: held out)")],
    out: Annotated[Path, typer.Option(help="output directory (checkpoints, metrics.jsonl, final model)")],
    task_name: Annotated[str | None, typer.Option("--task", help="task (default: the dataset's)")] = None,
    task_option: Annotated[
        list[str] | None,
        typer.Option("--task-option", "-t", help="task option key=value (default: the dataset's metadata)"),
    ] = None,
    config_alias: TaskOptionAlias = None,
    max_steps: Annotated[int | None, typer.Option(help="optimizer steps [default: 100]")] = None,
    steps_alias: Annotated[int | None, typer.Option("--steps", hidden=True)] = None,
    lr: Annotated[float, typer.Option(help="learning rate (constant)")] = 1e-5,
    num_generations: Annotated[int, typer.Option(help="completions sampled per prompt (group size)")] = 8,
    batch_size: Annotated[
        int, typer.Option(help="completions per step and device (a multiple of --num-generations)")
    ] = 16,
    max_completion_length: Annotated[
        int | None, typer.Option(help="tokens per completion (default: from the dataset's completions)")
    ] = None,
    temperature: Annotated[float, typer.Option(help="sampling temperature")] = 1.0,
    train_problems: Annotated[
        int | None, typer.Option(help="prompts from the first N training problems (default: all)")
    ] = None,
    reward: Annotated[
        str, typer.Option(help="binary (1 correct / 0), format (1 / 0.1 well formed / 0) or module:function")
    ] = "binary",
    beta: Annotated[float, typer.Option(help="KL coefficient (0: no reference model, no kl metric)")] = 0.0,
    save_steps: Annotated[int, typer.Option(help="checkpoint every N steps (0: final model only)")] = 50,
    eval_every: Annotated[int, typer.Option(help="held-out solved share every N steps (0: never)")] = 50,
    eval_problems: Annotated[int, typer.Option(help="held-out problems (the test split's first N)")] = 64,
    seed: Annotated[int, typer.Option(help="prompt order and sampling")] = 0,
    lora_r: Annotated[
        int | None,
        typer.Option(help="train rank-R LoRA adapters (peft) instead of every weight; saved merged"),
    ] = None,
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint in --out")] = False,
    overwrite: Annotated[bool, typer.Option(help="start again over an earlier run in --out")] = False,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda or cuda:N (default: CUDA when present, else the CPU)")
    ] = None,
) -> None:
    """GRPO on the task verifier's reward from a trained model (resumable; --out/metrics.jsonl)."""
    from backtrack.device import resolve_device
    from backtrack.train.grpo import GRPOSettings

    if max_steps is not None and steps_alias is not None and max_steps != steps_alias:
        raise UserError(
            f"--max-steps {max_steps} and --steps {steps_alias} disagree (--steps is its old name)"
        )
    steps = max_steps if max_steps is not None else steps_alias if steps_alias is not None else 100
    if steps < 1:
        raise UserError(f"--max-steps must be a positive integer, got {steps}")
    resolved = resolve_device(device)

    settings = GRPOSettings(
        output_dir=out,
        max_steps=steps,
        learning_rate=lr,
        num_generations=num_generations,
        per_device_batch_size=batch_size,
        max_completion_length=max_completion_length,
        temperature=temperature,
        train_problems=train_problems,
        reward=reward,
        beta=beta,
        save_steps=save_steps or None,
        eval_every=eval_every or None,
        eval_problems=eval_problems,
        seed=seed,
        lora_r=lora_r,
        resume=resume,
        overwrite=overwrite,
        device=str(resolved),
        progress=_tty(),
    )
    if not data.is_dir():
        raise UserError(f"--data {data}: no such folder")
    task = _dataset_task(data, task_name, _merged(task_option, config_alias))
    _check_saved_model(model, task.name, data)
    _check_training_out(out, "grpo", resume=resume, overwrite=overwrite, max_steps=steps)
    from backtrack.models import load_model
    from backtrack.train.callbacks import progress_bars
    from backtrack.train.grpo import train_grpo

    with progress_bars(False):  # a loading bar before an error line would make the error two lines
        net, tokenizer = load_model(model, device=resolved)
    result = train_grpo(net, tokenizer, data, task, settings)
    summary = {k: v for k, v in result.to_dict().items() if k not in ("rewards", "eval_solved")}
    typer.echo(json.dumps(summary, default=str))


_EVAL_FLAGS = {
    "strategy": "--strategy",
    "budgets": "--budgets",
    "samples": "--samples",
    "max_new_tokens": "--max-new-tokens",
    "temperature": "--temperature",
    "select": "--select",
}


def _ints(flag: str, text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{flag}: expected comma-separated integers such as 1,2,4, got {text!r}") from None


@app.command("eval")
@_guard
def eval_command(
    model: Annotated[Path, typer.Option(help="a trained model directory")],
    data: Annotated[Path, typer.Option(help="the dataset whose test split is evaluated")],
    strategy: Annotated[str, typer.Option(help="sequential, parallel or hybrid")] = "sequential",
    budgets: Annotated[str, typer.Option(help="sequential/hybrid token budgets")] = "256,512,1024,2048,4096",
    samples: Annotated[str, typer.Option(help="parallel sample counts")] = "1,2,4,8,16,32",
    max_new_tokens: Annotated[int, typer.Option(help="parallel: tokens per sample")] = 512,
    temperature: Annotated[float, typer.Option(help="parallel/hybrid sampling temperature")] = 0.7,
    select: Annotated[str, typer.Option(help="parallel: oracle, majority or first_valid")] = "oracle",
    limit: Annotated[int, typer.Option(help="problems evaluated (the test split's first N)")] = 200,
    out: Annotated[
        Path | None, typer.Option(help="write a results.json that `backtrack report` reads (a .json file)")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="the model's name in --out (default: its folder's)")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing --out file")] = False,
    as_json: JsonOpt = False,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda or cuda:N (default: CUDA when present, else the CPU)")
    ] = None,
) -> None:
    """Accuracy against tokens and FLOPs on held-out problems, for one strategy."""
    from pydantic import ValidationError

    from backtrack.device import resolve_device
    from backtrack.outputs import check_output_file, write_text_atomic
    from backtrack.recipes import EvalSpec
    from backtrack.validate import dataset_metadata

    try:
        spec = EvalSpec(
            strategy=strategy, budgets=_ints("--budgets", budgets), samples=_ints("--samples", samples),
            max_new_tokens=max_new_tokens, temperature=temperature, select=select,
        )  # fmt: skip
    except ValidationError as exc:
        raise UserError(_pydantic_flags(exc, EvalSpec, _EVAL_FLAGS)) from None
    if limit < 1:
        raise UserError(f"--limit must be a positive number of problems, got {limit}")
    resolved = resolve_device(device)
    meta = dataset_metadata(data)
    _check_saved_model(model, meta["task"], data)
    if out is not None:
        check_output_file(out, overwrite=overwrite)

    import datasets

    from backtrack.evaluate import evaluate_model
    from backtrack.models import load_model, parameter_count

    task = get_task(meta["task"], **meta["task_config"])
    test = datasets.load_from_disk(str(data))["test"]
    if len(test) == 0:
        raise UserError(f"--data {data} has an empty test split")
    rows = [test[i] for i in range(min(limit, len(test)))]
    net, tokenizer = load_model(model, device=resolved)
    start = time.perf_counter()
    entry, _ = evaluate_model(net, tokenizer, task, rows, [spec], fmt=meta["format"])
    entry.update(
        size=str(model), params=parameter_count(net)["total"], eval_seconds=time.perf_counter() - start
    )
    if out is not None:
        from backtrack.run import environment

        results = {
            "name": out.stem,
            "data": str(data),
            "environment": {**environment(), "device": str(resolved)},
            "models": {name or model.resolve().name: entry},
        }
        write_text_atomic(out, json.dumps(results, indent=2, default=str))
    if as_json:
        typer.echo(json.dumps(entry, indent=2, default=str))
        return
    for point in entry["curves"][0]["points"]:
        where = f"budget {point['budget']}" if point["budget"] else f"n={point['samples']}"
        solved = float(point["solved"])
        # Oracle best-of-n is scored by the pass@n estimate: an expected count, not a whole one.
        count = (
            f"{solved:.0f}/{point['n']}" if solved.is_integer() else f"≈{solved:.1f}/{point['n']} expected"
        )
        typer.echo(
            f"{where:>12}: {point['accuracy']:.1%} solved ({count}), {point['flops']:.3e} FLOPs/problem"
        )


# Above this many estimated hours of training on a CPU, `backtrack run` asks for --yes.
CPU_HOURS_WITHOUT_ASKING = 2.0
CPU_FLOPS_PER_SECOND = 5e10  # a generous CPU training rate (measured ~1e10-5e10 on this project's CPUs)


def _cpu_time_warning(study: Any) -> str | None:
    """A line about the expected time when a recipe meant for a GPU is started without one."""
    import torch

    from backtrack.recipes import training_flops_estimate

    if torch.cuda.is_available():
        return None
    total = training_flops_estimate(study)
    hours = total / CPU_FLOPS_PER_SECOND / 3600
    if hours < CPU_HOURS_WITHOUT_ASKING:
        return None
    return (
        f"recipe {study.name} trains for about {total:.1e} FLOPs (6 x parameters x tokens) and there is "
        f"no GPU here: at a CPU's ~{CPU_FLOPS_PER_SECOND:.0e} FLOP/s that is ~{hours:,.0f} hours"
    )


@app.command()
@_guard
def run(
    recipe: Annotated[
        str | None, typer.Argument(help="TOML recipe; the embedded default study when omitted")
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="where run directories go")] = Path("runs"),
    device: Annotated[
        str | None,
        typer.Option(
            help="cpu, cuda or cuda:N for every stage (default: the recipe's, else CUDA when present)"
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="start even when the recipe needs hours without a GPU")
    ] = False,
) -> None:
    """Run a study: data -> tokenizer -> train each model -> evaluate -> report (cached, resumable)."""
    from backtrack.outputs import check_runs_dir
    from backtrack.recipes import RecipeError, default_recipe, load_recipe
    from backtrack.run import run_study

    try:
        study = load_recipe(recipe) if recipe else default_recipe()
    except RecipeError as exc:
        raise UserError(str(exc)) from None
    check_runs_dir(runs_dir)
    warning = _cpu_time_warning(study)
    if warning:
        if not yes:
            raise UserError(f"{warning}; pass --yes to start anyway")
        _warn(warning)
    start = time.perf_counter()
    report = run_study(
        study, runs_dir, log=lambda line: typer.echo(line, err=True), device=device, progress=_tty()
    )
    typer.echo(f"report: {report}  ({time.perf_counter() - start:.0f} s)")


@app.command()
@_guard
def report(
    run_dir: Annotated[
        Path, typer.Argument(help="a run directory holding results.json, or a results file from `eval --out`")
    ],
) -> None:
    """Write figures, report.md and a self-contained report.html beside the results."""
    from backtrack.report import write_report

    typer.echo(str(write_report(run_dir)))


def _expand_multi_value_options(argv: list[str], names: tuple[str, ...] = ("--numbers",)) -> list[str]:
    """Allow ``--numbers 62 36 6 70`` (click options take one value each) by repeating the flag."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        out.append(arg)
        i += 1
        if arg in names:
            first = True
            while i < len(argv) and not argv[i].startswith("-"):
                if not first:
                    out.append(arg)
                out.append(argv[i])
                first = False
                i += 1
    return out


def _pop_debug(args: list[str]) -> list[str]:
    """``--debug`` anywhere before ``--`` (typer would accept it only before the command)."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" in args[:end]:
        _DEBUG["on"] = True
        args = [a for i, a in enumerate(args) if not (i < end and a == "--debug")]
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point. Usage errors become one ``error: ...`` line (click would draw a box)."""
    _DEBUG["on"] = os.environ.get("BACKTRACK_DEBUG", "") not in ("", "0")
    args = _pop_debug(_expand_multi_value_options(sys.argv[1:] if argv is None else argv))
    if argv is None:  # a real process: `accelerate launch --cpu` may have started one of several
        from backtrack.launch import relaunch_for_accelerate_cpu

        relaunched = relaunch_for_accelerate_cpu(args)
        if relaunched is not None:
            sys.exit(relaunched)
    _quiet_libraries()
    command = typer.main.get_command(app)
    try:
        code = command.main(args, prog_name="backtrack", standalone_mode=False)
    except typer.TyperException as exc:  # typer's (vendored click) usage errors
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            sys.exit(0)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        typer.echo(f"error: {' '.join(message.split())}{hint}", err=True)
        code = EXIT_BAD_INPUT
    except typer.Abort:
        typer.echo("aborted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
