"""``backtrack run``: a recipe's stages (data -> tokenizer -> train each model -> evaluate -> [GRPO ->
evaluate again] -> report) in ``runs/<name>/``, each cached by a hash of its inputs.

A stage writes ``stage.json`` holding its input hash when it finishes; a rerun skips every stage whose
hash matches, and a training stage killed mid-way resumes from its last checkpoint (the hash of its
inputs is written before training starts, so a checkpoint is only reused for the same inputs).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backtrack.recipes import ModelSpec, Recipe

STAGE_FILE = "stage.json"
RL_SUFFIX = "-grpo"  # a model after GRPO: models/<name>-grpo, eval/<name>-grpo, results entry <name>-grpo


def _hash(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _read_stage(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / STAGE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def _done(directory: Path, digest: str) -> bool:
    stage = _read_stage(directory)
    return bool(stage and stage.get("hash") == digest and stage.get("done"))


class Study:
    """One recipe's run directory and its stages."""

    def __init__(
        self,
        recipe: Recipe,
        runs_dir: str | Path = "runs",
        *,
        log: Callable[[str], None] = print,
        device: str | None = None,
    ):
        from backtrack.device import resolve_device

        self.recipe = recipe
        # Every stage's device: the caller's (--device), else the recipe's, else CUDA when present.
        self.device = resolve_device(device if device is not None else recipe.device)
        self.dir = Path(runs_dir) / recipe.name
        self.log = log
        self.timings: dict[str, float] = {}

    # ---- data ------------------------------------------------------------------------------------
    def data_dir(self, model: ModelSpec) -> Path:
        return self.dir / "data" / f"{model.format}-{self._data_hash(model)[:8]}"

    def _data_hash(self, model: ModelSpec) -> str:
        from backtrack.data import GENERATOR_VERSION

        r = self.recipe
        return _hash(
            r.task.model_dump(), r.data.model_dump(), model.format, model.format_options, GENERATOR_VERSION
        )

    def data(self, model: ModelSpec) -> Path:
        from backtrack.data import build_dataset

        out, digest = self.data_dir(model), self._data_hash(model)
        if _done(out, digest):
            return out
        self.log(f"[data] {model.format}: generating {self.recipe.data.n} problems")
        r = self.recipe
        build_dataset(
            r.task.name,
            r.data.n,
            r.data.seed,
            model.format,
            out,
            task_config=dict(r.task.options),
            format_options=dict(model.format_options),
            test_size=r.data.test_size,
            workers=r.data.workers,
            overwrite=True,
        )
        _write_json(out / STAGE_FILE, {"hash": digest, "done": True})
        return out

    # ---- tokenizer -------------------------------------------------------------------------------
    def tokenizer(self) -> Any:
        from backtrack.tokenizer import build_tokenizer

        spec = self.recipe.tokenizer
        tokenizer = build_tokenizer(
            self.recipe.task.name, whole_numbers=spec.whole_numbers, **self.recipe.task.options
        )
        # A folder of its own (no config.json beside it), so AutoTokenizer loads it as saved.
        tokenizer.save_pretrained(self.dir / "tokenizer")
        return tokenizer

    # ---- training --------------------------------------------------------------------------------
    def model_dir(self, model: ModelSpec) -> Path:
        return self.dir / "models" / model.name

    def _train_hash(self, model: ModelSpec) -> str:
        spec = model.model_dump(exclude={"eval", "rl"})
        tokens = self.recipe.tokenizer.model_dump()
        # A continued model depends on everything its init model was trained from.
        base = [self._train_hash(self.recipe.model(model.init))] if model.init else []
        return _hash(
            spec,
            self._data_hash(model),
            self.recipe.seed,
            *([tokens] if tokens["whole_numbers"] else []),
            *base,
        )

    def train(self, model: ModelSpec, tokenizer: Any) -> Path:
        from backtrack.train.sft import SFTSettings, train_sft

        out, digest = self.model_dir(model), self._train_hash(model)
        if _done(out, digest):
            return out
        stage = _read_stage(out)
        resume = bool(stage and stage.get("hash") == digest)  # same inputs: continue its checkpoints
        _write_json(out / STAGE_FILE, {"hash": digest, "done": False})
        size = f"{model.size} from {model.init}" if model.init else model.size
        self.log(f"[train] {model.name}: {size} on {model.format}, {model.train.max_steps} steps")
        t = model.train
        settings = SFTSettings(
            output_dir=out,
            max_steps=t.max_steps,
            per_device_batch_size=t.batch_size,
            max_length=t.max_length or model.context,
            learning_rate=t.learning_rate,
            warmup_ratio=t.warmup_ratio,
            weight_decay=t.weight_decay,
            loss_on=t.loss_on,
            seed=t.seed,
            save_steps=t.save_steps,
            bf16=t.bf16,
            device=str(self.device),
            resume=resume,
            overwrite=not resume,
        )
        net = self._initial_model(model, tokenizer)
        result = train_sft(net, tokenizer, self.data(model), settings)
        _write_json(out / STAGE_FILE, {"hash": digest, "done": True, "training": result.to_dict()})
        return out

    def _initial_model(self, model: ModelSpec, tokenizer: Any) -> Any:
        """Random weights of the model's size, or the trained weights of its ``init`` model (trained
        first if it is not yet), with the context widened to this model's."""
        from backtrack.models import build_model, load_model

        if model.init is None:
            return build_model(model.size, tokenizer, model.context, seed=model.train.seed)
        base = self.recipe.model(model.init)
        net, _ = load_model(
            self.train(base, tokenizer), device=self.device
        )  # the recipe's one tokenizer: same vocabulary
        net.config.max_position_embeddings = model.context  # RoPE: positions are computed, not learned
        return net

    # ---- reinforcement learning ------------------------------------------------------------------
    def rl_dir(self, model: ModelSpec) -> Path:
        return self.dir / "models" / f"{model.name}{RL_SUFFIX}"

    def _rl_hash(self, model: ModelSpec) -> str:
        assert model.rl is not None
        return _hash(self._train_hash(model), model.rl.model_dump())

    def rl(self, model: ModelSpec) -> Path:
        """GRPO from the SFT model, the task verifier as reward (``backtrack.train.grpo``)."""
        from backtrack.models import load_model
        from backtrack.tasks import get_task
        from backtrack.train.grpo import GRPOSettings, train_grpo

        assert model.rl is not None
        out, digest = self.rl_dir(model), self._rl_hash(model)
        if _done(out, digest):
            return out
        stage = _read_stage(out)
        resume = bool(stage and stage.get("hash") == digest)
        _write_json(out / STAGE_FILE, {"hash": digest, "done": False})
        r = model.rl
        self.log(f"[rl] {model.name}: GRPO, {r.max_steps} steps of {r.batch_size} x {r.num_generations}")
        settings = GRPOSettings(
            output_dir=out,
            max_steps=r.max_steps,
            learning_rate=r.learning_rate,
            per_device_batch_size=r.batch_size * r.num_generations,  # TRL counts completions
            num_generations=r.num_generations,
            max_completion_length=r.max_completion_length,
            temperature=r.temperature,
            train_problems=r.train_problems,
            beta=r.beta,
            reward=r.reward,
            eval_every=r.eval_every,
            eval_problems=r.eval_problems,
            save_steps=r.save_steps,
            seed=r.seed,
            device=str(self.device),
            resume=resume,
            overwrite=not resume,
        )
        net, tokenizer = load_model(self.model_dir(model), device=self.device)
        task = get_task(self.recipe.task.name, **self.recipe.task.options)
        result = train_grpo(net, tokenizer, self.data(model), task, settings)
        _write_json(out / STAGE_FILE, {"hash": digest, "done": True, "rl": result.to_dict()})
        return out

    # ---- evaluation ------------------------------------------------------------------------------
    def _eval_hash(self, model: ModelSpec, after_rl: bool = False) -> str:
        trained = self._rl_hash(model) if after_rl else self._train_hash(model)
        return _hash(trained, [e.model_dump() for e in model.eval])

    def evaluate(self, model: ModelSpec, *, after_rl: bool = False) -> dict[str, Any]:
        """The model's ``results.json`` entry; ``after_rl`` evaluates its GRPO model the same way."""
        import datasets

        from backtrack.evaluate import evaluate_model
        from backtrack.models import load_model, parameter_count
        from backtrack.tasks import get_task

        name = f"{model.name}{RL_SUFFIX}" if after_rl else model.name
        out = self.dir / "eval" / name
        digest = self._eval_hash(model, after_rl)
        if _done(out, digest):
            return json.loads((out / "entry.json").read_text())
        self.log(f"[eval] {name}: {', '.join(e.strategy for e in model.eval)}")
        weights = self.rl_dir(model) if after_rl else self.model_dir(model)
        net, tokenizer = load_model(weights, device=self.device)
        test = datasets.load_from_disk(str(self.data_dir(model)))["test"]
        rows = [test[i] for i in range(min(len(test), self.recipe.data.test_size))]
        task = get_task(self.recipe.task.name, **self.recipe.task.options)
        entry, records = evaluate_model(
            net, tokenizer, task, rows, model.eval, fmt=model.format, seed=self.recipe.seed
        )
        stage = _read_stage(self.model_dir(model)) or {}
        params = parameter_count(net)["total"]
        entry.update(size=model.size, params=params, training=stage.get("training", {}))
        if model.init:
            entry["init"] = model.init
        if after_rl:
            rl = (_read_stage(self.rl_dir(model)) or {}).get("rl", {})
            entry.update(
                base=model.name,
                rl={"rewards": rl.get("rewards", []), "solved": rl.get("eval_solved", []), **_rl_summary(rl)},
            )
        _write_json(out / "entry.json", entry)
        with (out / "samples.jsonl").open("w") as fh:
            fh.writelines(json.dumps(r, default=str) + "\n" for r in records)
        _write_json(out / STAGE_FILE, {"hash": digest, "done": True})
        return entry

    # ---- everything ------------------------------------------------------------------------------
    def run(self) -> Path:
        """Run (or resume) every stage; returns the report's path."""
        from backtrack.report import write_report

        self.dir.mkdir(parents=True, exist_ok=True)
        _write_json(self.dir / "recipe.json", self.recipe.model_dump(mode="json"))
        tokenizer = self.tokenizer()
        entries = {}
        for model in self.recipe.models:
            start = time.perf_counter()
            self.data(model)
            self.train(model, tokenizer)
            entries[model.name] = self.evaluate(model)
            if model.rl is not None:
                self.rl(model)
                entries[f"{model.name}{RL_SUFFIX}"] = self.evaluate(model, after_rl=True)
            self.timings[model.name] = time.perf_counter() - start
        results = {
            "name": self.recipe.name,
            "recipe": self.recipe.model_dump(mode="json"),
            "environment": {**environment(), "device": str(self.device)},
            "models": entries,
        }
        _write_json(self.dir / "results.json", results)
        return write_report(self.dir)


def _rl_summary(rl: dict[str, Any]) -> dict[str, Any]:
    keys = ("steps", "final_reward", "final_eval_solved", "reward_failures", "max_completion_length")
    keys += ("wall_seconds",)
    return {k: rl[k] for k in keys if k in rl}


def environment() -> dict[str, Any]:
    import torch
    import transformers

    import backtrack

    return {
        "backtrack": backtrack.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cuda": torch.cuda.is_available(),
    }


def run_study(
    recipe: Recipe,
    runs_dir: str | Path = "runs",
    *,
    log: Callable[[str], None] = print,
    device: str | None = None,
) -> Path:
    """Run (or resume) ``recipe`` in ``runs_dir/<name>``; ``device`` overrides the recipe's."""
    return Study(recipe, runs_dir, log=log, device=device).run()
