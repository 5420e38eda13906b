#!/usr/bin/env bash
# docs/results.md, "SFT throughput": benchmarks/sft_throughput.py, one GPU. Each lever alone on top of the settings
# before the speed work (on the synthetic recipe); then, in one run on sft.yaml, the settings before the speed work,
# the recipe as written and the recipe at batch 128; then the synthetic recipe trained at the fast settings (batch 64,
# 2e-3, 3% warm-up; 4,000 x 5 epochs) and evaluated on the held-out set and GSM-8K dev.
#
#   bash recipes/reproduce/sft_throughput.sh OUT_DIR
#
# Needs sft.yaml's data files in the repository (data/gsm8k/train.jsonl, data/mawps-asdiv-a/train.csv).
out=${1:?usage: sft_throughput.sh OUT_DIR}
source "$(dirname "$0")/common.sh"
recipe=recipes/SmolLM2-135M-Instruct

python benchmarks/sft_throughput.py --config "$recipe/sft_synthetic.yaml" --rows before,levers \
  --examples 768 --model_name_or_path "$model" --out "$out/levers.json" > "$out/levers.log" 2>&1
stamp "levers done"
python benchmarks/sft_throughput.py --config "$recipe/sft.yaml" --rows before,after,after+per_device_train_batch_size=128 \
  --steps 50 --model_name_or_path "$model" --out "$out/before_after.json" > "$out/before_after.log" 2>&1
stamp "before/after done"
accelerate launch recipes/sft.py --config "$recipe/sft_synthetic.yaml" --model_name_or_path "$model" \
  --output_dir "$runs/fast" --per_device_train_batch_size 64 --group_by_length true --optim adamw_torch_fused \
  --learning_rate 2e-3 --warmup_steps 0.03 --per_device_eval_batch_size 256 --eval_sets synthetic gsm8k_dev \
  --gsm8k_path data/gsm8k/train.jsonl > "$runs/fast.log" 2>&1
stamp "accuracy done"
