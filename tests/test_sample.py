"""Sampling backends and strategies.

The HF backend is checked on two tiny models: a random Qwen2 (batching must not change greedy output,
seeds must reproduce) and a scripted "bigram" Qwen2 whose weights make each token determine the next,
so the number of tokens before EOS is known exactly. Strategies are checked against a fake backend
that returns scripted completions, so the budget arithmetic can be tested exactly.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from backtrack.budget import flops_of_lengths, sequence_flops  # noqa: E402
from backtrack.data import split_prompt  # noqa: E402
from backtrack.sample import (  # noqa: E402
    Completion,
    HFBackend,
    answer_key,
    hybrid,
    mean_pass_at_k,
    parallel,
    pass_at_k,
    sequential,
    sequential_curve,
    strategies,
)
from backtrack.sample.backends import Backend, batch_seed, cut_at_eos  # noqa: E402
from backtrack.tasks import get_task  # noqa: E402
from backtrack.tasks.countdown import steps_to_expression  # noqa: E402
from backtrack.tasks.countdown.keys import expression_key  # noqa: E402
from backtrack.tokenizer import build_tokenizer  # noqa: E402
from backtrack.traces import parse, render  # noqa: E402

PROMPTS = [
    "Current State: 72:[62, 36, 6, 70], Operations: []\n",
    "Current State: 10:[1, 2], Operations: []\n",
    "Current State: 100:[99, 98, 97, 96, 95], Operations: []\n",
    "Current State: 8:[4], Operations: []\n",
    "Current State: 24:[3, 8, 1, 1], Operations: []\n",
]


# ---- models ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tok() -> Any:
    return build_tokenizer("countdown")


def _config(tok: Any, **kwargs: Any) -> Any:
    base = {
        "vocab_size": len(tok),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "pad_token_id": tok.pad_token_id,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
    }
    return transformers.Qwen2Config(**{**base, **kwargs})


@pytest.fixture(scope="module")
def tiny(tok: Any) -> Any:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = transformers.Qwen2ForCausalLM(_config(tok))
    return model.float().eval()


def _id(tok: Any, text: str) -> int:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, text
    return ids[0]


@pytest.fixture(scope="module")
def bigram(tok: Any) -> Any:
    """Attention and MLP outputs are zero, so the last hidden state is the current token's one-hot
    embedding and the head picks ``follow[token]``: digit d -> d-1, '0' -> EOS, '=' -> <pad> -> '5',
    anything else -> ' ' for ever. A prompt ending in digit d thus generates d tokens, then EOS."""
    vocab = len(tok)
    hidden = vocab + (-vocab) % 4  # two heads of an even (RoPE) width
    config = _config(
        tok, hidden_size=hidden, num_attention_heads=2, num_key_value_heads=1, intermediate_size=8
    )
    config.tie_word_embeddings = False
    model = transformers.Qwen2ForCausalLM(config).float().eval()
    follow = dict.fromkeys(range(vocab), _id(tok, " "))
    for d in range(1, 10):
        follow[_id(tok, str(d))] = _id(tok, str(d - 1))
    follow[_id(tok, "0")] = tok.eos_token_id
    follow[_id(tok, "=")] = tok.pad_token_id
    follow[tok.pad_token_id] = _id(tok, "5")
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.copy_(torch.eye(vocab, hidden))
        model.model.norm.weight.fill_(1.0)
        head = torch.zeros(vocab, hidden)
        for token, nxt in follow.items():
            head[nxt, token] = 3.0  # logit margin 3*sqrt(hidden) ~ 38: near-deterministic sampling too
        model.lm_head.weight.copy_(head)
    return model


# ---- HF backend ------------------------------------------------------------------------------------
def test_bigram_counts_tokens_up_to_eos_and_respects_max_new_tokens(bigram: Any, tok: Any) -> None:
    backend = HFBackend(bigram, tok, batch_size=8)
    prompts = ["Current State: 3", "0", "x", "7", "="]
    out = backend.generate(prompts, n=1, max_new_tokens=12)
    got = [(c[0].text, c[0].tokens, c[0].stopped) for c in out]
    assert got == [
        ("210", 3, True),
        ("", 0, True),  # EOS first: nothing generated, nothing counted
        (" " * 12, 12, False),  # never stops: cut at max_new_tokens
        ("6543210", 7, True),
        ("543210", 7, True),  # a <pad> the model emits is a generated token; pads after EOS are not
    ]
    assert out[4][0].token_ids[0] == tok.pad_token_id
    for (completion,) in out:
        assert tok.eos_token_id not in completion.token_ids
        assert len(completion.token_ids) == completion.tokens
    short = backend.generate(prompts, n=1, max_new_tokens=2)
    assert [c[0].tokens for c in short] == [2, 0, 2, 2, 2]
    assert [c[0].stopped for c in short] == [False, True, False, False, False]


def test_results_come_back_in_prompt_order_with_n_each(bigram: Any, tok: Any) -> None:
    # Longest prompt first, so sorting by length inside the backend permutes the rows.
    prompts = ["Current State: 72:[4, 9", "=", "Current 5", "2", "Operations: 8"]
    backend = HFBackend(bigram, tok, batch_size=3)
    for temperature in (0.0, 1.0):
        out = backend.generate(prompts, n=3, max_new_tokens=20, temperature=temperature, seed=1)
        assert [[c.tokens for c in group] for group in out] == [[9] * 3, [7] * 3, [5] * 3, [2] * 3, [8] * 3]
    assert backend.generate([], n=2) == []


def test_greedy_is_batch_invariant_and_matches_plain_generate(tiny: Any, tok: Any) -> None:
    batched = HFBackend(tiny, tok, batch_size=3).generate(PROMPTS, n=2, max_new_tokens=24)
    assert all(group[0] == group[1] for group in batched)
    eos = tok.eos_token_id
    for prompt, group in zip(PROMPTS, batched, strict=True):
        ids = torch.tensor([tok(prompt)["input_ids"]])
        with torch.inference_mode():
            alone = tiny.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=24,
                do_sample=False,
                eos_token_id=eos,
                pad_token_id=tok.pad_token_id,
            )[0, ids.shape[1] :].tolist()
        expected = alone[: alone.index(eos)] if eos in alone else alone
        assert list(group[0].token_ids) == expected
        assert group[0].tokens == len(expected)
        assert group[0].stopped == (eos in alone)
        assert group[0].text == tok.decode(expected, skip_special_tokens=True)
    again = HFBackend(tiny, tok, batch_size=5).generate(PROMPTS, n=1, max_new_tokens=24)
    assert [g[0] for g in again] == [g[0] for g in batched]


def test_seeded_sampling_reproduces_and_leaves_global_rng_alone(tiny: Any, tok: Any) -> None:
    backend = HFBackend(tiny, tok, batch_size=4)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = backend.generate(PROMPTS[:3], n=3, max_new_tokens=16, temperature=1.0, seed=7)
    assert torch.rand(1) == before  # the backend sampled from a forked RNG
    second = backend.generate(PROMPTS[:3], n=3, max_new_tokens=16, temperature=1.0, seed=7)
    other = backend.generate(PROMPTS[:3], n=3, max_new_tokens=16, temperature=1.0, seed=8)
    assert first == second
    assert first != other
    texts = [c.token_ids for group in first for c in group]
    assert len(set(texts)) > 1  # samples of one prompt differ
    assert all(c.tokens <= 16 for group in first for c in group)


def test_backend_rejects_bad_arguments_and_samples_without_top_k(tiny: Any, tok: Any) -> None:
    backend = HFBackend(tiny, tok)
    assert isinstance(backend, Backend)
    for kwargs in ({"n": 0}, {"max_new_tokens": 0}, {"temperature": -1.0}):
        with pytest.raises(ValueError):
            backend.generate(PROMPTS[:1], **kwargs)
    config = backend._generation_config(8, 0.7)
    assert config.do_sample and config.top_k == 0 and config.top_p == 1.0 and config.temperature == 0.7
    assert batch_seed(0, 1) != batch_seed(1, 0)
    assert cut_at_eos([5, 0, 2, 0, 0], frozenset({2})) == ([5, 0], True)
    with pytest.raises(ValueError):
        Completion("ab", 1, True, (4, 5))


def test_vllm_backend_says_what_is_missing() -> None:
    import importlib.util

    from backtrack.sample import VLLMBackend

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    with pytest.raises(ImportError, match="vLLM"):
        VLLMBackend("no-such-model")


def test_static_cache_greedy_output_equals_the_dynamic_caches(tiny: Any, tok: Any) -> None:
    dynamic = HFBackend(tiny, tok, batch_size=3, cache="dynamic")
    static = HFBackend(tiny, tok, batch_size=3, cache="static", compile=False)
    assert static._generation_config(8, 0.0).cache_implementation == "static"
    assert dynamic._generation_config(8, 0.0).cache_implementation is None
    expected = dynamic.generate(PROMPTS, n=1, max_new_tokens=32)
    assert static.generate(PROMPTS, n=1, max_new_tokens=32) == expected


def test_on_the_cpu_the_backend_keeps_a_dynamic_cache_and_fixed_batches(tiny: Any, tok: Any) -> None:
    backend = HFBackend(tiny, tok)
    assert not backend.static_cache and not backend.compile
    assert backend.memory_batch_size(4096) == 64
    with pytest.raises(ValueError, match="cache"):
        HFBackend(tiny, tok, cache="paged")


def test_cuda_batches_are_sized_to_memory_as_a_power_of_two(tiny: Any, tok: Any, monkeypatch) -> None:
    backend = HFBackend(tiny, tok)
    monkeypatch.setattr(HFBackend, "device", property(lambda self: torch.device("cuda")))
    memory = type("Props", (), {"total_memory": 2**30})()
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: memory)
    short, long = backend.memory_batch_size(256), backend.memory_batch_size(8192)
    assert short & (short - 1) == 0 and long & (long - 1) == 0  # powers of two
    assert 1 <= long < short <= 2048  # longer sequences, fewer of them
    config = tiny.config
    kv_per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * 8 * 4  # head_dim 8, fp32
    assert long * kv_per_token * 8192 <= 0.4 * 2**30


class _StandInEngine:
    """What VLLMBackend needs of ``vllm.LLM``: records the requests and answers with scripted ids."""

    def __init__(self, replies: list[list[tuple[list[int], str]]]) -> None:
        self.replies = replies
        self.requests: list[Any] = []
        self.params: list[Any] = []
        self.llm_engine = type("E", (), {"model_config": type("M", (), {"hf_config": "config"})()})()

    def generate(self, requests: list[Any], params: list[Any], use_tqdm: bool = True) -> list[Any]:
        self.requests, self.params = list(requests), list(params)
        make = lambda ids, reason: type("O", (), {"token_ids": ids, "finish_reason": reason})()  # noqa: E731
        return [type("R", (), {"outputs": [make(*o) for o in reply]})() for reply in self.replies]


def test_vllm_backend_sends_token_ids_and_stops_on_our_eos(tok: Any) -> None:
    from backtrack.sample import VLLMBackend

    eos = tok.eos_token_id
    five, three = tok.convert_tokens_to_ids("5"), tok.convert_tokens_to_ids("3")
    engine = _StandInEngine([[([five, three, eos], "stop")], [([three] * 4, "length")]])
    backend = VLLMBackend("unused", tokenizer=tok, engine=engine, sampling_params=dict)
    out = backend.generate(PROMPTS[:2], n=3, max_new_tokens=4)
    assert engine.requests == [{"prompt_token_ids": tok(p)["input_ids"]} for p in PROMPTS[:2]]
    assert all(isinstance(r["prompt_token_ids"][0], int) for r in engine.requests)  # ids, never text
    for params in engine.params:
        assert params["stop_token_ids"] == [eos] and params["max_tokens"] == 4
        assert params["detokenize"] is False and params["n"] == 1  # greedy: one run, repeated
    first = out[0][0]
    assert (first.token_ids, first.tokens, first.stopped) == ((five, three), 2, True)
    assert first.text == tok.decode([five, three], skip_special_tokens=True)
    assert len(out[0]) == 3 and out[1][0].stopped is False and out[1][0].tokens == 4


# ---- strategies on scripted completions --------------------------------------------------------------
class FakeBackend:
    """Returns ``script[prompt]`` (cycled over the n samples), cut at ``max_new_tokens`` like a model."""

    def __init__(self, tok: Any, script: dict[str, Sequence[str]]) -> None:
        self.tok = tok
        self.script = script
        self.config = _config(tok)
        self.calls: list[dict[str, Any]] = []

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.tok.decode(list(token_ids), skip_special_tokens=True)

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> list[list[Completion]]:
        self.calls.append({"n": n, "max_new_tokens": max_new_tokens, "temperature": temperature})
        out = []
        for prompt in prompts:
            texts = itertools.islice(itertools.cycle(self.script[prompt]), n)
            out.append([self._completion(text, max_new_tokens) for text in texts])
        return out

    def _completion(self, text: str, cap: int) -> Completion:
        ids = self.tok(text, add_special_tokens=False)["input_ids"][:cap]
        stopped = len(ids) < cap or len(self.tok(text, add_special_tokens=False)["input_ids"]) == cap
        return Completion(self.decode(ids), len(ids), stopped, tuple(ids))


@pytest.fixture(scope="module")
def countdown() -> Any:
    return get_task("countdown")


@pytest.fixture(scope="module")
def solved_trace(countdown: Any) -> tuple[Any, str, str]:
    """(problem, prompt, completion) of a DFS trace that reaches the goal after backtracking."""
    problem = countdown.problem([62, 36, 6, 70], 72)
    trace = render("countdown", problem, "dfs", rng=random.Random(1))
    assert trace.solved and trace.backtracks > 0
    prompt, completion = split_prompt(countdown, problem, "dfs", trace.text)
    return problem, prompt, completion


def _tokens(tok: Any, text: str) -> int:
    return len(tok(text, add_special_tokens=False)["input_ids"])


def test_sequential_is_solved_at_a_budget_iff_the_goal_fits(
    tok: Any, countdown: Any, solved_trace: Any
) -> None:
    problem, prompt, completion = solved_trace
    goal = _tokens(tok, completion[: completion.index("Goal Reached") + len("Goal Reached")])
    total = _tokens(tok, completion)
    assert total == goal + 1  # the trailing newline
    unsolved = countdown.problem([1, 2, 3, 4], 99)  # the same text claims a goal the numbers cannot give
    backend = FakeBackend(tok, {prompt: [completion], "other\n": [completion]})
    budgets = [goal - 1, goal, goal + 1, 4 * total]
    results = sequential(backend, countdown, [problem, unsolved], [prompt, "other\n"], budgets)
    assert backend.calls == [{"n": 1, "max_new_tokens": 4 * total, "temperature": 0.0}]
    first, second = results
    assert first.solved == {goal - 1: False, goal: True, goal + 1: True, 4 * total: True}
    assert not any(second.solved.values())
    assert first.tokens == {goal - 1: goal - 1, goal: goal, goal + 1: total, 4 * total: total}
    assert first.flops == {b: sequence_flops(backend.config, t) for b, t in first.tokens.items()}
    assert first.generated == total and first.stopped
    assert first.to_dict()["solved"] == [False, True, True, True]
    curve = sequential_curve(results)
    assert [row["accuracy"] for row in curve] == [0.0, 0.5, 0.5, 0.5]
    assert curve[0]["mean_flops"] == sequence_flops(backend.config, goal - 1)


def test_sequential_cap_cuts_the_run(tok: Any, countdown: Any, solved_trace: Any) -> None:
    problem, prompt, completion = solved_trace
    backend = FakeBackend(tok, {prompt: [completion]})
    (result,) = sequential(backend, countdown, [problem], [prompt], [64, 128], greedy=False, temperature=0.5)
    assert backend.calls[0]["temperature"] == 0.5
    assert result.generated == 128 and not result.stopped
    assert result.solved == {64: False, 128: False}
    with pytest.raises(ValueError):
        sequential(backend, countdown, [problem], [prompt], [])
    with pytest.raises(ValueError):
        sequential(backend, countdown, [problem], [prompt, prompt], [64])


@pytest.fixture(scope="module")
def samples(countdown: Any, solved_trace: Any) -> dict[str, str]:
    problem, _, completion = solved_trace
    direct = render("countdown", problem, "direct").text.split("\n", 1)[1]
    return {
        "wrong": "<answer>70+62-36-6</answer>",  # 90
        "wrong_commuted": "<answer>62 + 70 - 36 - 6</answer>",  # the same claim, operands swapped
        "trace": completion,  # correct: 62+6=68, 70-68=2, 36*2=72 after backtracking
        "garbage": "Exploring nonsense",
        "expression": "<answer>36*(70-(6+62))</answer>",  # correct, the trace's solution as an expression
        "direct": direct,  # correct, the same solution written without search
        "other": "<answer>36*(70-62-6)</answer>",  # correct: the trace's solution, bracketed otherwise
    }


def test_answer_keys_are_canonical_claims(countdown: Any, solved_trace: Any, samples: dict[str, str]) -> None:
    problem = solved_trace[0]
    keys = {name: answer_key(countdown, problem, text) for name, text in samples.items()}
    assert keys["wrong"] == keys["wrong_commuted"] is not None
    assert keys["trace"] == keys["expression"] is not None
    assert keys["direct"] == keys["trace"]
    assert keys["other"] == keys["trace"]  # 70-(62+6) and 70-62-6 are one claim
    assert keys["wrong"] != keys["trace"]
    assert keys["garbage"] is None
    parsed = parse("countdown", problem, "dfs", samples["trace"])
    assert expression_key(steps_to_expression(problem.numbers, list(parsed.answer))) == keys["trace"]
    # A claimed but illegal goal path is still a claim (the verifier, not the key, rejects it).
    bogus = "Exploring Operation: 70+2=72, Resulting Numbers: [72]\n72,72 equal: Goal Reached\n"
    assert answer_key(countdown, problem, bogus) == "+(2,70)"
    assert not countdown.verify(problem, bogus).ok
    assert expression_key("(1+2)+3") == expression_key("3+(2+1)") == "+(1,2,3)"
    assert expression_key("8-2-1") != expression_key("8-(2-1)")
    assert expression_key("8-2+1") == expression_key("8-(2-1)") == expression_key("1-(2-8)")
    assert expression_key("8*2/4") == expression_key("8*(2/4)") != expression_key("8/(2*4)")
    for bad in ("1+", "(1+2", "1 2", "1+2)", "", "a+1", "9" * 20):
        assert expression_key(bad) is None


def test_parallel_selections(tok: Any, countdown: Any, solved_trace: Any, samples: dict[str, str]) -> None:
    problem, prompt, _ = solved_trace
    order = ["wrong", "trace", "wrong_commuted", "garbage", "expression"]
    backend = FakeBackend(tok, {prompt: [samples[name] for name in order]})
    lengths = [_tokens(tok, samples[name]) for name in order]

    def run(select: str, n: int = 5) -> Any:
        (result,) = parallel(backend, countdown, [problem], [prompt], n, 4096, select=select, seed=3)
        return result

    oracle = run("oracle")
    assert backend.calls[-1] == {"n": 5, "max_new_tokens": 4096, "temperature": 0.7}
    assert oracle.solved and oracle.chosen == 1 and oracle.correct == 2
    assert oracle.verified == (False, True, False, False, True)
    assert oracle.tokens == sum(lengths) and list(oracle.lengths) == lengths
    assert oracle.flops == pytest.approx(flops_of_lengths(backend.config, lengths))

    first = run("first_valid")
    assert first.solved and first.chosen == 1
    assert first.tokens == sum(lengths[:2])
    assert first.flops == pytest.approx(flops_of_lengths(backend.config, lengths[:2]))

    # Two votes for the wrong claim, two for the correct one (trace and expression agree): the tie goes
    # to the claim seen first, which is wrong.
    majority = run("majority")
    assert majority.chosen == 0 and not majority.solved and majority.tokens == sum(lengths)
    backend.script[prompt] = [samples[name] for name in ["wrong", "trace", "wrong_commuted", "expression"]]
    backend.script[prompt] += [samples["trace"]]
    majority = run("majority")
    assert majority.solved and majority.chosen == 1

    backend.script[prompt] = [samples["garbage"], samples["wrong"]]
    nothing = run("first_valid", n=2)
    assert not nothing.solved and nothing.chosen is None and nothing.tokens == sum(nothing.lengths)
    backend.script[prompt] = [samples["garbage"]]
    assert run("majority", n=2).chosen is None
    with pytest.raises(ValueError):
        run("best")


def test_hybrid_splits_the_budget_into_sampled_runs(tok: Any, countdown: Any, solved_trace: Any) -> None:
    problem, prompt, completion = solved_trace
    total = _tokens(tok, completion)
    backend = FakeBackend(tok, {prompt: [completion]})
    (short,) = hybrid(backend, countdown, [problem], [prompt], m=4, total_budget=4 * (total - 5))
    assert backend.calls[-1] == {"n": 4, "max_new_tokens": total - 5, "temperature": 0.7}
    assert not short.solved and short.tokens == 4 * (total - 5) and short.strategy == "hybrid"
    (enough,) = hybrid(backend, countdown, [problem], [prompt], m=2, total_budget=2 * total + 1)
    assert enough.solved and enough.correct == 2 and enough.tokens == 2 * total
    assert enough.flops == pytest.approx(flops_of_lengths(backend.config, [total, total]))
    with pytest.raises(ValueError):
        hybrid(backend, countdown, [problem], [prompt], m=8, total_budget=7)


# ---- pass@k ------------------------------------------------------------------------------------------
def test_pass_at_k_matches_enumeration() -> None:
    for n in range(1, 7):
        for c in range(n + 1):
            outcomes = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(outcomes, k))
                exact = sum(any(s) for s in subsets) / len(subsets)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
    assert pass_at_k(200, 1, 1) == pytest.approx(1 / 200)
    assert 0.0 < pass_at_k(10_000, 3, 5) < 1.0
    for bad in ((3, 4, 1), (3, 1, 0), (3, 1, 4), (3, -1, 1)):
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_mean_pass_at_k_over_results(
    tok: Any, countdown: Any, solved_trace: Any, samples: dict[str, str]
) -> None:
    problem, prompt, _ = solved_trace
    backend = FakeBackend(
        tok, {prompt: [samples["wrong"], samples["trace"], samples["garbage"], samples["wrong"]]}
    )
    results = parallel(backend, countdown, [problem, problem], [prompt, prompt], 4, 4096)
    assert mean_pass_at_k(results, 1) == pytest.approx(0.25)
    assert mean_pass_at_k(results, 4) == 1.0
    assert mean_pass_at_k([], 1) == 0.0
    assert strategies.DEFAULT_BUDGETS == (256, 512, 1024, 2048, 4096)
