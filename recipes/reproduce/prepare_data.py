"""Write the data sets of the GPU results (docs/results.md) into one folder, deterministically.

    python recipes/reproduce/prepare_data.py --out .gpu_data --gsm8k ../shared/data/gsm8k/train.jsonl

seed_train (250) / seed_eval (248): the seed-like distribution, 1-3 operations, same templates, disjoint questions.
ho_train / ho_eval: one template per expert held out of training; the eval set uses only those.
train1000, train2000: 1,000 and 2,000 seed-like examples (their eval set is seed_eval again: the eval stream depends
only on the seed).
long_eval: 248 examples of 5-8 operations; train1000_long: 1,000 of 1-8 operations, disjoint from both eval sets.
gsm8k_dev: the last 500 GSM-8K lines as they are (never trained on).
mix_gsm8k: train1000_long + GSM-8K lines 1-6973 converted to traces (not written separately: the folder travels to
the GPU host, where a call carries at most 64 MiB with the model and the wheels).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trace_solver.generate import generate_examples, generate_splits, write_jsonl
from trace_solver.gsm8k import convert_lines, split_lines

DEV_LINES = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".gpu_data")
    parser.add_argument("--gsm8k", default="../shared/data/gsm8k/train.jsonl")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train, seed_eval = generate_splits(250, 248, 0)
    write_jsonl(train, str(out / "seed_train.jsonl"))
    write_jsonl(seed_eval, str(out / "seed_eval.jsonl"))
    for size in (1000, 2000, 4000):
        larger_train, _ = generate_splits(size, 248, 0)
        write_jsonl(larger_train, str(out / f"train{size}.jsonl"))
    ho_train, ho_eval = generate_splits(250, 248, 0, holdout_templates=1)
    write_jsonl(ho_train, str(out / "ho_train.jsonl"))
    ho_train2000, _ = generate_splits(2000, 248, 0, holdout_templates=1)
    write_jsonl(ho_train2000, str(out / "ho_train2000.jsonl"))
    write_jsonl(ho_eval, str(out / "ho_eval.jsonl"))
    _, long_eval = generate_splits(10, 248, 0, min_steps=5, max_steps=8)
    write_jsonl(long_eval, str(out / "long_eval.jsonl"))
    held_out = {row["question"] for row in seed_eval + long_eval}
    train_long = generate_examples(1000, 7, min_steps=1, max_steps=8, exclude_questions=held_out)
    write_jsonl(train_long, str(out / "train1000_long.jsonl"))

    lines = Path(args.gsm8k).read_text(encoding="utf-8").split("\n")
    lines = [line for line in lines if line.strip()]
    (out / "gsm8k_dev.jsonl").write_text("\n".join(lines[-DEV_LINES:]) + "\n", encoding="utf-8")
    gsm8k_train, summary, _ = convert_lines(split_lines(lines, "train"), "train")
    print(f"gsm8k train conversion: {summary.converted}/{summary.attempted}")
    write_jsonl(train_long + gsm8k_train, str(out / "mix_gsm8k.jsonl"))
    for path in sorted(out.glob("*.jsonl")):
        print(f"{path.name}: {sum(1 for _ in path.open())} lines")


if __name__ == "__main__":
    main()
