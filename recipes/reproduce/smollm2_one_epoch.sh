#!/usr/bin/env bash
# docs/results.md, "Learning rate", "Freezing", the one-epoch rows of "Data size and epochs" and "GSM-8K transfer":
# SFT for 1 epoch at batch 4 on 250 examples at four learning rates, with the TinyLlama experiment's 6-layer freezing,
# for 3 epochs, with held-out templates; on 1,000 examples (1-3 and 1-8 operations, then RL) and on 1,000 + 6,395
# converted GSM-8K problems; each 1,000-example model also on GSM-8K dev.
#
#   bash recipes/reproduce/smollm2_one_epoch.sh OUT_DIR [GSM8K_TRAIN_JSONL]
out=${1:?usage: smollm2_one_epoch.sh OUT_DIR [GSM8K_TRAIN_JSONL]} gsm8k=${2:-}
source "$(dirname "$0")/common.sh"

for lr in 2e-5 1e-4 3e-4 1e-3; do
  sft "sft_lr$lr" train250.jsonl --learning_rate "$lr" "${one_epoch[@]}"
done
sft sft_6layers train250.jsonl --learning_rate 3e-4 "${one_epoch[@]}" --num_unfrozen_layers 6
sft sft_3epochs train250.jsonl --learning_rate 3e-4 "${one_epoch[@]}" --num_train_epochs 3
sft sft_holdout_templates holdout_train250.jsonl --learning_rate 3e-4 "${one_epoch[@]}" \
  --eval_dataset_path "$data/holdout_eval.jsonl"
sft sft_1000 train1000.jsonl --learning_rate 3e-4 "${one_epoch[@]}"
rl rl_1000 sft_1000 train1000.jsonl
sft sft_1000_long long_train1000.jsonl --learning_rate 3e-4 "${one_epoch[@]}"
evaluate sft_1000_long long_eval.jsonl long_eval
if [ -n "$gsm8k" ]; then
  for run in sft_1000 rl_1000 sft_1000_long; do evaluate "$run" gsm8k_dev.jsonl gsm8k_dev; done
  sft sft_mix_gsm8k mix_gsm8k.jsonl --learning_rate 3e-4 "${one_epoch[@]}" --per_device_train_batch_size 16
  evaluate sft_mix_gsm8k gsm8k_dev.jsonl gsm8k_dev --self_consistency 8
fi
stamp done
