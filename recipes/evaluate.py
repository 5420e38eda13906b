"""Evaluate a trace model: batched greedy decoding, trace_solver execution, the seed's metrics and reports.

    python recipes/evaluate.py --model_name_or_path runs/sft --dataset_path data/heldout.jsonl --output_dir runs/eval
    accelerate launch recipes/evaluate.py --model_name_or_path runs/rl --dataset_path gsm8k/train.jsonl \
        --dataset_split dev --self_consistency 8 --batch_size 256
    python recipes/evaluate.py --config eval.yaml --backend eager        # YAML keys = the flags; flags override

Datasets: our synthetic JSONL (`trace-solver generate`: question, expert, trace, answer) or GSM-8K-format JSONL
(`{"question", "answer": "...#### 18"}`; `--dataset_split dev` keeps the last 500 lines, our GSM-8K dev split); the
format is detected from the first line. Writes `<output_dir>/<name>.json` (metrics), `<name>_records.jsonl` (one
record per example), `<name>.md`, `<name>_per_expert.png`, and `<name>_training_curves.png` when the model folder
holds a `trainer_state.json`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from trl import TrlParser


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
    max_examples: int | None = field(default=None, metadata={"help": "Evaluate only the first N rows."})
    output_dir: str | None = field(default=None, metadata={"help": "Report folder (default: <model folder>/eval)."})
    name: str | None = field(default=None, metadata={"help": "Report file stem (default: the dataset file's stem)."})
    batch_size: int = field(default=64, metadata={"help": "Prompts decoded together."})
    max_new_tokens: int = field(default=512, metadata={"help": "Token budget of one trace."})
    backend: str = field(default="auto", metadata={"help": "Generation backend: auto, eager, static, graph."})
    self_consistency: int = field(default=0, metadata={"help": "k > 0: also sample k traces and majority-vote."})
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


def main(args: EvalScriptArguments) -> dict[str, Any]:
    import torch
    from accelerate import PartialState

    from trace_recipe.configs import has_accelerator
    from trace_recipe.evaluation import run_evaluation, summary_line
    from trace_recipe.model import load_model_and_tokenizer, resolve_model_path
    from trace_recipe.nan_guards import unmask_empty_attention_rows
    from trace_recipe.plots import plot_training_curves

    if not args.dataset_path:
        raise SystemExit("evaluate.py: --dataset_path is required (a synthetic or GSM-8K-format JSONL)")
    unmask_empty_attention_rows()  # left-padded prompts: pad rows see no key, which CUDA SDPA can turn into NaN
    state = PartialState(cpu=not has_accelerator())  # cpu: ranks on a host without GPUs form a gloo group
    path = resolve_model_path(args.model_name_or_path)
    dtype = args.dtype
    if dtype == "auto":  # bf16 where it is fast; CPU bf16 matmuls are slow and gain nothing at this size
        dtype = "bfloat16" if state.device.type == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    model, tokenizer = load_model_and_tokenizer(path, dtype=dtype, attn_implementation=args.attn_implementation)
    model.to(state.device)
    dataset = load_eval_dataset(args.dataset_path, args.dataset_format, args.dataset_split)
    if args.max_examples is not None:
        dataset = dataset.select(range(min(args.max_examples, len(dataset))))
    stem = os.path.splitext(os.path.basename(args.dataset_path))[0]
    name = args.name or (f"{stem}_{args.dataset_split}" if args.dataset_split else stem)
    output_dir = args.output_dir or (os.path.join(path, "eval") if os.path.isdir(path) else "eval")
    metrics = run_evaluation(
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
        header={"Model": str(args.model_name_or_path), "Dataset": args.dataset_path, "dtype": dtype},
    )
    if state.is_main_process:
        trainer_state = os.path.join(path, "trainer_state.json")
        if os.path.isfile(trainer_state):
            plot_training_curves(trainer_state, os.path.join(output_dir, f"{name}_training_curves.png"))
        print(summary_line(metrics))
        print(f"reports in {output_dir}/{name}.{{json,md}} and {name}_records.jsonl")
    return metrics


if __name__ == "__main__":
    from trace_recipe.pipeline import run_script

    run_script(main, TrlParser((EvalScriptArguments,)))
