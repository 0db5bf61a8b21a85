"""Reports for a run directory: PNG figures, a self-contained ``report.html`` and ``report.md``.

Reads ``results.json`` (written by ``backtrack.evaluate``) and knows nothing about how the numbers
were made. The schema it reads::

    {"name": ..., "recipe": {...}, "environment": {...},
     "models": {MODEL: {"size": ..., "format": ..., "params": ...,
                        "curves": [{"strategy": ..., "select": ..., "label": ...,
                                    "points": [{"budget": L or null, "samples": n, "tokens": mean tokens,
                                                "flops": mean FLOPs per problem, "accuracy": share,
                                                "solved": k, "n": problems}, ...]}],
                        "pass_at_k": {"k": [...], "value": [...]} (optional),
                        "trace_stats": {name: value, ...} (optional),
                        "base": MODEL (optional: this entry is MODEL after GRPO),
                        "rl": {"rewards": [[step, mean reward], ...], ...} (optional)}}}

A model after GRPO is drawn in its base model's colour with dashed lines, so each before/after pair
reads at a glance.
"""

from __future__ import annotations

import base64
import html
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Published accuracies (% of 200 held-out problems) from REFERENCE.md, to overlay on paper recipes:
# CountDown budgets 256..4096 tokens (backtracking, greedy) vs n = 1..16 (direct, best-of-n).
PUBLISHED_COUNTDOWN = {
    "3M": {"dfs": [10.5, 13.5, 28.5, 33.5, 41.5], "direct": [8.5, 20.5, 30, 41.5, 52]},
    "17M": {"dfs": [7.5, 11.5, 25.5, 35, 41.5], "direct": [17, 25, 37, 50, 61]},
    "38M": {"dfs": [9.5, 14.5, 28, 35, 45], "direct": [11.5, 27, 33.5, 40, 63]},
    "144M": {"dfs": [12.5, 16, 30, 35.5, 43], "direct": [21, 25.5, 37.5, 52, 68.5]},
}
PUBLISHED_BUDGETS = (256, 512, 1024, 2048, 4096)
PUBLISHED_SAMPLES = (1, 2, 4, 8, 16)
PUBLISHED_DIRECT_TOKENS = 212  # REFERENCE.md: a direct solution is about 212 tokens


def published_points(size: str, fmt: str) -> list[tuple[float, float]] | None:
    """(FLOPs, accuracy) points of the paper for a CountDown size and format, or None."""
    from backtrack.budget import inference_flops

    row = PUBLISHED_COUNTDOWN.get(size, {}).get("dfs" if fmt in ("dfs", "think") else fmt)
    if row is None:
        return None
    if fmt == "direct":
        xs = [inference_flops(size, PUBLISHED_DIRECT_TOKENS, n) for n in PUBLISHED_SAMPLES]
    else:
        xs = [inference_flops(size, L) for L in PUBLISHED_BUDGETS]
    return [(x, acc / 100) for x, acc in zip(xs, row, strict=True)]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _curve_label(model: str, curve: dict[str, Any]) -> str:
    if curve.get("label"):
        return f"{model}: {curve['label']}"
    select = f" ({curve['select']})" if curve.get("select") else ""
    return f"{model}: {curve['strategy']}{select}"


@contextmanager
def _figure(path: Path, size: tuple[float, float], ylabel: str) -> Iterator[Any]:
    """Axes for one PNG figure: headless backend, shared grid/legend/limits, saved and closed on exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=120)
    try:
        yield ax
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)


def _styles(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Colour and line style per model: an RL entry shares its base model's colour, dashed."""
    import matplotlib

    palette = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    colours: dict[str, str] = {}
    styles: dict[str, dict[str, Any]] = {}
    for model, info in results["models"].items():
        base = info.get("base") if info.get("base") in results["models"] else None
        key = base or model
        if key not in colours:
            colours[key] = palette[len(colours) % len(palette)]
        styles[model] = {"color": colours[key], "linestyle": "--" if base else "-"}
    return styles


def plot_accuracy_vs_flops(results: dict[str, Any], path: Path, *, overlay_published: bool = False) -> Path:
    """The study's figure: accuracy against inference FLOPs per problem (log x), one line per model
    and strategy, optionally with the paper's published points."""
    styles = _styles(results)
    with _figure(path, (7, 4.5), "held-out problems solved") as ax:
        for model, info in results["models"].items():
            for curve in info.get("curves", []):
                points = sorted(curve["points"], key=lambda p: p["flops"])
                if not points:
                    continue
                xs = [p["flops"] for p in points]
                ys = [p["accuracy"] for p in points]
                marker = {"sequential": "o", "parallel": "s"}.get(curve["strategy"], "^")
                ax.plot(xs, ys, marker=marker, label=_curve_label(model, curve), **styles[model])
            published = overlay_published and published_points(str(info.get("size")), str(info.get("format")))
            if published:
                ax.plot(*zip(*published, strict=True), "x--", alpha=0.6, label=f"{model}: published")
        ax.set_xscale("log")
        ax.set_xlabel("inference FLOPs per problem (reference formula, prompt excluded)")
        ax.set_ylim(0, 1)
        ax.set_title(f"{results.get('name', 'run')}: accuracy vs inference compute")
    return path


def plot_pass_at_k(results: dict[str, Any], path: Path) -> Path | None:
    """pass@k curves (unbiased estimator) for models that have them."""
    curves = {m: i["pass_at_k"] for m, i in results["models"].items() if i.get("pass_at_k")}
    if not curves:
        return None
    styles = _styles(results)
    with _figure(path, (6, 4), "pass@k") as ax:
        for model, data in curves.items():
            ax.plot(data["k"], data["value"], marker="o", label=model, **styles[model])
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k")
        ax.set_ylim(0, 1)
    return path


def plot_rl_rewards(results: dict[str, Any], path: Path) -> Path | None:
    """Mean GRPO reward per step (and the held-out solved share where measured) for RL entries."""
    runs = {m: i["rl"] for m, i in results["models"].items() if i.get("rl", {}).get("rewards")}
    if not runs:
        return None
    styles = _styles(results)
    with _figure(path, (6, 4), "reward / solved share") as ax:
        for model, rl in runs.items():
            colour = styles[model]["color"]
            steps, rewards = zip(*rl["rewards"], strict=True)
            ax.plot(steps, rewards, label=f"{model}: mean reward", color=colour)
            if rl.get("solved"):
                s_steps, solved = zip(*rl["solved"], strict=True)
                ax.plot(s_steps, solved, "o:", label=f"{model}: held-out solved", color=colour)
        ax.set_xlabel("GRPO step")
        ax.set_ylim(0, 1.05)
    return path


def best_accuracy(info: dict[str, Any]) -> float | None:
    """A model's held-out solved share at its largest compute point (over its curves)."""
    points = [p for curve in info.get("curves", []) for p in curve.get("points", [])]
    return max(points, key=lambda p: (p["flops"], p["accuracy"]))["accuracy"] if points else None


def _before_after(results: dict[str, Any]) -> list[str]:
    pairs = [(i["base"], m) for m, i in results["models"].items() if i.get("base") in results["models"]]
    if not pairs:
        return []
    lines = ["## Before and after GRPO", "", "| model | solved before | solved after |", "|---|---|---|"]
    for base, after in pairs:
        b, a = best_accuracy(results["models"][base]), best_accuracy(results["models"][after])
        lines.append(f"| {base} | {_pct(b)} | {_pct(a)} |")
    return [*lines, "", "(held-out share solved at each model's largest inference budget)", ""]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _markdown(results: dict[str, Any], figures: list[Path]) -> str:
    lines = [f"# {results.get('name', 'run')}", ""]
    if results.get("recipe", {}).get("description"):
        lines += [results["recipe"]["description"], ""]
    for figure in figures:
        lines += [f"![{figure.stem}](figures/{figure.name})", ""]
    lines += _before_after(results)
    for model, info in results["models"].items():
        params = info.get("params")
        shown = f", {params:,} parameters" if isinstance(params, int) else ""
        shown += f", continued from {info['init']}" if info.get("init") else ""
        lines += [f"## {model} ({info.get('format')} traces, size {info.get('size')}{shown})", ""]
        for curve in info.get("curves", []):
            lines += [f"**{_curve_label(model, curve)}**", ""]
            lines += ["| budget | samples | mean tokens | FLOPs | solved |", "|---|---|---|---|---|"]
            for p in curve["points"]:
                solved = f"{p['accuracy']:.1%}" + (f" ({p['solved']}/{p['n']})" if "n" in p else "")
                lines.append(
                    f"| {p.get('budget') or ''} | {p.get('samples', 1)} | {p.get('tokens', 0):.0f} "
                    f"| {p['flops']:.3e} | {solved} |"
                )
            lines.append("")
        if info.get("trace_stats"):
            lines += ["| trace statistic | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in info["trace_stats"].items()]
            lines.append("")
    if results.get("environment"):
        lines += ["## Environment", "", "```", json.dumps(results["environment"], indent=2), "```", ""]
    if results.get("recipe"):
        lines += ["## Recipe", "", "```json", json.dumps(results["recipe"], indent=2), "```", ""]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _html(markdown_text: str, figures: list[Path]) -> str:
    """A self-contained page: the figures embedded as base64, the tables as preformatted markdown."""
    images = "\n".join(
        f'<figure><img alt="{html.escape(f.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(f.read_bytes()).decode()}"></figure>'
        for f in figures
    )
    body = html.escape("\n".join(line for line in markdown_text.splitlines() if not line.startswith("![")))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>backtrack-lab report</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}img{max-width:100%}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}</style></head><body>"
        f"{images}<pre>{body}</pre></body></html>"
    )


def write_report(run_dir: str | Path, *, overlay_published: bool | None = None) -> Path:
    """Write figures, ``report.md`` and ``report.html`` for ``run_dir``; returns the HTML path."""
    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.is_file():
        raise FileNotFoundError(
            f"no results.json in {run_dir} (run `backtrack eval` or `backtrack run` first)"
        )
    results = json.loads(results_path.read_text())
    if not isinstance(results.get("models"), dict):
        raise ValueError(f"{results_path}: 'models' must map model names to their results")
    if overlay_published is None:
        overlay_published = str(results.get("name", "")).startswith("paper-countdown")
    figures_dir = run_dir / "figures"
    figures = [
        plot_accuracy_vs_flops(
            results, figures_dir / "accuracy_vs_flops.png", overlay_published=overlay_published
        )
    ]
    pass_at_k = plot_pass_at_k(results, figures_dir / "pass_at_k.png")
    if pass_at_k:
        figures.append(pass_at_k)
    rewards = plot_rl_rewards(results, figures_dir / "rl_rewards.png")
    if rewards:
        figures.append(rewards)
    markdown_text = _markdown(results, figures)
    _atomic_write(run_dir / "report.md", markdown_text.encode())
    html_path = run_dir / "report.html"
    _atomic_write(html_path, _html(markdown_text, figures).encode())
    return html_path
