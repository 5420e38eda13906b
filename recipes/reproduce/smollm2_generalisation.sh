#!/usr/bin/env bash
# docs/results.md, "Data size and epochs" (the generalisation table) and the 2,000 x 3 row of "GSM-8K transfer": a
# 2,000 x 3 model evaluated on 5-8 operation chains, GSM-8K dev and the held-out set in bf16 and fp32, and the same
# training with one template per expert held out, evaluated on those templates.
#
#   bash recipes/reproduce/smollm2_generalisation.sh OUT_DIR [GSM8K_TRAIN_JSONL]
out=${1:?usage: smollm2_generalisation.sh OUT_DIR [GSM8K_TRAIN_JSONL]} gsm8k=${2:-}
source "$(dirname "$0")/common.sh"

default_2000x3=(--learning_rate 5e-4 --num_train_epochs 3 --per_device_train_batch_size 8)
sft sft_2000x3_lr5e-4 train2000.jsonl "${default_2000x3[@]}"
evaluate sft_2000x3_lr5e-4 long_eval.jsonl long_eval
evaluate sft_2000x3_lr5e-4 eval.jsonl eval_bf16 --dtype bfloat16
evaluate sft_2000x3_lr5e-4 eval.jsonl eval_fp32 --dtype float32
[ -n "$gsm8k" ] && evaluate sft_2000x3_lr5e-4 gsm8k_dev.jsonl gsm8k_dev --self_consistency 8
sft sft_2000x3_lr5e-4_holdout_templates holdout_train2000.jsonl "${default_2000x3[@]}" \
  --eval_dataset_path "$data/holdout_eval.jsonl"
stamp done
