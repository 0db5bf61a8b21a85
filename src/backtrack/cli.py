"""The ``backtrack`` command line (typer).

Errors a person can cause (bad numbers, an unknown format, a malformed grid) are reported as one
``error: ...`` line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import functools
import json
import random
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from backtrack.tasks import DEFAULT_TASK, TASK_NAMES, get_task

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="backtrack-lab: sequential search vs parallel sampling in language-model reasoning.",
)

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
    task.parse_problem("")  # raises the task's ValueError, which shows the accepted form
    raise UserError(f"give the {task.name} problem")


def _task(name: str, config: list[str] | None = None) -> Any:
    if name not in TASK_NAMES:
        raise UserError(f"unknown task {name!r} (known: {', '.join(TASK_NAMES)})")
    return get_task(name, **_parse_options(config))


def _guard(fn: Any) -> Any:
    """Turn user errors into one line on stderr (exit 2)."""

    @functools.wraps(fn)  # typer reads the signature through __wrapped__
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UserError, ValueError, FileExistsError, FileNotFoundError, KeyError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            _fail(str(message))

    return wrapper


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
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", help="format option key=value, e.g. heuristic=mult, k=2, strategy=naive"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed for formats that sample (backtrack-k)")] = 0,
    stats: Annotated[bool, typer.Option(help="print trace statistics to stderr")] = False,
) -> None:
    """Show the symbolic search trace for one problem."""
    from backtrack.traces import render

    task = _task(task_name)
    prob = _problem(task, problem, {"numbers": numbers, "target": target})
    trace = render(task, prob, fmt, rng=random.Random(seed), **_parse_options(option))
    sys.stdout.write(trace.text)
    if stats:
        typer.echo(json.dumps(trace.stats()), err=True)


@app.command()
@_guard
def verify(
    task_name: TaskArg,
    problem: ProblemArg = None,
    numbers: NumbersOpt = None,
    target: TargetOpt = None,
    puzzle: Annotated[str | None, typer.Option(help="Sudoku puzzle, 81 characters")] = None,
    answer: Annotated[str | None, typer.Option(help="the answer text to check ('-' reads stdin)")] = None,
    input_path: Annotated[
        Path | None, typer.Option("--input", help="JSONL rows: the problem's fields and 'answer'")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help="task option key=value")] = None,
) -> None:
    """Check an answer (expression, steps, whole trace or grid). Exit 0 if correct, 1 if not.

    ``--input rows.jsonl`` checks a dataset's own rows with an ``answer`` field added."""
    task = _task(task_name, config)
    if input_path is not None:
        _verify_file(task, input_path)
        return
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


def _verify_file(task: Any, path: Path) -> None:
    """One JSON verdict per input row; a bad row gets ok=false and a reason, never stops the file."""
    if not path.exists():
        raise UserError(f"no such file: {path}")
    total = correct = 0
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            total += 1
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or "answer" not in row:
                    raise ValueError("row needs the problem's fields and 'answer'")
                verdict = task.verify(task.problem_from_dict(row), row["answer"]).to_dict()
            except KeyError as exc:
                verdict = {"ok": False, "reason": f"bad row: missing field {exc}", "kind": "error"}
            except (ValueError, TypeError) as exc:
                verdict = {"ok": False, "reason": f"bad row: {exc}", "kind": "error"}
            verdict = {"line": lineno, **verdict}
            correct += bool(verdict["ok"])
            sys.stdout.write(json.dumps(verdict) + "\n")
    typer.echo(f"{correct}/{total} correct", err=True)


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
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help="task option key=value")] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="format option key=value")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing output directory")] = False,
) -> None:
    """Build a dataset of traces (train/test split by content) with its metadata."""
    from backtrack.data import build_dataset

    _task(task_name, config)  # validate the task and its options before any work
    info = build_dataset(
        task_name,
        n,
        seed,
        fmt,
        out,
        task_config=_parse_options(config),
        format_options=_parse_options(option),
        test_size=test_size,
        workers=workers,
        overwrite=overwrite,
    )
    typer.echo(str(info.summary() if hasattr(info, "summary") else info))


@app.command()
@_guard
def models(
    task_name: Annotated[str, typer.Option("--task", help="vocabulary used for the counts")] = DEFAULT_TASK,
) -> None:
    """List the named model sizes (Qwen2, random init) with their parameter counts."""
    from rich.console import Console
    from rich.table import Table

    from backtrack.models import describe_sizes
    from backtrack.tokenizer import build_tokenizer

    vocab = len(build_tokenizer(_task(task_name).name))
    table = Table(
        title=f"model sizes ({task_name} vocabulary: {vocab} tokens)", caption="* the reference study's sizes"
    )
    for column in ("name", "hidden", "layers", "heads", "kv", "ffn", "params", "non-emb."):
        table.add_column(column, justify="left" if column == "name" else "right", no_wrap=True)
    for row in describe_sizes(vocab):
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
) -> None:
    """Inference FLOPs by the reference formula, for planning matched-compute comparisons."""
    from backtrack.budget import budget_table, inference_flops

    if tokens < 1 or samples < 1:
        raise UserError("--tokens and --samples must be positive")
    dims: Any = size
    if Path(size).is_dir():
        from transformers import AutoConfig

        dims = AutoConfig.from_pretrained(size)
    total = inference_flops(dims, tokens, samples)
    typer.echo(f"{size}: {samples} x {tokens} tokens = {total:.4e} FLOPs ({total:,.0f})")
    if table:
        for row in budget_table(dims, sample_tokens=tokens):
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
def formats() -> None:
    """List the trace formats of every task."""
    from backtrack.traces import formats as all_formats

    for name in all_formats():
        typer.echo(name)


train_app = typer.Typer(no_args_is_help=True, help="Supervised fine-tuning (GRPO is under `backtrack rl`).")
app.add_typer(train_app, name="train")


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
    whole_numbers: Annotated[
        int, typer.Option(help="new models: one token per number 0..N instead of digits (0: digits)")
    ] = 0,
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint in --out")] = False,
    overwrite: Annotated[bool, typer.Option(help="start again over earlier checkpoints in --out")] = False,
) -> None:
    """Supervised fine-tuning on a dataset's prompt/completion pairs (packed, resumable)."""
    from backtrack.models import MODEL_SIZES, build_model, load_model
    from backtrack.tokenizer import build_tokenizer
    from backtrack.train.sft import SFTSettings, train_sft

    metadata_path = data / "metadata.json"
    if not metadata_path.is_file():
        raise UserError(f"{data} is not a dataset from `backtrack generate` (no metadata.json)")
    if model in MODEL_SIZES:
        meta = json.loads(metadata_path.read_text())
        if whole_numbers < 0:
            raise UserError(f"--whole-numbers must be 0 or more, got {whole_numbers}")
        tokenizer = build_tokenizer(meta["task"], whole_numbers=whole_numbers, **meta["task_config"])
        net = build_model(model, tokenizer, context, seed=seed)
    else:
        net, tokenizer = load_model(model)
    settings = SFTSettings(
        output_dir=out,
        max_length=context,
        max_steps=max_steps,
        per_device_batch_size=batch_size,
        learning_rate=lr,
        loss_on=loss_on,
        seed=seed,
        save_steps=save_steps,
        resume=resume,
        overwrite=overwrite,
    )
    result = train_sft(net, tokenizer, data, settings)
    typer.echo(json.dumps({k: v for k, v in result.to_dict().items() if k != "losses"}, default=str))


rl_app = typer.Typer(no_args_is_help=True, help="Reinforcement learning on verifiable rewards (GRPO).")
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
        typer.Option("--task-option", help="task option key=value (default: the dataset's metadata)"),
    ] = None,
    steps: Annotated[int, typer.Option(help="optimizer steps")] = 100,
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
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint in --out")] = False,
    overwrite: Annotated[bool, typer.Option(help="start again over an earlier run in --out")] = False,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda or cuda:N (default: CUDA when present, else the CPU)")
    ] = None,
) -> None:
    """GRPO on the task verifier's reward from a trained model (resumable; --out/metrics.jsonl)."""
    from backtrack.device import resolve_device
    from backtrack.train.grpo import GRPOSettings

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
        resume=resume,
        overwrite=overwrite,
        device=str(resolved),
    )
    if not data.is_dir():
        raise UserError(f"no dataset at {str(data)!r}")
    task = _dataset_task(data, task_name, task_option)
    from backtrack.models import load_model
    from backtrack.train.callbacks import progress_bars
    from backtrack.train.grpo import train_grpo

    with progress_bars(False):  # a loading bar before an error line would make the error two lines
        net, tokenizer = load_model(model, device=resolved)
    result = train_grpo(net, tokenizer, data, task, settings)
    summary = {k: v for k, v in result.to_dict().items() if k not in ("rewards", "eval_solved")}
    typer.echo(json.dumps(summary, default=str))


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
    out: Annotated[Path | None, typer.Option(help="write the results here (JSON)")] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda or cuda:N (default: CUDA when present, else the CPU)")
    ] = None,
) -> None:
    """Accuracy against tokens and FLOPs on held-out problems, for one strategy."""
    import datasets

    from backtrack.device import resolve_device
    from backtrack.evaluate import evaluate_model
    from backtrack.models import load_model
    from backtrack.recipes import EvalSpec

    def ints(text: str) -> list[int]:
        try:
            return [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise UserError(f"expected comma-separated integers, got {text!r}") from None

    try:
        spec = EvalSpec(
            strategy=strategy, budgets=ints(budgets), samples=ints(samples), max_new_tokens=max_new_tokens,
            temperature=temperature, select=select,
        )  # fmt: skip
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[-1].strip()) from None
    resolved = resolve_device(device)
    meta = json.loads((data / "metadata.json").read_text())
    task = get_task(meta["task"], **meta["task_config"])
    test = datasets.load_from_disk(str(data))["test"]
    rows = [test[i] for i in range(min(limit, len(test)))]
    net, tokenizer = load_model(model, device=resolved)
    entry, _ = evaluate_model(net, tokenizer, task, rows, [spec], fmt=meta["format"])
    text = json.dumps(entry, indent=2, default=str)
    if out:
        out.write_text(text)
    for point in entry["curves"][0]["points"]:
        where = f"budget {point['budget']}" if point["budget"] else f"n={point['samples']}"
        typer.echo(f"{where:>12}: {point['accuracy']:.1%} solved, {point['flops']:.3e} FLOPs/problem")


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
) -> None:
    """Run a study: data -> tokenizer -> train each model -> evaluate -> report (cached, resumable)."""
    from backtrack.recipes import RecipeError, default_recipe, load_recipe
    from backtrack.run import run_study

    try:
        study = load_recipe(recipe) if recipe else default_recipe()
    except RecipeError as exc:
        raise UserError(str(exc)) from None
    start = time.perf_counter()
    report = run_study(study, runs_dir, log=lambda line: typer.echo(line, err=True), device=device)
    typer.echo(f"report: {report}  ({time.perf_counter() - start:.0f} s)")


@app.command()
@_guard
def report(run_dir: Annotated[Path, typer.Argument(help="a run directory holding results.json")]) -> None:
    """Write figures, report.md and a self-contained report.html for a run directory."""
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


def main(argv: list[str] | None = None) -> None:
    """Entry point. Usage errors become one ``error: ...`` line (click would draw a box)."""
    args = _expand_multi_value_options(sys.argv[1:] if argv is None else argv)
    if argv is None:  # a real process: `accelerate launch --cpu` may have started one of several
        from backtrack.launch import relaunch_for_accelerate_cpu

        relaunched = relaunch_for_accelerate_cpu(args)
        if relaunched is not None:
            sys.exit(relaunched)
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
        typer.echo(f"error: {message}{hint}", err=True)
        code = 2
    except typer.Abort:
        typer.echo("aborted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
