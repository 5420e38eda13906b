"""Evaluate a trace model: batched greedy decoding, trace_solver execution, metrics and reports.

    python recipes/evaluate.py --model_name_or_path runs/sft --dataset_path data/heldout.jsonl --output_dir runs/eval
    accelerate launch recipes/evaluate.py --model_name_or_path runs/rl --dataset_path gsm8k/train.jsonl \
        --dataset_split dev --self_consistency 8 16 --batch_size 256
    python recipes/evaluate.py --config eval.yaml --backend eager        # YAML keys = the flags; flags override
    python recipes/evaluate.py --model_name_or_path runs/sft --eval_sets gsm8k_dev mawps_dev synthetic \
        synthetic_templates long_chains --gsm8k_path gsm8k/train.jsonl --mawps_path mawps-asdiv-a/train.csv

Datasets: our synthetic JSONL (`trace-solver generate`: question, expert, trace, answer) or GSM-8K-format JSONL
(`{"question", "answer": "...#### 18"}`; `--dataset_split dev` keeps the last 500 lines, our GSM-8K dev split); the
format is detected from the first line. Writes `<output_dir>/<name>.json` (metrics), `<name>_records.jsonl` (one
record per example), `<name>.md`, `<name>_per_expert.png`, and `<name>_training_curves.png` when the model folder
holds a `trainer_state.json`. `--eval_sets` (trace_recipe/eval_sets.py) evaluates each named set the same way, then
writes one table over them all to `<output_dir>/eval_sets.{md,json}` and prints it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EvalScriptArguments:
    """What to evaluate, on which data, and how to decode."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Model folder, .gguf file, hub id, or embedded:SmolLM2-135M-Instruct."}
    )
    dataset_path: str | None = field(default=None, metadata={"help": "Evaluation JSONL (synthetic or GSM-8K format)."})
    dataset_format: str = field(
        default="auto", metadata={"help": "auto (detect from the first line), trace, or gsm8k."}
    )
    dataset_split: str | None = field(
        default=None, metadata={"help": "GSM-8K format only: dev (the last 500 lines) or train (the rest)."}
    )
    eval_sets: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Named sets to evaluate in the same call, with --dataset_path if given: gsm8k_dev (needs "
            "--gsm8k_path), mawps_dev (needs --mawps_path), synthetic, synthetic_templates, long_chains "
            "(trace_recipe/eval_sets.py); one table goes to <output_dir>/eval_sets.{md,json}."
        },
    )
    gsm8k_path: str | None = field(
        default=None, metadata={"help": "GSM-8K train: a local .jsonl/.parquet file or the hub id openai/gsm8k."}
    )
    mawps_path: str | None = field(default=None, metadata={"help": "The MAWPS/ASDiv-A train.csv."})
    num_eval_examples: int = field(default=248, metadata={"help": "Size of each generated set (as the recipes)."})
    generator_seed: int = field(default=0, metadata={"help": "Seed of the generated sets (as the recipes)."})
    experts: list[str] | None = field(
        default=None, metadata={"help": "Experts of the generated sets (default: all, as the recipes)."}
    )
    min_trace_steps: int = field(default=1, metadata={"help": "Fewest operation steps in a generated question."})
    max_trace_steps: int = field(default=3, metadata={"help": "Most operation steps in a generated question."})
    max_examples: int | None = field(default=None, metadata={"help": "Evaluate only the first N rows."})
    output_dir: str | None = field(default=None, metadata={"help": "Report folder (default: <model folder>/eval)."})
    name: str | None = field(default=None, metadata={"help": "Report file stem (default: the dataset file's stem)."})
    batch_size: int = field(default=64, metadata={"help": "Prompts decoded together."})
    max_new_tokens: int = field(default=512, metadata={"help": "Token budget of one trace."})
    backend: str = field(
        default="auto",
        metadata={"help": "Generation backend: auto (graph on CUDA, prune on CPU), eager, static, graph, prune."},
    )
    self_consistency: list[int] = field(
        default_factory=list,
        metadata={
            "help": "Sample traces and vote on their executed values, for each k given (`8 16`: 16 samples are drawn "
            "once and k=8 votes over the first 8); reported with any-of-k (some sample correct)."
        },
    )
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature for self-consistency."})
    seed: int = field(default=0, metadata={"help": "Seed for sampling."})
    dtype: str = field(
        default="auto", metadata={"help": "auto (bfloat16 on a CUDA GPU, float32 on CPU), bfloat16, float16, float32."}
    )
    attn_implementation: str | None = field(default=None, metadata={"help": "e.g. sdpa, eager."})


def detect_format(path: str) -> str:
    """'gsm8k' when the first row's answer holds GSM-8K's '####' marker or there is no expert column, else 'trace'."""
    from trace_solver.jsonl import read_jsonl

    _, first = read_jsonl(path)[0]
    return "gsm8k" if "####" in str(first.get("answer", "")) or "expert" not in first else "trace"


def load_eval_dataset(path: str, dataset_format: str = "auto", split: str | None = None) -> Any:
    """Rows with `prompt` (chat messages), `answer` and `expert`, through the data module's loaders."""
    from trace_recipe import data

    fmt = detect_format(path) if dataset_format == "auto" else dataset_format
    if fmt == "gsm8k":
        return data.load_gsm8k_eval(path, split=split)
    if split is not None:
        raise ValueError("--dataset_split applies to GSM-8K-format files only")
    if fmt == "trace":
        return data.load_trace_dataset(path)
    raise ValueError(f"unknown dataset_format {dataset_format!r}: auto, trace or gsm8k")


def check_eval_inputs(args: EvalScriptArguments) -> None:
    """Refuse a missing dataset or model before anything loads."""
    from trace_recipe.errors import RecipeError
    from trace_recipe.eval_sets import check_eval_sets
    from trace_recipe.model import check_model_reference

    check_eval_sets(args.eval_sets, args.gsm8k_path, args.mawps_path)
    if not args.dataset_path and not args.eval_sets:
        raise RecipeError(
            "--dataset_path or --eval_sets is required: a synthetic or GSM-8K-format JSONL (a training run writes its "
            "held-out set to <output_dir>/eval.jsonl), or named sets such as --eval_sets synthetic long_chains"
        )
    if args.dataset_path and not os.path.isfile(args.dataset_path):
        raise RecipeError(
            f"--dataset_path {args.dataset_path}: file not found (a training run writes its held-out set to "
            "<output_dir>/eval.jsonl)"
        )
    from trace_recipe.generation import BACKENDS

    if args.backend not in BACKENDS:
        raise RecipeError(f"--backend {args.backend!r}: choose one of {', '.join(BACKENDS)}")
    if args.dataset_format not in ("auto", "trace", "gsm8k"):
        raise RecipeError(f"--dataset_format {args.dataset_format!r}: choose auto, trace or gsm8k")
    if args.dataset_split not in (None, "train", "dev"):
        raise RecipeError(f"--dataset_split {args.dataset_split!r}: choose dev (the last 500 lines) or train")
    if args.dataset_path:
        fmt = detect_format(args.dataset_path) if args.dataset_format == "auto" else args.dataset_format
        if args.dataset_split is not None and fmt != "gsm8k":  # also refuses an empty or malformed file, early
            raise RecipeError("--dataset_split applies to GSM-8K-format files only")
    check_model_reference(args.model_name_or_path)


def eval_jobs(args: EvalScriptArguments) -> list[tuple[str, Any, str]]:
    """(report name, dataset, label) for --dataset_path and each of --eval_sets, in that order."""
    from trace_recipe.eval_sets import load_eval_set_for

    jobs = []
    if args.dataset_path:
        stem = os.path.splitext(os.path.basename(args.dataset_path))[0]
        name = args.name or (f"{stem}_{args.dataset_split}" if args.dataset_split else stem)
        jobs.append(
            (name, load_eval_dataset(args.dataset_path, args.dataset_format, args.dataset_split), args.dataset_path)
        )
    for set_name in args.eval_sets:
        jobs.append((set_name, load_eval_set_for(set_name, args), set_name))
    if args.max_examples is not None:
        jobs = [(name, data.select(range(min(args.max_examples, len(data)))), label) for name, data, label in jobs]
    return jobs


def main(args: EvalScriptArguments) -> dict[str, Any]:
    """Evaluate; returns the metrics of the one set, or {name: metrics} when --eval_sets is given."""
    import torch
    from accelerate import PartialState

    from trace_recipe.configs import has_accelerator
    from trace_recipe.evaluation import run_evaluation, summary_line
    from trace_recipe.model import load_model_and_tokenizer, resolve_model_path
    from trace_recipe.nan_guards import unmask_empty_attention_rows
    from trace_recipe.plots import plot_training_curves

    unmask_empty_attention_rows()  # left-padded prompts: pad rows see no key, which CUDA SDPA can turn into NaN
    state = PartialState(cpu=not has_accelerator())  # cpu: ranks on a host without GPUs form a gloo group
    path = resolve_model_path(args.model_name_or_path)
    dtype = args.dtype
    if dtype == "auto":  # bf16 where it is fast; CPU bf16 matmuls are slow and gain nothing at this size
        dtype = "bfloat16" if state.device.type == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    model, tokenizer = load_model_and_tokenizer(path, dtype=dtype, attn_implementation=args.attn_implementation)
    model.to(state.device)
    output_dir = args.output_dir or (os.path.join(path, "eval") if os.path.isdir(path) else "eval")
    results: dict[str, dict[str, Any]] = {}
    for name, dataset, label in eval_jobs(args):
        results[name] = run_evaluation(
            model,
            tokenizer,
            dataset,
            output_dir=output_dir,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            self_consistency=args.self_consistency,
            temperature=args.temperature,
            name=name,
            backend=args.backend,
            seed=args.seed,
            header={"Model": str(args.model_name_or_path), "Dataset": label, "dtype": dtype},
        )
        if state.is_main_process:
            print(f"{name}: {summary_line(results[name])}")
            print(f"reports in {output_dir}/{name}.{{json,md}} and {name}_records.jsonl")
    if state.is_main_process:
        trainer_state = os.path.join(path, "trainer_state.json")
        if os.path.isfile(trainer_state):
            first = next(iter(results))
            plot_training_curves(trainer_state, os.path.join(output_dir, f"{first}_training_curves.png"))
        if args.eval_sets:
            from trace_recipe.eval_sets import write_table

            print(write_table(results, output_dir, {"Model": str(args.model_name_or_path), "dtype": dtype}), end="")
            print(f"table in {output_dir}/eval_sets.{{md,json}}")
    return results if args.eval_sets else next(iter(results.values()))


if __name__ == "__main__":
    from trace_recipe.script import RecipeParser, run_script

    run_script(main, RecipeParser((EvalScriptArguments,), own_types=(EvalScriptArguments,)), check=check_eval_inputs)
