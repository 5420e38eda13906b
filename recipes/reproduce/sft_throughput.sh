#!/usr/bin/env bash
# docs/results.md, "SFT throughput": benchmarks/sft_throughput.py on the SmolLM2 recipe, one GPU. Each lever alone on
# top of the settings before the speed work, then before vs the fast settings in one run; then the fast settings
# (batch 64, 1e-3) trained like the recipe (4,000 x 5 epochs) and evaluated on the held-out set and GSM-8K dev.
#
#   bash recipes/reproduce/sft_throughput.sh OUT_DIR GSM8K_TRAIN_JSONL
out=${1:?usage: sft_throughput.sh OUT_DIR GSM8K_TRAIN_JSONL}
gsm8k=${2:?usage: sft_throughput.sh OUT_DIR GSM8K_TRAIN_JSONL}
source "$(dirname "$0")/common.sh"
fast=docs/results/sft-throughput/accuracy_b64_lr1e-3/sft_b64.yaml   # sft.yaml with the fast trainer settings

python benchmarks/sft_throughput.py --config recipes/SmolLM2-135M-Instruct/sft.yaml --rows before,levers \
  --examples 768 --model_name_or_path "$model" --out "$out/levers.json" > "$out/levers.log" 2>&1
stamp "levers done"
python benchmarks/sft_throughput.py --config "$fast" --rows before,after --examples 1536 \
  --model_name_or_path "$model" --out "$out/before_after.json" > "$out/before_after.log" 2>&1
stamp "before/after done"
python recipes/sft.py --config "$fast" --model_name_or_path "$model" --output_dir "$runs/fast" --save_strategy no \
  --per_device_eval_batch_size 256 > "$runs/fast.log" 2>&1
python recipes/evaluate.py --model_name_or_path "$runs/fast" --dataset_path "$gsm8k" --dataset_split dev \
  --output_dir "$runs/fast" --name gsm8k_dev --batch_size 256 >> "$runs/fast.log" 2>&1
stamp "accuracy done"
