"""SFT throughput of the recipe as it was and as it is, side by side in one run: real tokens/s, MFU, peak memory.

    python benchmarks/sft_throughput.py --config recipes/SmolLM2-135M-Instruct/sft.yaml --rows before,after
    python benchmarks/sft_throughput.py --rows before,levers,after --out throughput.json   # each lever alone too
    python benchmarks/sft_throughput.py --rows after --model_name_or_path tinyllama-shaped/ -- --num_unfrozen_layers 6

Every row is `recipes/sft.py` itself, in a fresh process, on the recipe's own data, with the row's flags on top of the
YAML (flags after `--` go to every row). A row trains `--examples` sequences (or `--steps` steps) after the warm-up and
reads the figures that `trace_recipe.throughput.ThroughputCallback` records in the run's `all_results.json`: real
(non-padding) tokens per second over all processes, MFU against the card's dense bf16 peak, peak GPU memory.

`before` is the recipe's trainer settings before the speed work (batch 8, fp32 matmuls outside bf16 autocast,
unfused AdamW, random batches padded to their longest row, cuDNN's attention kernels, no compilation); `after` is the
YAML as it is; `levers` adds one row per lever, each alone on top of `before`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from trace_recipe.throughput import WARMUP_STEPS

ROOT = Path(__file__).resolve().parents[1]

# The trainer settings of the recipe before the speed work; bf16 autocast was, and is, on by default on a GPU.
BEFORE = {
    "per_device_train_batch_size": "8",
    "gradient_accumulation_steps": "1",
    "learning_rate": "5e-4",
    "tf32": "false",
    "optim": "adamw_torch",
    "padding_free": "false",
    "pad_to_multiple_of": "null",
    "use_liger_kernel": "false",
    "torch_compile": "false",
    "dataloader_num_workers": "0",
    "group_by_length": "false",
    "cudnn_attention": "true",
}
LEVERS = {
    "tf32": {"tf32": "true"},
    "batch_64": {"per_device_train_batch_size": "64"},
    "group_by_length": {"per_device_train_batch_size": "64", "group_by_length": "true"},
    "padding_free": {"per_device_train_batch_size": "64", "padding_free": "true"},
    "fused_adamw": {"optim": "adamw_torch_fused"},
    "liger": {"use_liger_kernel": "true"},
    "torch_compile": {"torch_compile": "true", "pad_to_multiple_of": "64"},
    "dataloader_workers": {"dataloader_num_workers": "2"},
    "no_cudnn_attention": {"cudnn_attention": "false"},
}


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "recipes/SmolLM2-135M-Instruct/sft.yaml"))
    parser.add_argument(
        "--rows",
        default="before,after",
        help="comma list of: before, after, levers, a lever, or before/after with flags added after '+' "
        "(after+per_device_train_batch_size=128)",
    )
    parser.add_argument("--examples", type=int, default=8192, help="sequences timed per row (after warm-up)")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimizer steps timed per row (after warm-up), in place of --examples: every row gets as many steps "
        "whatever its batch size, so a small-batch row does not take most of the run",
    )
    parser.add_argument("--model_name_or_path", default=None, help="override the YAML's model")
    parser.add_argument("--out", default=None, help="write the summary JSON here")
    parser.add_argument("--workdir", default=None, help="where the rows' output folders go (default: a temp dir)")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    return parser.parse_args(argv), extra


def row_flags(names: str) -> dict[str, dict[str, str]]:
    """Row name -> flag overrides on top of the YAML."""
    rows: dict[str, dict[str, str]] = {}
    for name in filter(None, (part.strip() for part in names.split(","))):
        if "+" in name:  # before/after with flags of its own: after+per_device_train_batch_size=128+learning_rate=1e-3
            base, *overrides = name.split("+")
            if base not in ("before", "after") or not all("=" in item for item in overrides):
                raise SystemExit(f"error: row {name!r}: write before+flag=value or after+flag=value[+flag=value]")
            rows[name] = {**(BEFORE if base == "before" else {}), **dict(item.split("=", 1) for item in overrides)}
        elif name == "before":
            rows["before"] = dict(BEFORE)
        elif name == "after":
            rows["after"] = {}
        elif name == "levers":
            rows.update({lever: {**BEFORE, **flags} for lever, flags in LEVERS.items()})
        elif name in LEVERS:
            rows[name] = {**BEFORE, **LEVERS[name]}
        else:
            raise SystemExit(
                f"error: unknown row {name!r}: choose before, after, levers, one of {', '.join(LEVERS)}, or "
                "before/after+flag=value"
            )
    return rows


def effective_batch(config: dict, flags: dict[str, str], extra: list[str]) -> int:
    """Sequences per optimizer step of one process: the row's flags over the extra flags over the YAML."""

    def value(key: str, default: int) -> int:
        for source in (flags, dict(zip(extra[::2], extra[1::2]))):
            for k in (key, f"--{key}"):
                if k in source:
                    return int(source[k])
        return int(config.get(key, default))

    return value("per_device_train_batch_size", 8) * value("gradient_accumulation_steps", 1)


def run_row(name: str, flags: dict[str, str], args: argparse.Namespace, extra: list[str], workdir: Path) -> dict:
    config = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
    batch = effective_batch(config, flags, extra)
    timed_steps = args.steps if args.steps else math.ceil(args.examples / batch)
    steps = WARMUP_STEPS + timed_steps
    output_dir = workdir / name
    command = [sys.executable, str(ROOT / "recipes/sft.py"), "--config", args.config]
    if args.model_name_or_path:
        command += ["--model_name_or_path", args.model_name_or_path]
    for key, value in flags.items():
        command += [f"--{key}", value]
    command += extra
    command += ["--max_steps", str(steps), "--do_final_eval", "false", "--save_strategy", "no"]
    command += ["--logging_steps", str(steps), "--output_dir", str(output_dir), "--report_to", "none"]
    print(f"[{name}] {' '.join(command[1:])}", flush=True)
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    (workdir / f"{name}.log").write_text(completed.stdout + completed.stderr, encoding="utf-8")
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:]
        print(f"[{name}] failed (exit {completed.returncode}): {' '.join(tail)}", flush=True)
        return {"row": name, "flags": flags, "error": " ".join(tail)}
    results = json.loads((output_dir / "all_results.json").read_text(encoding="utf-8"))
    return {
        "row": name,
        "flags": flags,
        "steps": steps,
        "timed_sequences": timed_steps * batch,
        "tokens_per_second": results.get("train_real_tokens_per_second"),
        "mfu": results.get("train_mfu"),
        "peak_memory_gib": results.get("train_peak_memory_gib"),
        "train_runtime": results.get("train_runtime"),
        "train_loss": results.get("train_loss"),
    }


def hardware() -> dict[str, str]:
    import torch
    import transformers
    import trl

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({os.cpu_count()} cores)"
    return {
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
    }


def table(rows: list[dict]) -> str:
    base = next((row.get("tokens_per_second") for row in rows if row["row"] == "before"), None)
    lines = ["| row | tokens/s | vs before | MFU | peak memory (GiB) |", "|---|---|---|---|---|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['row']} | failed: {row['error'][:60]} | | | |")
            continue
        rate, mfu, memory = row["tokens_per_second"], row["mfu"], row["peak_memory_gib"]
        if rate is None:
            lines.append(f"| {row['row']} | not measured (too few steps after warm-up) | | | |")
            continue
        ratio = f"{rate / base:.2f}x" if base and rate else "-"
        lines.append(
            f"| {row['row']} | {rate:,.0f} | {ratio} | {f'{mfu:.1%}' if mfu is not None else '-'} | "
            f"{f'{memory:.1f}' if memory is not None else '-'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args, extra = parse_args(argv)
    rows = row_flags(args.rows)
    with tempfile.TemporaryDirectory(prefix="sft-throughput-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = [run_row(name, flags, args, extra, workdir) for name, flags in rows.items()]
    summary = {
        "command": " ".join(["python", "benchmarks/sft_throughput.py", *(argv if argv is not None else sys.argv[1:])]),
        "hardware": hardware(),
        "config": os.path.relpath(args.config, ROOT),
        "rows": results,
    }
    print(table(results))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


if __name__ == "__main__":
    main()
