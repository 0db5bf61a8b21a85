"""The sweep part of a report: held-out solved share against a swept format option (the number of
backtracks ``k``), per task, before and after GRPO, with training and inference FLOPs beside it.

Reads the fields ``backtrack.run`` adds to a ``results.json`` entry of a swept model::

    "task": "countdown",
    "sweep": {"of": "cd", "key": "k", "value": 1},
    "training_flops": {"own": SFT, "total": SFT with its init models, "grpo": ... (after GRPO), ...}

A sweep is one line per (task, model table): its entries' values in recipe order on the x axis, the
solved share at each model's largest inference budget on the y axis, solid before GRPO and dashed after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SweepPoint", "plot_sweeps", "sweep_markdown", "sweeps"]


@dataclass
class SweepPoint:
    value: Any
    model: str
    solved: float | None
    inference_flops: float | None  # per problem at the largest budget
    training_flops: float | None  # SFT
    after: str | None = None  # the model after GRPO, when there is one
    solved_after: float | None = None
    inference_flops_after: float | None = None
    grpo_flops: float | None = None


@dataclass
class Sweep:
    task: str
    of: str
    key: str
    points: list[SweepPoint] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.task}: {self.of}"


def _largest_point(info: dict[str, Any]) -> dict[str, Any] | None:
    points = [p for curve in info.get("curves", []) for p in curve.get("points", [])]
    return max(points, key=lambda p: (p["flops"], p["accuracy"])) if points else None


def sweeps(results: dict[str, Any]) -> list[Sweep]:
    """The sweeps in ``results``, in recipe order (empty when the run swept nothing)."""
    models = results.get("models", {})
    found: dict[tuple[str, str, str], Sweep] = {}
    for name, info in models.items():
        sweep = info.get("sweep")
        if not isinstance(sweep, dict) or info.get("base"):
            continue
        task = str(info.get("task") or results.get("recipe", {}).get("task", {}).get("name", "?"))
        group = found.setdefault((task, sweep["of"], sweep["key"]), Sweep(task, sweep["of"], sweep["key"]))
        best = _largest_point(info)
        point = SweepPoint(
            value=sweep.get("value"),
            model=name,
            solved=best["accuracy"] if best else None,
            inference_flops=best["flops"] if best else None,
            training_flops=info.get("training_flops", {}).get("total"),
        )
        after = next((m for m, i in models.items() if i.get("base") == name), None)
        if after is not None:
            best_after = _largest_point(models[after])
            point.after = after
            point.solved_after = best_after["accuracy"] if best_after else None
            point.inference_flops_after = best_after["flops"] if best_after else None
            point.grpo_flops = models[after].get("training_flops", {}).get("grpo")
        group.points.append(point)
    return list(found.values())


def plot_sweeps(results: dict[str, Any], path: Path) -> Path | None:
    """Solved share against the swept value, one panel per task; None when nothing was swept."""
    groups = sweeps(results)
    if not groups:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(g.task for g in groups))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 4), dpi=120, squeeze=False)
    palette = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    try:
        for ax, task in zip(axes[0], tasks, strict=True):
            mine = [g for g in groups if g.task == task]
            ticks: dict[float, str] = {}  # every sweep's values on the panel's one axis
            for i, group in enumerate(mine):
                colour = palette[i % len(palette)]
                xs = _positions(group)
                before = [
                    (x, p.solved) for x, p in zip(xs, group.points, strict=True) if p.solved is not None
                ]
                if before:
                    ax.plot(*zip(*before, strict=True), "o-", color=colour, label=f"{group.of}: SFT")
                after = [
                    (x, p.solved_after)
                    for x, p in zip(xs, group.points, strict=True)
                    if p.solved_after is not None
                ]
                if after:
                    ax.plot(*zip(*after, strict=True), "s--", color=colour, label=f"{group.of}: after GRPO")
                ticks.update((x, str(p.value)) for x, p in zip(xs, group.points, strict=True))
            ax.set_xticks(list(ticks), list(ticks.values()))
            ax.set_xlabel(mine[0].key)
            ax.set_title(task)
            ax.set_ylim(0, 1)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        axes[0][0].set_ylabel("held-out problems solved")
        fig.suptitle(f"{results.get('name', 'run')}: solved share against the swept option")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def _positions(group: Sweep) -> list[float]:
    """Numeric values on a numeric axis; anything else evenly spaced in recipe order."""
    values = [p.value for p in group.points]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values]
    return [float(i) for i in range(len(values))]


def sweep_markdown(results: dict[str, Any], figure: Path | None = None) -> list[str]:
    """One table per sweep: solved share before/after GRPO and the FLOPs spent, after the sweep
    figure when there is one (empty: no sweep)."""
    lines: list[str] = []
    if figure is not None and sweeps(results):
        lines += [f"![solved share against the swept option]({figure.parent.name}/{figure.name})", ""]
    for group in sweeps(results):
        lines += [
            f"## Sweep {group.label}, solved share against {group.key}",
            "",
            f"| {group.key} | model | solved (SFT) | solved (after GRPO) | SFT FLOPs | GRPO FLOPs "
            "| inference FLOPs/problem (SFT / after GRPO) |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in group.points:
            lines.append(
                f"| {p.value} | {p.model} | {_pct(p.solved)} | {_pct(p.solved_after)} "
                f"| {_sci(p.training_flops)} | {_sci(p.grpo_flops)} "
                f"| {_sci(p.inference_flops)} / {_sci(p.inference_flops_after)} |"
            )
        lines += [
            "",
            "(solved: held-out share at each model's largest inference budget; SFT FLOPs: with the "
            "models it continues from; GRPO FLOPs: training on the sampled completions plus sampling them)",
            "",
        ]
    return lines


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _sci(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2e}"
