"""Experiment recipes: a TOML file validated into typed, frozen models before any work starts.

A recipe names a task, how much data to make, and the models to train and evaluate (each with its
trace format, size, training and inference settings). Validation is pydantic's: an unknown key or a
bad value is one clear error naming its place (``models[1].train.max_steps``), and nothing runs.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backtrack.device import DEVICE_PATTERN
from backtrack.sweeps import expand_sweeps
from backtrack.tasks import TASK_NAMES, get_task
from backtrack.traces import formats
from backtrack.validate import check_format_options


class RecipeError(ValueError):
    """A recipe that cannot be run; the message says where and why."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskSpec(_Spec):
    """The puzzle family and its generator options (e.g. ``n_numbers = 3`` for CountDown)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _task_accepts_options(self) -> TaskSpec:
        if self.name not in TASK_NAMES:
            raise ValueError(f"unknown task {self.name!r} (known: {', '.join(TASK_NAMES)})")
        get_task(self.name, **self.options)  # the task's own config validation
        return self


class DataSpec(_Spec):
    """How many problems to generate for training, and the held-out evaluation split."""

    n: int = Field(gt=0, description="problems generated (before de-duplication and the split)")
    seed: int = Field(default=0, ge=0)
    test_size: int = Field(default=200, gt=0, description="held-out problems evaluated")
    workers: int | None = Field(default=None, gt=0)


class TokenizerSpec(_Spec):
    """The task's vocabulary; ``whole_numbers = N`` gives numbers 0..N one token each (0: digits, as
    in the reference)."""

    whole_numbers: int = Field(default=0, ge=0, le=100_000)


class TrainSpec(_Spec):
    """Supervised fine-tuning settings (see ``backtrack.train.sft``)."""

    max_steps: int = Field(gt=0)
    learning_rate: float = Field(default=1e-3, gt=0)
    batch_size: int = Field(default=32, gt=0, description="packed rows per optimizer step")
    max_length: int | None = Field(
        default=None, gt=0, description="tokens per packed row; default: the model's context"
    )
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    loss_on: Literal["completion", "all"] = "completion"
    save_steps: int = Field(default=200, gt=0)
    seed: int = Field(default=0, ge=0)
    lora_r: int | None = Field(
        default=None,
        gt=0,
        description="train rank-r LoRA adapters (peft), saved merged; default: every weight",
    )
    bf16: bool | None = Field(
        default=None, description="None: on for a CUDA device with bf16, off on a CPU (true: ask for it)"
    )


PARALLEL_MAX_NEW_TOKENS = 512  # tokens per sample of a parallel evaluation without max_new_tokens
PROMPT_SAMPLE = 32  # generated problems whose prompts bound a recipe's prompt length
PROMPT_SLACK = 8  # tokens added to the longest sampled prompt (a problem with longer numbers may exist)


class EvalSpec(_Spec):
    """One way of spending inference compute on the held-out problems."""

    strategy: Literal["sequential", "parallel", "hybrid"]
    budgets: list[int] = Field(default_factory=lambda: [256, 512, 1024, 2048, 4096])
    samples: list[int] = Field(default_factory=lambda: [1, 2, 4, 8, 16, 32])
    max_new_tokens: int | None = Field(default=None, gt=0, description="per sample (parallel)")
    temperature: float = Field(default=0.7, ge=0, description="parallel and hybrid sampling")
    greedy: bool = Field(default=True, description="sequential: one greedy run (the paper's)")
    select: Literal["oracle", "majority", "first_valid"] = "oracle"
    runs: int = Field(default=4, gt=0, description="hybrid: sequential runs sharing the budget")

    def generated(self) -> tuple[str, int]:
        """(the key that sets it, the most new tokens one generation call of this evaluation asks for)."""
        if self.strategy == "sequential":
            return "budgets", max(self.budgets)
        if self.strategy == "parallel":
            return "max_new_tokens", self.max_new_tokens or PARALLEL_MAX_NEW_TOKENS
        return "budgets", max(self.budgets) // self.runs  # hybrid: the budget shared by the runs

    @field_validator("budgets", "samples")
    @classmethod
    def _positive_increasing(cls, values: list[int]) -> list[int]:
        if not values or any(v <= 0 for v in values) or values != sorted(set(values)):
            raise ValueError("must be a non-empty, strictly increasing list of positive integers")
        return values


class RLSpec(_Spec):
    """GRPO on top of the SFT model (see ``backtrack.train.grpo``), the task verifier as reward."""

    max_steps: int = Field(gt=0)
    learning_rate: float = Field(default=1e-5, gt=0)
    batch_size: int = Field(default=8, gt=0, description="prompts per optimizer step")
    num_generations: int = Field(default=8, ge=2, description="completions per prompt (the GRPO group)")
    max_completion_length: int | None = Field(
        default=None, gt=0, description="tokens per completion; default: the model's context minus the prompt"
    )
    temperature: float = Field(default=1.0, gt=0)
    train_problems: int | None = Field(
        default=None, gt=0, description="prompts come from the first N training problems (default: all)"
    )
    beta: float = Field(default=0.0, ge=0, description="KL penalty coefficient (0: no reference model)")
    reward: str = Field(default="binary", description="binary, format (0 / 0.1 / 1) or module:function")
    eval_every: int | None = Field(default=None, gt=0, description="steps between held-out solved checks")
    eval_problems: int = Field(default=32, gt=0)
    save_steps: int = Field(default=50, gt=0)
    seed: int = Field(default=0, ge=0)
    lora_r: int | None = Field(
        default=None,
        gt=0,
        description="train rank-r LoRA adapters (peft), saved merged; default: every weight",
    )


class ModelSpec(_Spec):
    """A model trained on one trace format and evaluated with one or more strategies; with ``rl``,
    GRPO continues from the SFT model and the same evaluations run again on the result."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    format: str
    format_options: dict[str, Any] = Field(default_factory=dict)
    size: str = Field(
        description="a named size (`backtrack models`) or the path of a saved model (any causal LM saved "
        "with save_pretrained, e.g. models/Qwen2.5-3B-Instruct; relative to the working directory; it "
        "need not exist when the recipe is validated)"
    )
    context: int = Field(gt=0)
    init: str | None = Field(
        default=None,
        description="name of a model listed earlier in the recipe whose SFT weights this one continues "
        "from (same size and tokenizer); default: a random init",
    )
    train: TrainSpec
    eval: list[EvalSpec] = Field(
        description="how the model is evaluated; empty for a shared base that other models continue "
        "from (``init``) and that is not compared itself"
    )
    rl: RLSpec | None = None
    task: TaskSpec | None = Field(
        default=None, description="this model's task when not the recipe's (one recipe, several tasks)"
    )
    data: DataSpec | None = Field(default=None, description="this model's data when not the recipe's")
    sweep_of: str | None = Field(
        default=None, description="set by a sweep: the model table this model was expanded from"
    )
    sweep_key: str | None = Field(default=None, description="set by a sweep: the format option it varies")

    @field_validator("size")
    @classmethod
    def _known_size(cls, size: str) -> str:
        from backtrack.models import looks_like_path
        from backtrack.validate import check_model_size

        # A path names a saved model the user provides; it need not exist yet (it is loaded at run time).
        if not looks_like_path(size):
            check_model_size(size)
        return size

    @property
    def pretrained(self) -> bool:
        """True when ``size`` names a saved model rather than a size built from scratch."""
        from backtrack.models import is_named_size

        return not is_named_size(self.size)

    @model_validator(mode="after")
    def _rows_fit_the_context(self) -> ModelSpec:
        if self.train.max_length is not None and self.train.max_length > self.context:
            raise ValueError(
                f"model {self.name!r}: train.max_length ({self.train.max_length}) exceeds its context "
                f"({self.context})"
            )
        return self


class Recipe(_Spec):
    """A whole study: data -> tokenizer -> train each model -> evaluate -> report."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    seed: int = Field(default=0, ge=0)
    device: str | None = Field(
        default=None,
        pattern=DEVICE_PATTERN,
        description="cpu, cuda or cuda:N for every stage; default: CUDA when present, else the CPU "
        "(`backtrack run --device` overrides it)",
    )
    task: TaskSpec
    data: DataSpec
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    models: list[ModelSpec] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _expand_sweeps(cls, data: Any) -> Any:
        if isinstance(data, dict) and "models" in data:
            data = {**data, "models": expand_sweeps(data["models"])}
        return data

    @model_validator(mode="after")
    def _models_fit_the_task(self) -> Recipe:
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique, got {names}")
        for i, m in enumerate(self.models):
            task = self.task_of(m)
            known = formats(task.name)
            if m.format not in known:
                raise ValueError(f"model {m.name!r}: format {m.format!r} is not one of {', '.join(known)}")
            check_format_options(task.name, m.format, m.format_options, f"model {m.name!r}: format_options")
            _check_format_options(m, task)  # and their values: one problem rendered with them
            if m.init is None:
                continue
            earlier = {e.name: e for e in self.models[:i]}
            if m.init not in earlier:
                raise ValueError(f"model {m.name!r}: init {m.init!r} must name a model listed before it")
            if (size := earlier[m.init].size) != m.size:
                raise ValueError(f"model {m.name!r}: size {m.size!r} is not its init model's ({size!r})")
            if self.task_of(earlier[m.init]) != task:
                raise ValueError(f"model {m.name!r}: its task is not its init model's (tokenizers differ)")
        continued = {m.init for m in self.models}
        for m in self.models:
            if not m.eval and m.rl is not None:
                raise ValueError(f"model {m.name!r}: an rl stage needs an eval list (before and after)")
            if not m.eval and m.name not in continued:
                raise ValueError(
                    f"model {m.name!r} has no eval and no model continues from it (init): it would be "
                    "trained for nothing"
                )
        if not any(m.eval for m in self.models):
            raise ValueError("no model has an eval list: the study would compare nothing")
        return self

    def task_of(self, model: ModelSpec) -> TaskSpec:
        """The model's own task, else the recipe's."""
        return model.task or self.task

    def tokenizer_of(self, model: ModelSpec) -> TokenizerSpec:
        """The ``[tokenizer]`` table for the recipe's task; a model of another task gets that task's
        plain vocabulary (whole numbers for CountDown would pair up a Sudoku board's digits)."""
        return self.tokenizer if self.task_of(model) == self.task else TokenizerSpec()

    def data_of(self, model: ModelSpec) -> DataSpec:
        """The model's own data settings, else the recipe's."""
        return model.data or self.data

    def model(self, name: str) -> ModelSpec:
        """The model spec called ``name``."""
        return next(m for m in self.models if m.name == name)

    def digest(self, *parts: str) -> str:
        """A content hash of this recipe (or of the named top-level parts), for stage caching."""
        data = self.model_dump(mode="json")
        if parts:
            data = {k: data[k] for k in parts}
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _check_format_options(model: ModelSpec, task_spec: TaskSpec) -> None:
    """Render one problem with the model's format options, so an unknown option or a bad value (a
    negative ``k``, a swept value the format cannot take) is refused before anything runs."""
    if not model.format_options:
        return
    import random

    from backtrack.traces import render

    task = get_task(task_spec.name, **task_spec.options)
    try:
        render(
            task, task.generate(random.Random(0)), model.format, rng=random.Random(0), **model.format_options
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model {model.name!r}: format_options {model.format_options}: {exc}") from None


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "recipe"


def _model_class(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``list[ModelSpec]`` or ``RLSpec | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_class(arg)
        if found is not None:
            return found
    return None


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class whose fields live at ``loc`` (list indices skipped), or None."""
    cls: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        if cls is None or part not in cls.model_fields:
            return None
        cls = _model_class(cls.model_fields[part].annotation)
    return cls


def validation_messages(
    exc: ValidationError, root: type[BaseModel], where: Callable[[tuple[Any, ...]], str] = _where
) -> list[str]:
    """One ``KEY: message`` per pydantic error. An unknown key names the closest known one (difflib),
    and the "missing" error of that key is dropped: ``max_step`` is a misspelt ``max_steps``, not two
    problems."""
    errors = exc.errors()
    suggested: set[tuple[Any, ...]] = set()
    messages: list[str] = []
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden" and loc:
            parent, key = loc[:-1], str(loc[-1])
            cls = _model_at(root, parent)
            known = list(cls.model_fields) if cls else []
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            if close:
                suggested.add((*parent, close[0]))
                hint = f"did you mean {close[0]}?"
            else:
                hint = f"known: {', '.join(known)}" if known else "not a known key"
            messages.append(f"{where(parent)}: unknown key {key} ({hint})")
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden" or (error["type"] == "missing" and loc in suggested):
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required key missing"
        elif error["type"].startswith(("literal_", "greater_", "less_", "int_", "float_", "bool_")):
            shown = error.get("input")
            if isinstance(shown, str | int | float) and len(repr(shown)) < 40:
                message += f" (got {shown!r})"
        messages.append(f"{where(loc)}: {message}")
    return messages


def parse_recipe(data: dict[str, Any], source: str = "recipe") -> Recipe:
    """Validate a recipe given as a dict; errors name the source and each key (all on one line)."""
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(f"{source}: {'; '.join(validation_messages(exc, Recipe))}") from None
    check_generation_fits(recipe, source)
    return recipe


def check_generation_fits(recipe: Recipe, source: str = "recipe") -> None:
    """Refuse an evaluation (or GRPO rollout) that would generate past its model's context: the prompt
    plus the new tokens asked for must fit, or the model would be run at positions it never had (and
    a budget it can never spend would be reported as spent). One error naming the first such key."""
    for i, model in enumerate(recipe.models):
        prompt = prompt_tokens_bound(recipe, model)
        if prompt is None:
            continue  # a saved model that is not there yet: checked when it is (at run time, by TRL/HF)
        asks = [
            (f"eval[{j}].{key}", tokens)
            for j, spec in enumerate(model.eval)
            for key, tokens in [spec.generated()]
        ]
        if model.rl is not None and model.rl.max_completion_length is not None:
            asks.append(("rl.max_completion_length", model.rl.max_completion_length))
        for key, tokens in asks:
            if prompt + tokens > model.context:
                raise RecipeError(
                    f"{source}: models[{i}].{key}: {tokens} new tokens after a prompt of up to {prompt} "
                    f"tokens need a context of {prompt + tokens}, but model {model.name!r} has context = "
                    f"{model.context}; raise its context or lower the tokens"
                )


def prompt_tokens_bound(recipe: Recipe, model: ModelSpec) -> int | None:
    """The longest prompt (in tokens) of ``PROMPT_SAMPLE`` problems generated as the recipe's data would
    be, plus ``PROMPT_SLACK``: prompts vary only with the numbers' digits, so the slack covers the
    longest problem the sample missed. A saved model's prompts are measured with its own tokenizer and
    chat template; None when that model's directory does not exist (yet)."""
    tokenizer_dir = ""
    if model.pretrained:
        if not Path(model.size).expanduser().is_dir():
            return None
        tokenizer_dir = str(Path(model.size).expanduser().resolve())
    task = recipe.task_of(model)
    return _prompt_tokens_bound(
        tokenizer_dir,
        task.name,
        json.dumps(task.options, sort_keys=True),
        model.format,
        json.dumps(model.format_options, sort_keys=True),
        recipe.tokenizer_of(model).whole_numbers,
        recipe.data_of(model).seed,
    )


@functools.lru_cache(maxsize=64)
def _prompt_tokens_bound(
    tokenizer_dir: str,
    task_name: str,
    options: str,
    fmt: str,
    format_options: str,
    whole_numbers: int,
    seed: int,
) -> int:
    import random

    from backtrack.chat import format_prompt
    from backtrack.data import split_prompt
    from backtrack.models import load_tokenizer
    from backtrack.tokenizer import build_tokenizer
    from backtrack.traces import format_of, render

    config = json.loads(options)
    task = get_task(task_name, **config)
    if tokenizer_dir:
        tokenizer = load_tokenizer(tokenizer_dir)
    else:
        tokenizer = build_tokenizer(task_name, whole_numbers=whole_numbers, **config)
    rng = random.Random(seed)
    longest = 0
    for _ in range(PROMPT_SAMPLE):
        problem = task.generate(rng)
        text = ""
        if format_of(task, fmt).statement_first:  # the prompt is the trace's first line
            text = render(task, problem, fmt, rng=random.Random(0), **json.loads(format_options)).text
        prompt, _ = split_prompt(task, problem, fmt, text)
        longest = max(longest, len(tokenizer(format_prompt(tokenizer, prompt))["input_ids"]))
    return longest + PROMPT_SLACK


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a TOML recipe."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"no recipe file at {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: not valid TOML: {exc}") from None
    return parse_recipe(data, str(path))


# The embedded default study: small enough for a 2-core CPU in minutes. CountDown with 3 numbers in
# 1..9 and targets 1..50 (held-out problems rather than held-out targets: ~2,500 distinct problems
# exist, too few for a small model to learn unseen targets). Both arms continue from one shared base
# and get equal training tokens of their own: a model trained on DFS traces (sequential search)
# against one trained on direct solutions (parallel sampling), compared at matched inference FLOPs.
DEFAULT_RECIPE_TOML = """
name = "default"
description = "CPU study: backtracking (compact DFS) vs direct solutions, CountDown-3, equal training tokens"
seed = 0

[task]
name = "countdown"

[task.options]
n_numbers = 3
min_number = 1
max_number = 9
min_target = 1
max_target = 50
split_by = "problem"

[data]
n = 20000
test_size = 200

[tokenizer]
# Numbers 0..99 one token each: a 1M model copies states and looks up results as single tokens.
whole_numbers = 99

# Both arms from random init, each 3.05M row tokens of its own data (700 x 16 x 272 = 2380 x 2 x 640).
[[models]]
name = "direct"
format = "direct"
size = "1M"
context = 272  # two ~117-token solutions per packed row
train = { max_steps = 700, learning_rate = 2e-3, batch_size = 16, save_steps = 100, bf16 = false }
# One draw of 16 samples per problem, read three ways: best-of-n with a perfect checker (oracle),
# majority vote over claimed answers, and the verifier as an early stop (first_valid).
[[models.eval]]
strategy = "parallel"
samples = [1, 2, 4, 8, 16]
max_new_tokens = 160
[[models.eval]]
strategy = "parallel"
samples = [1, 2, 4, 8, 16]
max_new_tokens = 160
select = "majority"
[[models.eval]]
strategy = "parallel"
samples = [1, 2, 4, 8, 16]
max_new_tokens = 160
select = "first_valid"

[[models]]
name = "dfs"
format = "compact"  # the exhaustive DFS, one line per two-number state, every final operation written
size = "1M"
context = 640  # the largest budget plus the prompt
# Small batches give the 1M model many optimizer steps: it learns to compare a written result with
# the target only late in training. Weight decay and a learning rate of 3e-3 bring that forward, so
# every seed tried gets there within the schedule (at 2e-3 one seed of three did not).
train = { max_steps = 2380, learning_rate = 3e-3, batch_size = 2, weight_decay = 0.1, bf16 = false }
# One greedy search (the reference's sequential arm), best-of-n over whole sampled searches, and
# the hybrid: 2 sampled searches sharing each budget.
eval = [
  { strategy = "sequential", budgets = [32, 64, 128, 256, 512] },
  { strategy = "parallel", samples = [1, 2, 4], max_new_tokens = 256, temperature = 0.7 },
  { strategy = "hybrid", budgets = [256, 512], runs = 2, temperature = 0.7 },
]
"""


def model_training_flops(recipe: Recipe, name: str, dims: Any = None) -> dict[str, float]:
    """Training FLOPs of one model of a recipe (``backtrack.budget.training_flops`` over its SFT rows):
    ``own`` for its own stage, ``total`` with every model it continues from (``init``)."""
    from backtrack.budget import training_flops
    from backtrack.models import MODEL_SIZES

    spec = recipe.model(name)
    if dims is None:
        dims = MODEL_SIZES.get(spec.size) or _saved_config(spec.size)
    own = 0.0
    if dims is not None:
        t = spec.train
        own = training_flops(dims, t.max_steps * t.batch_size, t.max_length or spec.context)
    inherited = model_training_flops(recipe, spec.init, dims)["total"] if spec.init else 0.0
    return {"own": own, "inherited": inherited, "total": own + inherited}


def _saved_config(path: str) -> Any:
    """A saved model's config (for its FLOPs), or None when the directory is not there (yet)."""
    if not (Path(path).expanduser() / "config.json").is_file():
        return None
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(Path(path).expanduser(), local_files_only=True)


def training_flops_estimate(recipe: Recipe) -> float:
    """All SFT training compute of a recipe (GRPO left out), to warn before a long run."""
    return sum(model_training_flops(recipe, m.name)["own"] for m in recipe.models)


def default_recipe() -> Recipe:
    return parse_recipe(tomllib.loads(DEFAULT_RECIPE_TOML), "default recipe")
