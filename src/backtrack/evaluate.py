"""Budget sweeps on held-out problems: accuracy against tokens and FLOPs, pass@k, trace statistics.

``evaluate_model`` runs one model under each ``EvalSpec`` of a recipe and returns the model's entry
of ``results.json`` (the schema ``backtrack.report`` reads) plus per-problem rows for ``samples.jsonl``.

- sequential: one greedy run per problem up to the largest budget; the accuracy at budget L counts
  problems solved within L generated tokens (``backtrack.sample.sequential``).
- parallel: the largest n samples are drawn once; with ``oracle`` selection the accuracy at n is the
  unbiased pass@n estimate over them, with ``majority`` / ``first_valid`` it is read off the first n
  samples. FLOPs at n are n times the mean FLOPs of one sample (samples stop at EOS).
- hybrid: for each total budget, ``runs`` sampled runs of budget/runs tokens each.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from backtrack.budget import sequence_flops
from backtrack.chat import format_prompts
from backtrack.recipes import EvalSpec
from backtrack.sample import HFBackend
from backtrack.sample.strategies import (
    ParallelResult,
    SequentialResult,
    hybrid,
    mean_pass_at_k,
    parallel,
    pass_at_k,
    sequential,
    sequential_curve,
)
from backtrack.traces import parse
from backtrack.traces.base import NO_GOAL


def _point(budget: int | None, samples: int, tokens: float, flops: float, solved: float, n: int) -> dict:
    return {
        "budget": budget,
        "samples": samples,
        "tokens": tokens,
        "flops": flops,
        "accuracy": solved / n if n else 0.0,
        "solved": round(solved, 3),
        "n": n,
    }


def trace_statistics(
    task: Any,
    fmt: str,
    problems: Sequence[Any],
    texts: Sequence[str],
    stopped: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """What the model's traces look like, read by the format's parser (never trusting the model).

    ``task`` is the task object (its format follows its config) or a registered task's name.
    ``stopped[i]`` says trace i ended on its own (EOS) rather than at the token budget.

    ``false_step_share`` counts traces that write something untrue or illegal: a wrong result, a
    number not in the state, a miscopied state, a false goal. Running out of budget is not a false
    step, so a trace cut by the budget is read without its unfinished last line, and "no goal
    reached" alone does not count. ``share_with_errors`` (kept for comparison) counts any error,
    unfinished traces included.
    """
    if not texts:
        return {}
    parsed = [parse(task, p, fmt, t) for p, t in zip(problems, texts, strict=True)]
    ended = stopped if stopped is not None else [True] * len(texts)
    finished = [
        full if done else parse(task, p, fmt, t[: t.rfind("\n") + 1])  # drop the cut-off line
        for p, t, done, full in zip(problems, texts, ended, parsed, strict=True)
    ]
    return {
        "traces": len(parsed),
        "valid_share": sum(p.valid for p in parsed) / len(parsed),
        "goal_claimed_share": sum(p.goal_claimed for p in parsed) / len(parsed),
        "mean_chars": statistics.fmean(len(t) for t in texts),
        "mean_steps": statistics.fmean(p.steps for p in parsed),
        "mean_backtracks": statistics.fmean(p.backtracks for p in parsed),
        "mean_dead_ends": statistics.fmean(p.dead_ends for p in parsed),
        "share_with_errors": sum(bool(p.errors) and not p.valid for p in parsed) / len(parsed),
        "false_step_share": sum(_has_false_step(p) for p in finished) / len(parsed),
    }


def _has_false_step(trace: Any) -> bool:
    # Not conditioned on ``valid``: a trace can reach the goal along a legal path after writing a
    # false line elsewhere (an explored result that the next line silently corrects).
    return any(not e.startswith(NO_GOAL) for e in trace.errors)


EXAMPLE_CHARS = 1500  # a shown trace is cut here (the report is a page, not a dump)


class _RecordingBackend:
    """The backend a strategy uses, keeping the texts of its last ``generate`` call, so the report can
    show example traces of strategies whose results keep only verdicts and lengths.

    It also answers a repeated call (same prompts, counts, cap, temperature and seed) from memory:
    evaluation specs that differ only in how they select among the same samples (``oracle``,
    ``majority``, ``first_valid``) then share one draw, as they would in a real deployment, instead
    of paying for generation once per selection rule.
    """

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._drawn: dict[Any, Any] = {}
        self.last: list[list[str]] = []
        self.last_stopped: list[list[bool]] = []

    def generate(self, prompts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        key = (tuple(prompts), args, tuple(sorted(kwargs.items())))
        if key not in self._drawn:
            self._drawn[key] = self._backend.generate(prompts, *args, **kwargs)
        groups = self._drawn[key]
        self.last = [[c.text for c in group] for group in groups]
        self.last_stopped = [[c.stopped for c in group] for group in groups]
        return groups

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def pick_examples(
    task: Any, fmt: str, problems: Sequence[Any], prompts: Sequence[str], texts: Sequence[Sequence[str]]
) -> list[dict[str, Any]]:
    """Up to three traces to show: one the verifier accepts, one it rejects, and one holding a false
    step (a step the parser finds illegal, whatever the final verdict)."""
    wanted = {"solved": None, "failed": None, "false step": None}
    for problem, prompt, group in zip(problems, prompts, texts, strict=True):
        for text in group:
            verdict = task.verify(problem, text)
            kind = "solved" if verdict.ok else "failed"
            if wanted[kind] is None:
                wanted[kind] = {"kind": kind, "prompt": prompt, "text": text, "reason": verdict.reason}
            if wanted["false step"] is None:
                # "no goal reached" is no false step; every other error is a line that is untrue or illegal.
                steps = [e for e in parse(task, problem, fmt, text).errors if not e.startswith(NO_GOAL)]
                if steps:
                    wanted["false step"] = {
                        "kind": "false step", "prompt": prompt, "text": text, "reason": steps[0],
                    }  # fmt: skip
            if all(wanted.values()):
                break
        if all(wanted.values()):
            break
    failed, false_step = wanted["failed"], wanted["false step"]
    if failed and false_step and failed["text"] == false_step["text"]:
        false_step["kind"] = "failed, with a false step"
        wanted["failed"] = None
    out = [example for example in wanted.values() if example is not None]
    for example in out:
        if len(example["text"]) > EXAMPLE_CHARS:
            example["text"] = example["text"][:EXAMPLE_CHARS] + "\n[... cut]"
    return out


def _sequential_curve(spec: EvalSpec, results: list[SequentialResult]) -> dict[str, Any]:
    n = len(results)
    points = [
        _point(row["budget"], 1, row["mean_tokens"], row["mean_flops"], row["accuracy"] * n, n)
        for row in sequential_curve(results)
    ]
    return {"strategy": "sequential", "select": None, "points": points}


def _parallel_curve(spec: EvalSpec, results: list[ParallelResult], config: Any) -> dict[str, Any]:
    n = len(results)
    lengths = [length for r in results for length in r.lengths]
    mean_tokens = statistics.fmean(lengths) if lengths else 0.0
    mean_flops = statistics.fmean(sequence_flops(config, length) for length in lengths) if lengths else 0.0
    points = []
    for k in spec.samples:
        if spec.select == "oracle":
            solved = mean_pass_at_k(results, k) * n
        else:
            solved = sum(_select_first(r, k, spec.select) for r in results)
        points.append(_point(None, k, mean_tokens * k, mean_flops * k, solved, n))
    return {"strategy": "parallel", "select": spec.select, "points": points}


def _select_first(result: ParallelResult, k: int, select: str) -> bool:
    """Majority / first-valid over the first ``k`` samples of a larger draw."""
    verified, keys = result.verified[:k], result.keys[:k]
    if select == "first_valid":
        return any(verified)
    votes: dict[str, int] = {}
    for key in keys:
        if key is not None:
            votes[key] = votes.get(key, 0) + 1
    if not votes:
        return False
    best = max(votes.values())
    winner = next(key for key in keys if key is not None and votes[key] == best)  # ties: first seen
    return any(ok for ok, key in zip(verified, keys, strict=True) if key == winner)


def evaluate_model(
    model: Any,
    tokenizer: Any,
    task: Any,
    rows: Sequence[dict[str, Any]],
    specs: Sequence[EvalSpec],
    *,
    fmt: str,
    batch_size: int | None = None,
    seed: int = 0,
    backend: Any = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Evaluate one model on held-out ``rows`` (dataset rows with ``prompt`` and the problem's fields).

    Returns the model's ``results.json`` entry (curves, pass@k, trace statistics) and per-problem
    records for ``samples.jsonl``.
    """
    backend = _RecordingBackend(backend or HFBackend(model, tokenizer, batch_size=batch_size))
    problems = [task.problem_from_dict(row) for row in rows]
    # The prompt as the model was trained on it: through its chat template when it has one.
    prompts = format_prompts(tokenizer, [row["prompt"] for row in rows])
    curves: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    out: dict[str, Any] = {"format": fmt, "problems": len(rows)}
    examples: list[dict[str, Any]] = []
    for spec in specs:
        if spec.strategy == "sequential":
            results = sequential(
                backend, task, problems, prompts, spec.budgets, greedy=spec.greedy,
                temperature=spec.temperature, seed=seed,
            )  # fmt: skip
            curves.append(_sequential_curve(spec, results))
            out["trace_stats"] = trace_statistics(
                task, fmt, problems, [r.text for r in results], [r.stopped for r in results]
            )
            if not examples:
                examples = pick_examples(task, fmt, problems, prompts, [[r.text] for r in results])
            records += [{"strategy": "sequential", **r.to_dict()} for r in results]
        elif spec.strategy == "parallel":
            largest = max(spec.samples)
            _, cap = spec.generated()
            results = parallel(
                backend, task, problems, prompts, largest, cap, temperature=spec.temperature,
                select="oracle" if spec.select == "oracle" else spec.select, seed=seed,
            )  # fmt: skip
            curves.append(_parallel_curve(spec, results, backend.config))
            if not examples:
                examples = pick_examples(task, fmt, problems, prompts, backend.last)
            if "trace_stats" not in out and all(backend.last):
                # The first sample of each problem stands for the model's traces (no greedy run here).
                firsts = [group[0] for group in backend.last]
                stats = trace_statistics(task, fmt, problems, firsts, [g[0] for g in backend.last_stopped])
                out["trace_stats"] = {**stats, "source": f"first sample at temperature {spec.temperature}"}
            if spec.select == "oracle":
                ks = [k for k in range(1, largest + 1) if k & (k - 1) == 0 or k == largest]
                out["pass_at_k"] = {"k": ks, "value": [mean_pass_at_k(results, k) for k in ks]}
            records += [{"strategy": f"parallel-{spec.select}", **r.to_dict()} for r in results]
        else:  # hybrid: each total budget split over spec.runs sampled runs
            points = []
            for budget in spec.budgets:
                results = hybrid(
                    backend,
                    task,
                    problems,
                    prompts,
                    spec.runs,
                    budget,
                    temperature=spec.temperature,
                    seed=seed,
                )
                n = len(results)
                points.append(
                    _point(
                        budget,
                        spec.runs,
                        statistics.fmean(r.tokens for r in results),
                        statistics.fmean(r.flops for r in results),
                        sum(r.solved for r in results),
                        n,
                    )
                )
            curves.append({"strategy": "hybrid", "select": f"{spec.runs} runs", "points": points})
    out["curves"] = curves
    if examples:
        out["examples"] = examples
    return out, records


__all__ = ["evaluate_model", "pass_at_k", "trace_statistics"]
