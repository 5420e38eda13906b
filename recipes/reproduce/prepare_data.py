"""Write the data sets behind docs/results.md into one folder, deterministically (the same bytes on every run).

    python recipes/reproduce/prepare_data.py --out data
    python recipes/reproduce/prepare_data.py --out data --gsm8k gsm8k/train.jsonl   # also the GSM-8K sets

train250 / eval: 250 training examples of 1-3 operations and 248 held-out questions of the same templates (the
evaluation set the recipes generate for themselves with generator_seed 0).
train1000, train2000, train4000: larger training sets of the same distribution (evaluated on `eval` again: the
evaluation questions depend only on the generator seed).
holdout_train250, holdout_train2000 / holdout_eval: one template per expert held out of training; the evaluation set
uses only those templates.
long_eval: 248 questions of 5-8 operations; long_train1000: 1,000 examples of 1-8 operations, disjoint from both
evaluation sets.
With --gsm8k (the train split of the Hugging Face dataset openai/gsm8k as JSONL, one {"question", "answer"} a line):
gsm8k_dev, its last 500 lines as they are (never trained on), and mix_gsm8k, long_train1000 plus the other lines
converted to traces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trace_solver.generate import generate_examples, generate_splits
from trace_solver.gsm8k import convert_lines, split_lines
from trace_solver.jsonl import write_jsonl

DEV_LINES = 500
EVAL_SIZE = 248
GENERATOR_SEED = 0
LONG_TRAIN_SEED = 7


def write_synthetic(out: Path) -> list[dict]:
    """Write the generated sets into `out`; returns long_train1000's rows (the synthetic part of mix_gsm8k)."""
    train, heldout = generate_splits(250, EVAL_SIZE, GENERATOR_SEED)
    write_jsonl(train, out / "train250.jsonl")
    write_jsonl(heldout, out / "eval.jsonl")
    for size in (1000, 2000, 4000):
        larger_train, _ = generate_splits(size, EVAL_SIZE, GENERATOR_SEED)
        write_jsonl(larger_train, out / f"train{size}.jsonl")
    for size in (250, 2000):
        holdout_train, holdout_eval = generate_splits(size, EVAL_SIZE, GENERATOR_SEED, holdout_templates=1)
        write_jsonl(holdout_train, out / f"holdout_train{size}.jsonl")
    write_jsonl(holdout_eval, out / "holdout_eval.jsonl")
    _, long_eval = generate_splits(10, EVAL_SIZE, GENERATOR_SEED, min_steps=5, max_steps=8)
    write_jsonl(long_eval, out / "long_eval.jsonl")
    excluded = {row["question"] for row in heldout + long_eval}
    long_train = generate_examples(1000, LONG_TRAIN_SEED, min_steps=1, max_steps=8, exclude_questions=excluded)
    write_jsonl(long_train, out / "long_train1000.jsonl")
    return long_train


def write_gsm8k(gsm8k: Path, out: Path, long_train: list[dict]) -> None:
    """Write gsm8k_dev (the last lines, verbatim) and mix_gsm8k (long_train plus the other lines as traces)."""
    lines = [line for line in gsm8k.read_text(encoding="utf-8").split("\n") if line.strip()]
    (out / "gsm8k_dev.jsonl").write_text("\n".join(lines[-DEV_LINES:]) + "\n", encoding="utf-8")
    gsm8k_train, summary, _ = convert_lines(split_lines(lines, "train"), "train")
    print(f"gsm8k train conversion: {summary.converted}/{summary.attempted}")
    write_jsonl(long_train + gsm8k_train, out / "mix_gsm8k.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write the JSONL files into")
    parser.add_argument("--gsm8k", type=Path, help="GSM-8K train split as JSONL (without it: no GSM-8K sets)")
    args = parser.parse_args()
    if args.gsm8k is not None and not args.gsm8k.is_file():
        raise SystemExit(f"error: {args.gsm8k} is not a file; pass the GSM-8K train split as JSONL (openai/gsm8k)")
    args.out.mkdir(parents=True, exist_ok=True)
    long_train = write_synthetic(args.out)
    if args.gsm8k is not None:
        write_gsm8k(args.gsm8k, args.out, long_train)
    for path in sorted(args.out.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            print(f"{path.name}: {sum(1 for _ in handle)} lines")


if __name__ == "__main__":
    main()
