"""Reports for a run directory: PNG figures, a self-contained ``report.html`` and ``report.md``.

Reads ``results.json`` (written by ``backtrack run`` or ``backtrack eval --out``) and knows nothing
about how the numbers were made. The page answers the study's question first (which strategy wins at
each compute level, each arm's training compute and false-step share), says in words where a number
should not be trusted, and ends with the provenance of every number. Accuracies carry 95% Wilson
intervals. The markdown is rendered to HTML with markdown-it-py (tables, headings), figures embedded.
The schema it reads::

    {"name": ..., "recipe": {...}, "environment": {...},
     "models": {MODEL: {"size": ..., "format": ..., "params": ...,
                        "curves": [{"strategy": ..., "select": ..., "label": ...,
                                    "points": [{"budget": L or null, "samples": n, "tokens": mean tokens,
                                                "flops": mean FLOPs per problem, "accuracy": share,
                                                "solved": k, "n": problems}, ...]}],
                        "pass_at_k": {"k": [...], "value": [...]} (optional),
                        "trace_stats": {name: value, ...} (optional),
                        "training": {"losses": [[step, loss], ...], "truncated": k, "examples": n, ...},
                        "training_flops": {"own": F, "inherited": F, "total": F} (optional),
                        "precision": "fp32" or "bf16" (optional),
                        "examples": [{"kind", "prompt", "text", "reason"}, ...] (optional),
                        "base": MODEL (optional: this entry is MODEL after GRPO),
                        "rl": {"rewards": [[step, mean reward], ...], "weight_change": r, ...}
                              (optional),
                        "task", "sweep" (optional: see ``backtrack.report_sweep``)}},
     "timings": {stage: seconds} (optional)}

A model after GRPO is drawn in its base model's colour with dashed lines, so each before/after pair
reads at a glance.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backtrack.report_sweep import plot_sweeps, sweep_markdown

# Published accuracies (% of 200 held-out problems) of the reference study, to overlay on paper recipes:
# CountDown budgets 256..4096 tokens (backtracking, greedy) vs n = 1..16 (direct, best-of-n).
PUBLISHED_COUNTDOWN = {
    "3M": {"dfs": [10.5, 13.5, 28.5, 33.5, 41.5], "direct": [8.5, 20.5, 30, 41.5, 52]},
    "17M": {"dfs": [7.5, 11.5, 25.5, 35, 41.5], "direct": [17, 25, 37, 50, 61]},
    "38M": {"dfs": [9.5, 14.5, 28, 35, 45], "direct": [11.5, 27, 33.5, 40, 63]},
    "144M": {"dfs": [12.5, 16, 30, 35.5, 43], "direct": [21, 25.5, 37.5, 52, 68.5]},
}
PUBLISHED_BUDGETS = (256, 512, 1024, 2048, 4096)
PUBLISHED_SAMPLES = (1, 2, 4, 8, 16)
PUBLISHED_DIRECT_TOKENS = 212  # the reference: a direct solution is about 212 tokens


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


# ---- numbers ----------------------------------------------------------------------------------------
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def wilson_interval(solved: float, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of a solved share. ``solved`` may be an expected count (pass@k over
    drawn samples); each problem then contributes a value in [0, 1] whose variance is at most a coin's,
    so the interval is conservative."""
    if n <= 0:
        return (0.0, 1.0)
    p = min(max(solved / n, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _is_expected_count(point: dict[str, Any]) -> bool:
    solved = point.get("solved")
    return isinstance(solved, float) and not float(solved).is_integer()


def _solved_text(point: dict[str, Any]) -> str:
    """``40.0% (80/200; 95% CI 33.5–46.9%)``; an expected count (pass@k estimate) is rounded and
    marked with † (explained under the tables)."""
    accuracy = point["accuracy"]
    if "n" not in point:
        return f"{accuracy:.1%}"
    n = point["n"]
    solved = point.get("solved", accuracy * n)
    low, high = wilson_interval(solved, n)
    count = f"≈{solved:.0f}/{n}†" if _is_expected_count(point) else f"{solved:.0f}/{n}"
    return f"{accuracy:.1%} ({count}; 95% CI {low:.1%}–{high:.1%})"


def _curve_label(model: str, curve: dict[str, Any]) -> str:
    """Model + strategy + selection, as the legend and the tables name a curve."""
    if curve.get("label"):
        return f"{model}: {curve['label']}"
    strategy = curve.get("strategy")
    if strategy == "sequential":
        detail = "one greedy search"
    elif strategy == "parallel":
        detail = f"best-of-n, {curve.get('select') or 'oracle'}"
    elif strategy == "hybrid":
        detail = f"{curve.get('select') or 'k runs'} of L/k tokens"
    else:
        detail = str(curve.get("select") or "")
    return f"{model}: {strategy} ({detail})" if detail else f"{model}: {strategy}"


def _points(curve: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(curve.get("points", []), key=lambda p: p["flops"])


def best_accuracy(info: dict[str, Any]) -> float | None:
    """A model's held-out solved share at its largest compute point (over its curves)."""
    points = [p for curve in info.get("curves", []) for p in curve.get("points", [])]
    return max(points, key=lambda p: (p["flops"], p["accuracy"]))["accuracy"] if points else None


def _best_point(info: dict[str, Any]) -> dict[str, Any] | None:
    """The model's headline: of each curve's largest-compute point, the one that solves most (a model
    with greedy search and a few samples is judged by its better strategy, not its costlier one)."""
    ends = [_points(curve)[-1] for curve in info.get("curves", []) if curve.get("points")]
    return max(ends, key=lambda p: (p["accuracy"], -p["flops"])) if ends else None


def _headline_label(model: str, info: dict[str, Any]) -> str:
    point = _best_point(info)
    for curve in info.get("curves", []):
        if point is not None and curve.get("points") and _points(curve)[-1] is point:
            return _curve_label(model, curve).split(": ", 1)[1]
    return ""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _flops(value: float | None) -> str:
    return "n/a" if not value else f"{value:.2e}"


# ---- figures ----------------------------------------------------------------------------------------
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
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
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


_MARKERS = {"sequential": "o", "parallel": "s", "hybrid": "^"}
_SELECT_MARKERS = {"majority": "D", "first_valid": "v"}


def plot_accuracy_vs_flops(results: dict[str, Any], path: Path, *, overlay_published: bool = False) -> Path:
    """The study's figure: every curve of every model (strategy and selection) against inference
    FLOPs per problem (log x), with 95% intervals as bands, optionally with the paper's points."""
    styles = _styles(results)
    with _figure(path, (8, 5), "held-out problems solved") as ax:
        for model, info in results["models"].items():
            for curve in info.get("curves", []):
                points = _points(curve)
                if not points:
                    continue
                xs = [p["flops"] for p in points]
                ys = [p["accuracy"] for p in points]
                marker = _SELECT_MARKERS.get(curve.get("select") or "", _MARKERS.get(curve["strategy"], "^"))
                ax.plot(xs, ys, marker=marker, label=_curve_label(model, curve), **styles[model])
                if all("n" in p for p in points):
                    bands = [wilson_interval(p.get("solved", p["accuracy"] * p["n"]), p["n"]) for p in points]
                    ax.fill_between(
                        xs,
                        [b[0] for b in bands],
                        [b[1] for b in bands],
                        color=styles[model]["color"],
                        alpha=0.08,
                    )
            published = overlay_published and published_points(str(info.get("size")), str(info.get("format")))
            if published:
                ax.plot(*zip(*published, strict=True), "x--", alpha=0.6, label=f"{model}: published")
        ax.set_xscale("log")
        ax.set_xlabel("inference FLOPs per problem (reference formula, prompt excluded)")
        ax.set_ylim(0, 1)
        ax.set_title(f"{results.get('name', 'run')}: accuracy vs inference compute (bands: 95% CI)")
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


def plot_training_loss(results: dict[str, Any], path: Path) -> Path | None:
    """SFT training loss per optimizer step (from the trainer's log history) for every trained model."""
    runs = {
        m: i["training"]["losses"]
        for m, i in results["models"].items()
        if not i.get("base") and (i.get("training") or {}).get("losses")
    }
    if not runs:
        return None
    styles = _styles(results)
    with _figure(path, (6, 4), "training loss") as ax:
        for model, losses in runs.items():
            steps, values = zip(*losses, strict=True)
            ax.plot(steps, values, label=f"{model}: SFT loss", color=styles[model]["color"])
        ax.set_xlabel("SFT step (a continued model counts its own steps)")
        ax.set_yscale("log")
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
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylim(0, 1.05)
    return path


# ---- the study's question -----------------------------------------------------------------------------
def _all_curves(results: dict[str, Any]) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    return [
        (_curve_label(model, curve), curve, _points(curve))
        for model, info in results["models"].items()
        for curve in info.get("curves", [])
        if curve.get("points")
    ]


def winners_by_compute(results: dict[str, Any], per_decade: int = 2) -> list[dict[str, Any]]:
    """For FLOPs levels (``per_decade`` log-spaced levels per factor of 10 across every curve's range),
    the curve that solves most within that compute (its largest point at or below the level) and the
    runner-up. A win inside both curves' 95% intervals is marked as not clear."""
    curves = _all_curves(results)
    xs = [p["flops"] for _, _, points in curves for p in points if p["flops"] > 0]
    if not xs:
        return []
    low, high = math.log10(min(xs)), math.log10(max(xs))
    levels = sorted({10 ** (math.ceil(low * per_decade) / per_decade + i / per_decade)
                     for i in range(int((high - low) * per_decade) + 2)})  # fmt: skip
    levels = [lv for lv in levels if lv <= 10 ** (math.ceil(high * per_decade) / per_decade) * 1.0001]
    rows = []
    for level in levels:
        standing = []
        for label, _, points in curves:
            within = [p for p in points if p["flops"] <= level * 1.0001]
            if within:
                standing.append((within[-1]["accuracy"], label, within[-1]))
        if not standing:
            continue
        standing.sort(key=lambda item: -item[0])
        best = standing[0]
        row: dict[str, Any] = {"flops": level, "winner": best[1], "point": best[2], "clear": True}
        if len(standing) > 1:
            second = standing[1]
            row.update(runner_up=second[1], runner_point=second[2])
            b, s = best[2], second[2]
            if "n" in b and "n" in s:
                b_low = wilson_interval(b.get("solved", b["accuracy"] * b["n"]), b["n"])[0]
                s_high = wilson_interval(s.get("solved", s["accuracy"] * s["n"]), s["n"])[1]
                row["clear"] = b_low > s_high
        rows.append(row)
    return rows


def _winner_table(results: dict[str, Any]) -> list[str]:
    rows = winners_by_compute(results)
    if not rows:
        return []
    lines = [
        "## Which strategy wins at each compute level",
        "",
        "Each row: the curve that solves most held-out problems with at most that many inference FLOPs per "
        "problem (its largest point within the level), and the runner-up.",
        "",
        "| FLOPs per problem up to | best | solved | runner-up | solved | clear win? |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        runner = row.get("runner_up", "–")
        runner_solved = _solved_text(row["runner_point"]) if "runner_point" in row else "–"
        clear = "yes" if row["clear"] else "no: the 95% intervals overlap"
        if "runner_point" in row and row["runner_point"]["accuracy"] == row["point"]["accuracy"]:
            clear = "no: a tie"
        if "runner_up" not in row:
            clear = "only curve with this little compute"
        lines.append(
            f"| {row['flops']:.1e} | {row['winner']} | {_solved_text(row['point'])} | {runner} "
            f"| {runner_solved} | {clear} |"
        )
    return [*lines, ""]


def _overview(results: dict[str, Any]) -> list[str]:
    """One row per model: what it is, its training compute, its best number and its false-step share."""
    lines = [
        "## Models at a glance",
        "",
        "| model | traces | size | training FLOPs (own + inherited) | precision | solved (its best strategy "
        "at that strategy's largest compute) | false-step share |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, info in results["models"].items():
        tf = info.get("training_flops") or {}
        if tf:
            compute = _flops(tf.get("total"))
            if tf.get("inherited"):
                compute += f" ({_flops(tf.get('own'))} + {_flops(tf['inherited'])} from {info.get('init')})"
        else:
            compute = "n/a"
        if info.get("base"):
            compute = f"{info['base']}'s + GRPO"
        point = _best_point(info)
        stats = info.get("trace_stats") or {}
        share = stats.get("false_step_share", stats.get("share_with_errors"))
        false_steps = _pct(share) if share is not None else "n/a"
        if "share_with_errors" in stats and "false_step_share" in stats:
            false_steps += f" ({_pct(stats['share_with_errors'])} with any error)"
        params = info.get("params")
        size = f"{info.get('size')}" + (f" ({params:,} params)" if isinstance(params, int) else "")
        lines.append(
            f"| {model} | {info.get('format', 'n/a')} | {size} | {compute} "
            f"| {info.get('precision') or 'n/a'} "
            f"| {_solved_text(point) + ', ' + _headline_label(model, info) if point else 'n/a'} "
            f"| {false_steps} |"
        )
    lines += [
        "",
        "Training FLOPs: 6 × the reference formula's per-token cost (non-embedding weights plus attention) × "
        "the packed tokens of every SFT step, an upper estimate; a model continued from another (`init`) "
        "also counts that model's. The false-step share is the share of traces in which the format's "
        "parser finds an illegal step; in brackets, the share with any error, a trace that stops before "
        "the goal included (`trace_stats.share_with_errors`).",
        "",
    ]
    return lines


# ---- warnings: where a number should not be trusted ----------------------------------------------------
TRUNCATED_SHARE = 0.05
FALSE_STEP_SHARE = 0.25
SMALL_SAMPLE = 100
ORACLE_GAP = 0.10


def warnings_for(results: dict[str, Any]) -> list[str]:
    """Plain-words warnings about numbers that should not be taken at face value."""
    models = results["models"]
    out: list[str] = []
    for model, info in models.items():
        base = info.get("base")
        rl = info.get("rl") or {}
        if base in models:
            rewards = [r for _, r in rl.get("rewards", [])]
            change = rl.get("weight_change")
            if change is not None and change == 0:
                out.append(
                    f"**{model} is {base} unchanged**: GRPO did not move a single weight"
                    + (
                        " (every GRPO reward was 0, so there was no gradient)"
                        if rewards and not any(rewards)
                        else ""
                    )
                    + f". Its numbers are {base}'s, not a result of GRPO."
                )
            elif rewards and not any(rewards):
                out.append(
                    f"**{model}: every GRPO reward was 0**, so GRPO had no signal; any difference from "
                    f"{base} "
                    "is noise from sampling, not learning."
                )
            before, after = _best_point(models[base]), _best_point(info)
            if before and after and after["accuracy"] < before["accuracy"]:
                clear = ""
                if "n" in before and "n" in after:
                    b_low = wilson_interval(before.get("solved", 0), before["n"])[0]
                    a_high = wilson_interval(after.get("solved", 0), after["n"])[1]
                    clear = " (beyond the 95% intervals)" if a_high < b_low else " (within the 95% intervals)"
                out.append(
                    f"**{model} got worse after GRPO**: "
                    f"{_pct(before['accuracy'])} → {_pct(after['accuracy'])} "
                    f"with its best strategy{clear}."
                )
        training = info.get("training") or {}
        examples, truncated = training.get("examples"), training.get("truncated")
        if not base and examples and truncated and truncated / examples > TRUNCATED_SHARE:
            out.append(
                f"**{model} was trained on cut traces**: {truncated} of {examples} training examples "
                f"({truncated / examples:.0%}) were longer than its rows and were truncated, so it never saw "
                "how they end."
            )
        stats = info.get("trace_stats") or {}
        share = stats.get("false_step_share", stats.get("share_with_errors"))
        if info.get("format") != "direct" and isinstance(share, int | float) and share > FALSE_STEP_SHARE:
            out.append(
                f"**{share:.0%} of {model}'s traces contain a false step** (an illegal move its parser "
                "rejects): its search is often not a valid search, and what it solves may rest on luck."
            )
        point = _best_point(info)
        if point and point["accuracy"] == 0:
            out.append(
                f"**{model} solved nothing** at any budget: its curve says nothing about its strategy."
            )
        out += _hidden_strategies(model, info)
    sizes = {
        p["n"] for info in models.values() for c in info.get("curves", []) for p in c["points"] if "n" in p
    }
    if sizes and min(sizes) < SMALL_SAMPLE:
        n = min(sizes)
        low, high = wilson_interval(n / 2, n)
        out.append(
            f"**Only {n} held-out problems** behind some numbers: a 50% share is known only to "
            f"{low:.0%}–{high:.0%}; differences of a few points are noise."
        )
    return out


def _hidden_strategies(model: str, info: dict[str, Any]) -> list[str]:
    """Oracle best-of-n picks the answer with the verifier: it can hide how a deployable selection does."""
    curves = info.get("curves", [])
    oracle = [
        c for c in curves if c.get("strategy") == "parallel" and (c.get("select") or "oracle") == "oracle"
    ]
    if not oracle:
        return []
    top = _points(oracle[0])[-1]
    others = [
        c
        for c in curves
        if c.get("strategy") == "parallel" and c.get("select") in ("majority", "first_valid")
    ]
    out = []
    for curve in others:
        same_n = [p for p in curve["points"] if p.get("samples") == top.get("samples")]
        if same_n and top["accuracy"] - same_n[0]["accuracy"] > ORACLE_GAP:
            out.append(
                f"**{model}'s best-of-{top.get('samples')} hides its selection problem**: with the verifier "
                f"choosing (oracle) it solves {_pct(top['accuracy'])}, by {curve['select']} only "
                f"{_pct(same_n[0]['accuracy'])}."
            )
    if not others:
        out.append(
            f"**{model}'s best-of-n uses oracle selection**: the verifier picks the answer among the samples "
            "(pass@n), an upper bound that a deployed model without the verifier would not reach."
        )
    return out


# ---- the page ----------------------------------------------------------------------------------------
def _before_after(results: dict[str, Any]) -> list[str]:
    pairs = [(i["base"], m) for m, i in results["models"].items() if i.get("base") in results["models"]]
    if not pairs:
        return []
    lines = [
        "## Before and after GRPO",
        "",
        "| model | solved before | solved after | pass@1 before → after | pass@k before → after "
        "| weights moved |",
        "|---|---|---|---|---|---|",
    ]
    for base, after in pairs:
        b, a = results["models"][base], results["models"][after]
        bp, ap = _best_point(b), _best_point(a)
        passes = ["n/a", "n/a"]
        if b.get("pass_at_k") and a.get("pass_at_k"):
            bk, ak = b["pass_at_k"], a["pass_at_k"]
            passes = [
                f"{_pct(bk['value'][0])} → {_pct(ak['value'][0])}",
                f"k={bk['k'][-1]}: {_pct(bk['value'][-1])} → {_pct(ak['value'][-1])}",
            ]
        change = (a.get("rl") or {}).get("weight_change")
        moved = (
            "n/a"
            if change is None
            else ("no (identical weights)" if change == 0 else f"{change:.2%} (relative L2)")
        )
        lines.append(
            f"| {base} | {_solved_text(bp) if bp else 'n/a'} | {_solved_text(ap) if ap else 'n/a'} "
            f"| {passes[0]} | {passes[1]} | {moved} |"
        )
    return [*lines, "", "(solved: each model's best strategy at that strategy's largest compute)", ""]


def _model_section(model: str, info: dict[str, Any]) -> list[str]:
    params = info.get("params")
    shown = f", {params:,} parameters" if isinstance(params, int) else ""
    shown += f", continued from {info['init']}" if info.get("init") else ""
    shown += f", {info['base']} after GRPO" if info.get("base") else ""
    lines = [f"### {model} ({info.get('format')} traces, size {info.get('size')}{shown})", ""]
    for curve in info.get("curves", []):
        lines += [f"**{_curve_label(model, curve)}**", ""]
        lines += ["| budget | samples | mean tokens | FLOPs | solved |", "|---|---|---|---|---|"]
        for p in curve["points"]:
            lines.append(
                f"| {p.get('budget') or ''} | {p.get('samples', 1)} | {p.get('tokens', 0):.0f} "
                f"| {p['flops']:.3e} | {_solved_text(p)} |"
            )
        lines.append("")
    if info.get("trace_stats"):
        lines += ["| trace statistic | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in info["trace_stats"].items()]
        lines.append("")
    for example in info.get("examples", []):
        lines += [
            f"Example trace, **{example['kind']}** ({example.get('reason', '')}):",
            "",
            "```text",
            (example.get("prompt", "") + example.get("text", "")).replace("```", "'''").rstrip(),
            "```",
            "",
        ]
    return lines


def _provenance(results: dict[str, Any]) -> list[str]:
    env = results.get("environment") or {}
    lines = ["## Provenance", ""]
    if env:
        lines += ["| what | value |", "|---|---|"]
        names = {
            "git_commit": "git commit",
            "device": "device",
            "hardware": "hardware",
            "backtrack": "backtrack-lab",
        }
        lines += [f"| {names.get(k, k)} | {v} |" for k, v in env.items()]
        lines.append("")
    precisions = {m: i.get("precision") for m, i in results["models"].items() if i.get("precision")}
    if precisions:
        lines += ["Training precision: " + ", ".join(f"{m} {p}" for m, p in precisions.items()) + ".", ""]
    timings = results.get("timings") or {}
    if timings:
        lines += ["| stage | wall seconds |", "|---|---|"]
        lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in timings.items()]
        lines += ["", "(a stage cached from an earlier run shows that run's time)", ""]
    for model, info in results["models"].items():
        training = info.get("training") or {}
        if training.get("wall_seconds") and not info.get("base"):
            lines.append(
                f"- {model}: {training.get('steps')} SFT steps in {training['wall_seconds']:.0f} s "
                f"({training.get('tokens_per_second', 0):,.0f} useful tokens/s)"
            )
    return [*lines, ""]


def _markdown(results: dict[str, Any], figures: dict[str, Path]) -> str:
    lines = [f"# {results.get('name', 'run')}", ""]
    if results.get("recipe", {}).get("description"):
        lines += [results["recipe"]["description"], ""]
    warnings = warnings_for(results)
    if warnings:
        lines += ["## Numbers not to trust", ""]
        lines += [f"- {w}" for w in warnings]
        lines.append("")
    lines += _overview(results)
    lines += ["## Accuracy against inference compute", ""]
    if "accuracy" in figures:
        lines += [f"![accuracy vs FLOPs]({figures['accuracy'].parent.name}/{figures['accuracy'].name})", ""]
    lines += _winner_table(results)
    lines += _before_after(results)
    lines += sweep_markdown(results, figures.get("k_sweep"))
    other = [f for key, f in figures.items() if key not in ("accuracy", "k_sweep")]
    if other:
        lines += ["## Training and sampling curves", ""]
        lines += [f"![{f.stem}]({f.parent.name}/{f.name})" for f in other]
        lines.append("")
    lines += ["## Each model", ""]
    for model, info in results["models"].items():
        lines += _model_section(model, info)
    if any(
        _is_expected_count(p)
        for i in results["models"].values()
        for c in i.get("curves", [])
        for p in c["points"]
    ):
        lines += [
            "† Best-of-n with oracle selection is scored by the unbiased pass@n estimate over the samples "
            "drawn for each problem, so its count of solved problems is an expected count, shown rounded.",
            "",
        ]
    lines += _provenance(results)
    if results.get("recipe"):
        lines += [
            "<details><summary>Recipe (as run)</summary>",
            "",
            "```json",
            json.dumps(results["recipe"], indent=2),
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222;
line-height:1.45}
img{max-width:100%}h1{border-bottom:2px solid #ddd}h2{margin-top:2em;border-bottom:1px solid #eee}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;max-height:24em;font-size:.85em}
code{font-size:.9em}details{margin:1em 0}ul li{margin:.3em 0}
"""


def _html(markdown_text: str, title: str, images: dict[str, Path]) -> str:
    """The markdown rendered by markdown-it-py (CommonMark plus tables), figures inlined as base64."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown_text)

    def inline(match: re.Match[str]) -> str:
        path = images.get(match.group(1))
        if path is None:
            return match.group(0)
        return f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"'

    body = re.sub(r'src="([^"]+\.png)"', inline, body)
    from html import escape

    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )


def _locate(path: Path) -> tuple[Path, Path, str]:
    """(results file, folder for the report, stem of report files) for a run folder or a results file
    (``backtrack eval --out X.json`` gives ``X.html``, ``X.md`` and ``X-figures/`` beside it)."""
    if path.is_dir():
        results_path = path / "results.json"
        if not results_path.is_file():
            raise FileNotFoundError(
                f"no results.json in {path} (run `backtrack run`, or `backtrack eval --out FILE.json` and "
                "give that file)"
            )
        return results_path, path, "report"
    if path.is_file():
        return path, path.parent, "report" if path.name == "results.json" else path.stem
    raise FileNotFoundError(f"{path}: no such run folder or results file")


def write_report(run_dir: str | Path, *, overlay_published: bool | None = None) -> Path:
    """Write figures, ``report.md`` and ``report.html`` for ``run_dir`` (or beside a results file);
    returns the HTML path."""
    results_path, out_dir, stem = _locate(Path(run_dir))
    try:
        results = json.loads(results_path.read_text())
    except ValueError:
        raise ValueError(f"{results_path} is not valid JSON") from None
    if not isinstance(results, dict) or not isinstance(results.get("models"), dict):
        raise ValueError(f"{results_path}: 'models' must map model names to their results")
    if overlay_published is None:
        overlay_published = str(results.get("name", "")).startswith("paper-countdown")
    figures_dir = out_dir / ("figures" if stem == "report" else f"{stem}-figures")
    figures: dict[str, Path] = {
        "accuracy": plot_accuracy_vs_flops(
            results, figures_dir / "accuracy_vs_flops.png", overlay_published=overlay_published
        )
    }
    for key, plot, name in (
        ("loss", plot_training_loss, "training_loss.png"),
        ("rewards", plot_rl_rewards, "rl_rewards.png"),
        ("pass_at_k", plot_pass_at_k, "pass_at_k.png"),
    ):
        made = plot(results, figures_dir / name)
        if made:
            figures[key] = made
    swept = plot_sweeps(results, figures_dir / "k_sweep.png")  # only when the recipe swept an option
    if swept:
        figures["k_sweep"] = swept
    markdown_text = _markdown(results, figures)
    _atomic_write(out_dir / f"{stem}.md", markdown_text.encode())
    html_path = out_dir / f"{stem}.html"
    images = {f"{f.parent.name}/{f.name}": f for f in figures.values()}
    title = f"{results.get('name', 'run')}: backtrack-lab report"
    _atomic_write(html_path, _html(markdown_text, title, images).encode())
    return html_path
