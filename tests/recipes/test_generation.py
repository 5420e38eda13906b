"""Generation backends: the fast path decodes exactly what plain eager `generate` does, in the caller's order."""

from __future__ import annotations

import logging

import pytest
import torch
from conftest import load_script

from trace_recipe.generation import (
    GenerationOptions,
    cut_at_eos,
    generate_token_ids,
    length_sorted_batches,
    padded_prompt_length,
    resolve_backend,
)

PAD, EOS = 0, 1


@pytest.fixture(scope="module")
def tiny_llama():
    """A 2-layer random Llama over 64 ids; EOS is made the favourite after id 7 so that rows stop early."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=PAD,
        eos_token_id=EOS,
        bos_token_id=2,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # id 7's embedding points at EOS's output row: sequences that emit 7 soon end
        model.model.embed_tokens.weight[7] = 4 * model.lm_head.weight[EOS]
    return model


@pytest.fixture(scope="module")
def prompts() -> list[list[int]]:
    generator = torch.Generator().manual_seed(1)
    lengths = torch.randint(2, 18, (11,), generator=generator).tolist()
    rows = [torch.randint(3, 64, (n,), generator=generator).tolist() for n in lengths]
    rows[3] = rows[3][:-1] + [7]  # at least one row ends early
    return rows


def generate(model, prompts, **options) -> list[list[int]]:
    merged = {"max_new_tokens": 20, "batch_size": 4, "pad_to_multiple_of": 8} | options
    options = GenerationOptions(**merged)
    return generate_token_ids(model, prompts, pad_token_id=PAD, eos_token_ids={EOS}, options=options)


def test_static_path_matches_plain_eager(tiny_llama, prompts) -> None:
    """Greedy: the static-cache path (sorted, padded to one length, filler rows) equals unsorted eager generate."""
    plain = generate(tiny_llama, prompts, backend="eager", sort_by_length=False)
    assert generate(tiny_llama, prompts, backend="static") == plain
    assert generate(tiny_llama, prompts, backend="static", reuse_static_cache=False) == plain
    assert any(len(c) < 20 for c in plain), "some rows should stop at EOS"


def test_graph_path_matches_plain_eager(tiny_llama, prompts) -> None:
    """Greedy: our own static-cache loop (uncompiled here) equals unsorted eager generate, early stops included."""
    plain = generate(tiny_llama, prompts, backend="eager", sort_by_length=False)
    assert generate(tiny_llama, prompts, backend="graph") == plain
    assert generate(tiny_llama, prompts, backend="graph", batch_size=16) == plain  # one batch larger than the set


def test_prune_path_matches_plain_eager(tiny_llama, prompts) -> None:
    """Greedy: the loop that drops finished rows from the batch and its cache equals unsorted eager generate."""
    plain = generate(tiny_llama, prompts, backend="eager", sort_by_length=False)
    assert generate(tiny_llama, prompts, backend="prune") == plain
    assert generate(tiny_llama, prompts, backend="prune", batch_size=16) == plain  # rows end at different steps


def test_progress_bar_counts_every_completion(tiny_llama, prompts, capsys) -> None:
    """With a progress label, the prune backend draws a bar that ends at the number of prompts."""
    generate(tiny_llama, prompts, backend="prune", progress="evaluating")
    err = capsys.readouterr().err
    assert "evaluating: 100%" in err and f"{len(prompts)}/{len(prompts)}" in err


def test_graph_decoder_is_reused_across_calls(tiny_llama, prompts) -> None:
    """Greedy then sampling with the same shapes share one decoder (one compiled graph); freeing drops it."""
    from trace_recipe.generation import _DECODER_ATTRIBUTE, free_graph_decoder

    free_graph_decoder(tiny_llama)  # the model is shared with earlier tests
    generate(tiny_llama, prompts, backend="graph")
    (decoder,) = tiny_llama.__dict__[_DECODER_ATTRIBUTE].values()
    generate(tiny_llama, prompts, backend="graph", do_sample=True, seed=0)
    assert list(tiny_llama.__dict__[_DECODER_ATTRIBUTE].values()) == [decoder]
    free_graph_decoder(tiny_llama)
    assert _DECODER_ATTRIBUTE not in tiny_llama.__dict__


def test_two_shapes_keep_their_decoders_and_a_third_evicts_the_oldest(tiny_llama, prompts) -> None:
    """RL sampling and dev evaluation alternate between two shapes without rebuilding (recompiling) either
    decoder; a third shape frees the least recently used one."""
    from trace_recipe.generation import _DECODER_ATTRIBUTE, free_graph_decoder

    free_graph_decoder(tiny_llama)  # the model is shared with earlier tests
    generate(tiny_llama, prompts, backend="graph", batch_size=4)
    decoders = tiny_llama.__dict__[_DECODER_ATTRIBUTE]
    first = next(iter(decoders.values()))
    generate(tiny_llama, prompts, backend="graph", batch_size=2)
    generate(tiny_llama, prompts, backend="graph", batch_size=4)  # back to the first shape: the same decoder
    assert len(decoders) == 2 and list(decoders.values())[-1] is first
    generate(tiny_llama, prompts, backend="graph", batch_size=3)
    assert len(decoders) == 2 and first in decoders.values()  # the batch-2 decoder was the least recently used
    assert sorted(key[0] for key in decoders) == [3, 4]


def test_sorting_by_length_keeps_the_callers_order(tiny_llama, prompts) -> None:
    """Sorted batches come back in the input order, identical to one prompt at a time."""
    batched = generate(tiny_llama, prompts, backend="eager")
    one_by_one = [generate(tiny_llama, [p], backend="eager", batch_size=1)[0] for p in prompts[:4]]
    assert batched[:4] == one_by_one


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["static", "graph"])
def test_compiled_paths_match_eager(tiny_llama, prompts, backend: str) -> None:
    """torch.compile of the decoding step (forced on CPU here; on by default on CUDA) changes no greedy token."""
    plain = generate(tiny_llama, prompts[:6], backend="eager")
    assert generate(tiny_llama, prompts[:6], backend=backend, compile=True) == plain


@pytest.mark.slow
def test_a_second_decoder_shape_compiles_without_dynamic_shapes(tiny_llama, prompts) -> None:
    """RL samples at one shape, then evaluates at another in the same process: the second decoder compiles a graph
    for its own fixed shapes, not one with symbolic sizes (dynamo's automatic dynamic shapes: on an H100 the RL
    process's evaluation took 94.6 s with them, 11.5 s without, docs/results.md)."""
    records: list[str] = []
    handler = logging.Handler()  # torch's loggers do not propagate to the root logger, so caplog would see nothing
    handler.emit = lambda record: records.append(record.getMessage())
    shape_log = logging.getLogger("torch.fx.experimental.symbolic_shapes")  # traces and dynamic-size decisions
    level = shape_log.level
    shape_log.addHandler(handler)
    shape_log.setLevel(logging.INFO)
    torch._dynamo.reset()  # earlier tests' compilations would make the first shape here a recompile too
    try:
        plain = generate(tiny_llama, prompts[:8], backend="eager", batch_size=8, max_new_tokens=24)
        generate(tiny_llama, prompts[:4], backend="graph", compile=True, do_sample=True)
        evaluation = generate(tiny_llama, prompts[:8], backend="graph", compile=True, batch_size=8, max_new_tokens=24)
    finally:
        shape_log.removeHandler(handler)
        shape_log.setLevel(level)
    assert evaluation == plain
    assert sum("create_env" in message for message in records) >= 2, "both shapes should have been traced"
    assert not [message for message in records if "as dynamic" in message]


@pytest.mark.parametrize("backend", ["eager", "prune", "graph"])
def test_sampling_is_seeded(tiny_llama, prompts, backend: str) -> None:
    """Self-consistency samples are reproducible for a seed, and differ from the greedy completions."""
    sample = {"backend": backend, "do_sample": True, "temperature": 1.0, "seed": 3}
    first = generate(tiny_llama, prompts[:4], **sample)
    assert first == generate(tiny_llama, prompts[:4], **sample)
    assert first != generate(tiny_llama, prompts[:4], backend=backend)


def test_helpers() -> None:
    """EOS cuts the completion; batches are longest first; auto picks the graph loop on CUDA, prune elsewhere."""
    assert cut_at_eos([5, 6, EOS, PAD, PAD], {EOS}) == [5, 6]
    assert cut_at_eos([5, 6, EOS, PAD, PAD], {EOS}, keep_eos=True) == [5, 6, EOS]
    assert cut_at_eos([5, 6], {EOS}, keep_eos=True) == [5, 6]  # stopped by the token budget: nothing to keep
    assert length_sorted_batches([3, 9, 5, 1], 2) == [[1, 2], [0, 3]]
    assert resolve_backend("auto", "cpu") == "prune" and resolve_backend("auto", torch.device("cuda:0")) == "graph"
    with pytest.raises(ValueError, match="unknown generation backend"):
        resolve_backend("fast", "cpu")


@pytest.mark.parametrize("backend", ["eager", "prune", "static", "graph"])
def test_keep_eos_appends_the_ending_token_only(tiny_llama, prompts, backend: str) -> None:
    """keep_eos (RL) returns the same completions plus the EOS that ended them; budget-stopped rows are unchanged."""
    plain = generate(tiny_llama, prompts, backend=backend)
    kept = generate(tiny_llama, prompts, backend=backend, keep_eos=True)
    assert kept == [c + [EOS] if len(c) < 20 else c for c in plain]
    assert any(c[-1:] == [EOS] for c in kept)


def test_min_prompt_length_fixes_the_padded_shape(tiny_llama, prompts) -> None:
    """Prompt sets of different lengths pad to one shape given min_prompt_length (one compiled graph in RL), and
    the extra left padding changes no greedy token."""
    short, longest = [prompts[0][:3]], max(len(p) for p in prompts)
    options = GenerationOptions(pad_to_multiple_of=8, min_prompt_length=longest)
    assert padded_prompt_length(short, options) == padded_prompt_length(prompts, options) == 8 * -(-longest // 8)
    assert padded_prompt_length(short, GenerationOptions(pad_to_multiple_of=8)) == 8
    padded = generate(tiny_llama, short, backend="graph", min_prompt_length=longest)
    assert padded == generate(tiny_llama, short, backend="eager")


def test_auto_reports_the_backend_that_ran_after_a_fallback(tiny_llama, prompts, monkeypatch) -> None:
    """Under auto on a GPU a failing fast path falls back; `used_backends` names the one whose output came back."""
    from trace_recipe import generation

    def graph_fails(backend, *args):
        if backend == "graph":
            raise RuntimeError("compiler failure on this stack")
        return real_run_backend(backend, *args)

    real_run_backend = generation._run_backend
    monkeypatch.setattr(generation, "resolve_backend", lambda b, device: "graph" if b == "auto" else b)  # as on CUDA
    monkeypatch.setattr(generation, "_run_backend", graph_fails)
    used: list[str] = []
    options = GenerationOptions(max_new_tokens=20, batch_size=4, pad_to_multiple_of=8, backend="auto")
    out = generate_token_ids(tiny_llama, prompts, pad_token_id=PAD, eos_token_ids={EOS}, options=options,
                             used_backends=used)  # fmt: skip
    assert used == ["static"] and out == generate(tiny_llama, prompts, backend="eager")


def test_folded_grouped_query_attention_equals_repeated_kv_heads() -> None:
    """One query token, 4 query heads over 2 KV heads, a padding mask: folding the query heads into rows gives what
    transformers' sdpa (which copies each KV head per query head) gives; other shapes go to it unchanged."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    import trace_recipe.generation as generation

    generator = torch.Generator().manual_seed(0)
    module = torch.nn.Module()
    module.num_key_value_groups, module.is_causal = 2, True
    query = torch.randn(3, 4, 1, 8, generator=generator)
    key, value = torch.randn(2, 3, 2, 10, 8, generator=generator).unbind(0)
    mask = torch.ones(3, 1, 1, 10, dtype=torch.bool)
    mask[0, ..., :4] = False  # left padding of row 0
    folding = generation._sdpa_folding_grouped_queries(sdpa_attention_forward)
    expected, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.3)
    two_queries = (query.expand(3, 4, 2, 8), key, value, mask.expand(3, 1, 2, 10))  # a prefill: not folded
    with generation._folding_grouped_queries():
        folded, _ = folding(module, query, key, value, mask, scaling=0.3)
        prefill, _ = folding(module, *two_queries, scaling=0.3)
    assert folded.shape == expected.shape == (3, 1, 4, 8)
    torch.testing.assert_close(folded, expected)
    torch.testing.assert_close(prefill, sdpa_attention_forward(module, *two_queries, scaling=0.3)[0])
    # scale is honoured: a different scaling changes the result
    other, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=1.0)
    assert not torch.allclose(other, folded)


def test_graph_decoding_does_not_copy_kv_heads_per_query_head(tiny_llama, prompts, monkeypatch) -> None:
    """While the graph backend decodes, transformers' repeat_kv runs for the prefill only (2 layers x keys and values
    per batch), not at every decoding step as under plain generate; the tokens stay those of plain generate.
    transformers >= 5.2x packs grouped queries itself, but not under torch.compile (our decoding step on a GPU), so
    the test makes it see a compiling context."""
    import transformers.integrations.sdpa_attention as sdpa_attention

    if hasattr(sdpa_attention, "is_torchdynamo_compiling"):
        monkeypatch.setattr(sdpa_attention, "is_torchdynamo_compiling", lambda: True)
    calls = []
    original = sdpa_attention.repeat_kv
    monkeypatch.setattr(sdpa_attention, "repeat_kv", lambda x, n: calls.append(x.shape) or original(x, n))
    plain = generate(tiny_llama, prompts, backend="eager", sort_by_length=False)
    eager_calls = len(calls)
    calls.clear()
    assert generate(tiny_llama, prompts, backend="graph") == plain
    batches = len(length_sorted_batches([len(p) for p in prompts], 4))
    assert len(calls) == 2 * 2 * batches < eager_calls


@pytest.mark.parametrize("backend", ["eager", "static", "graph"])
def test_no_prompts_give_no_completions(tiny_llama, backend) -> None:
    """An empty share of prompts (a process given none of a small set) decodes to an empty list on every backend."""
    assert generate(tiny_llama, [], backend=backend, compile=False) == []


def test_generation_benchmark_ablates_the_fold_side_by_side(tiny_model_dir, tmp_path, monkeypatch) -> None:
    """`benchmarks/generation.py --ablate_fold` times the graph backend twice, with and without the grouped-query
    fold (seen from inside the decoding step), and both give plain generate's greedy tokens."""
    benchmark = load_script("benchmarks/generation.py")
    from trace_recipe import generation

    fold_seen = []
    original = generation._pick_tokens
    monkeypatch.setattr(
        generation, "_pick_tokens", lambda *a: fold_seen.append(generation._fold_grouped_queries) or original(*a)
    )
    flags = ["--model", str(tiny_model_dir), "--device", "cpu", "--dtype", "float32", "--num_prompts", "6"]
    flags += ["--batch_size", "4", "--max_new_tokens", "8", "--backends", "graph", "--ablate_fold", "--compile", "off"]
    summary = benchmark.main(flags + ["--output_json", str(tmp_path / "generation.json")])
    rows = summary["backends"]
    assert list(rows) == ["eager (plain generate)", "graph", "graph (no GQA fold)"]
    assert [row["identical"] for row in rows.values()] == [6, 6, 6]
    assert True in fold_seen and False in fold_seen
    assert fold_seen.index(False) > len(fold_seen) - 1 - fold_seen[::-1].index(True)  # the graph run first, then not
    assert generation._fold_grouped_queries is False
