"""Generation speed: plain eager `model.generate` against the project's path, same prompts, one run.

    python benchmarks/generation.py                                   # embedded SmolLM2, GPU if there is one
    python benchmarks/generation.py --batch_size 256 --max_new_tokens 256 --num_prompts 512 --dtype bfloat16
    python benchmarks/generation.py --device cpu --dtype float32 --batch_size 8 --num_prompts 16 --max_new_tokens 64
    python benchmarks/generation.py --model folder_with_config_and_tokenizer --random_weights   # no weights needed
    python benchmarks/generation.py --batch_size 32 --num_prompts 256 --temperature 1.0          # RL's sampling

Each backend first runs one untimed warm-up batch (compilation and CUDA-graph capture happen there; its time is
printed as `first call`), then decodes all prompts, timed with the device synchronised. The baseline is what a user
writes without thinking about speed: `model.generate`, dynamic cache, prompts batched in their given order. Printed
per backend: new tokens/s, approximate ms per decoding step, speed-up over the baseline, and how many greedy
completions are identical to the baseline's (bf16 kernels that differ only in reduction order can flip a near-tied
argmax, so on GPU a handful of mismatches in hundreds is a numerics question, not a bug: the match count says).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from typing import Any
from unittest import mock


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="Model folder/.gguf/hub id (default: the embedded SmolLM2).")
    parser.add_argument("--dataset_path", default=None, help="JSONL with a `question` column (default: generated).")
    parser.add_argument("--num_prompts", type=int, default=256, help="Prompts decoded (questions are cycled).")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--max_new_tokens", type=int, default=256)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available).")
    parser.add_argument("--dtype", default=None, help="bfloat16/float16/float32 (default: bf16 on GPU, fp32 on CPU).")
    parser.add_argument(
        "--backends",
        default="graph,static",
        help="Backends timed against plain eager generate, comma-separated: graph (auto's GPU path), "
        "static, eager (sorted by length), auto.",
    )
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto", help="Compile the static step.")
    parser.add_argument(
        "--random_weights",
        action="store_true",
        help="Random weights of the model's shape: needs only its config and tokenizer files (speed is the same; "
        "completions then rarely stop early, so every step is timed).",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="Sample at this temperature, as RL does (every backend, baseline included); default greedy.",
    )
    parser.add_argument(
        "--ablate_fold",
        action="store_true",
        help="Also time the graph backend without its grouped-query fold (transformers' own attention, which copies "
        "the KV cache once per query head): what the fold is worth.",
    )
    parser.add_argument("--output_json", default=None, help="Also write the results here.")
    parser.add_argument(
        "--profile_dir",
        default=None,
        help="After timing, decode one batch per backend under torch.profiler and write its op table "
        "(self device time first) to DIR/<backend>.txt: where a decoding step's time goes.",
    )
    return parser.parse_args(argv)


def load_questions(path: str | None, n: int) -> list[str]:
    """Questions from a JSONL file, or generated synthetic ones (seeded, so every run decodes the same prompts)."""
    if path:
        from trace_solver.jsonl import read_jsonl

        questions = [row["question"] for _, row in read_jsonl(path, required=("question",))]
    else:
        from trace_solver.generate import generate_examples

        questions = [example["question"] for example in generate_examples(min(n, 500), 0)]
    return [questions[i % len(questions)] for i in range(n)]


def load_model(name_or_path: str | None, dtype: str, random_weights: bool) -> tuple[Any, Any, str]:
    """Model, tokenizer and folder. A folder loads with transformers alone (no trl/gguf needed, as on the GPU host);
    anything else (the embedded default, a .gguf, a hub id) goes through `trace_recipe.model.resolve_model_path`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    path = name_or_path
    if path is None or not os.path.isdir(path):
        from trace_recipe.model import resolve_model_path

        path = resolve_model_path(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if random_weights:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(path), dtype=getattr(torch, dtype))
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    return model, tokenizer, path


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def time_backend(model: Any, prompts: list[list[int]], options: Any, pad_id: int, eos_ids: set[int]) -> dict[str, Any]:
    """Warm up on one batch, then decode everything; tokens/s counts the new tokens before EOS."""
    from trace_recipe.generation import generate_token_ids, length_sorted_batches

    # Warm up on the longest prompts: the padded length, hence the compiled shapes, are those of the full run.
    warmup = sorted(prompts, key=len, reverse=True)[: options.batch_size]
    _sync(model.device)
    start = time.perf_counter()
    generate_token_ids(model, warmup, pad_token_id=pad_id, eos_token_ids=eos_ids, options=options)
    _sync(model.device)
    first_call = time.perf_counter() - start
    start = time.perf_counter()
    outputs = generate_token_ids(model, prompts, pad_token_id=pad_id, eos_token_ids=eos_ids, options=options)
    _sync(model.device)
    seconds = time.perf_counter() - start
    tokens = sum(len(o) for o in outputs)
    # Decoding steps: each batch runs until its longest completion ends (+1 for the EOS step, capped).
    batches = length_sorted_batches([len(p) for p in prompts], options.batch_size, options.sort_by_length)
    steps = sum(min(options.max_new_tokens, max(len(outputs[i]) for i in batch) + 1) for batch in batches)
    return {
        "first_call_s": first_call,
        "seconds": seconds,
        "new_tokens": tokens,
        "tokens_per_s": tokens / seconds,
        "steps": steps,
        "ms_per_step": 1000 * seconds / max(steps, 1),
        "outputs": outputs,
    }


def profile_backend(
    model: Any, prompts: list[list[int]], options: Any, pad_id: int, eos_ids: set[int], profile_dir: str, name: str
) -> None:
    """One batch (the longest prompts, as the warm-up) under torch.profiler; the op table goes to DIR/NAME.txt."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from trace_recipe.generation import generate_token_ids

    batch = sorted(prompts, key=len, reverse=True)[: options.batch_size]
    on_cuda = model.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    with profile(activities=activities) as prof:
        outputs = generate_token_ids(model, batch, pad_token_id=pad_id, eos_token_ids=eos_ids, options=options)
        _sync(model.device)
    averages = prof.key_averages()
    sort_by = "self_cuda_time_total" if on_cuda else "self_cpu_time_total"
    steps = min(options.max_new_tokens, max(len(o) for o in outputs) + 1)
    os.makedirs(profile_dir, exist_ok=True)
    path = os.path.join(profile_dir, f"{name}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"one batch of {len(batch)} prompts, {steps} decoding steps; torch {torch.__version__}\n")
        f.write(averages.table(sort_by=sort_by, row_limit=40, max_name_column_width=70) + "\n")
    print(f"profile: {path}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import torch

    from trace_recipe import generation
    from trace_recipe.generation import (
        GenerationOptions,
        eos_token_ids_of,
        free_graph_decoder,
        pad_token_id_of,
        render_prompts,
        resolve_backend,
    )
    from trace_solver import build_messages

    args = parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = args.dtype or ("bfloat16" if device.type == "cuda" else "float32")
    model, tokenizer, path = load_model(args.model, dtype, args.random_weights)
    model.to(device).eval()
    questions = load_questions(args.dataset_path, args.num_prompts)
    prompts = render_prompts(tokenizer, [build_messages(q) for q in questions])
    eos_ids = eos_token_ids_of(model, tokenizer)
    pad_id = pad_token_id_of(tokenizer, eos_ids)
    compile_flag = {"auto": None, "on": True, "off": False}[args.compile]
    lengths = sorted(len(p) for p in prompts)
    weights = " (random weights)" if args.random_weights else ""
    print(
        f"model {path}{weights} | {device} {dtype} | torch {torch.__version__} | {args.num_prompts} prompts "
        f"(length {lengths[0]}-{lengths[-1]}) | batch {args.batch_size} | max_new_tokens {args.max_new_tokens}"
    )
    runs: dict[str, dict[str, Any]] = {}
    sampling = {"do_sample": True, "temperature": args.temperature} if args.temperature is not None else {}
    baseline = GenerationOptions(
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        backend="eager",
        sort_by_length=False,
        **sampling,
    )

    def run(label: str, options: GenerationOptions, profile_name: str) -> None:
        runs[label] = time_backend(model, prompts, options, pad_id, eos_ids)
        if args.profile_dir:
            profile_backend(model, prompts, options, pad_id, eos_ids, args.profile_dir, profile_name)

    def project_options(backend: str) -> GenerationOptions:
        return GenerationOptions(
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            backend=backend,
            compile=compile_flag,
            **sampling,
        )

    run("eager (plain generate)", baseline, "baseline")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        label = f"{backend} -> {resolve_backend(backend, device)}" if backend == "auto" else backend
        try:
            run(label, project_options(backend), backend)
        except Exception as error:  # one failing backend must not hide the others' numbers
            print(f"{label}: FAILED {type(error).__name__}: {error}")
    if args.ablate_fold:
        free_graph_decoder(model)  # a fresh decoder, compiled without the fold
        with mock.patch.object(generation, "_folding_grouped_queries", contextlib.nullcontext):
            run("graph (no GQA fold)", project_options("graph"), "graph_no_fold")
    reference = runs["eager (plain generate)"]
    print(
        f"\n{'backend':<24}{'first call s':>13}{'time s':>9}{'new tok':>9}{'tok/s':>10}{'ms/step':>9}"
        f"{'speed-up':>9}  {'greedy identical' if not sampling else 'identical (sampling: not expected)'}"
    )
    summary: dict[str, Any] = {"device": str(device), "dtype": dtype, "args": vars(args), "backends": {}}
    for label, run in runs.items():
        same = sum(a == b for a, b in zip(run["outputs"], reference["outputs"]))
        speedup = run["tokens_per_s"] / reference["tokens_per_s"]
        print(
            f"{label:<24}{run['first_call_s']:>13.2f}{run['seconds']:>9.2f}{run['new_tokens']:>9}"
            f"{run['tokens_per_s']:>10.0f}{run['ms_per_step']:>9.1f}{speedup:>8.2f}x  {same}/{len(prompts)}"
        )
        summary["backends"][label] = {k: v for k, v in run.items() if k != "outputs"} | {
            "speedup": speedup,
            "identical": same,
        }
    if args.output_json:
        with open(args.output_json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    return summary


if __name__ == "__main__":
    main()
