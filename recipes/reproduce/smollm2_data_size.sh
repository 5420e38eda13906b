#!/usr/bin/env bash
# docs/results.md, "Smaller configurations of the same recipe": SFT on 1,000-4,000 examples for 3-5 epochs at
# learning rates 3e-4 and 5e-4, and 20 RLOO iterations after three of them. One run at a time on one GPU (the
# published runs shared a GPU two or three at a time, so their times are not speeds).
#
#   bash recipes/reproduce/smollm2_data_size.sh OUT_DIR
out=${1:?usage: smollm2_data_size.sh OUT_DIR}
source "$(dirname "$0")/common.sh"

batch8=(--per_device_train_batch_size 8)
sft sft_4000x5_lr5e-4 train4000.jsonl --learning_rate 5e-4 --num_train_epochs 5 "${batch8[@]}"
sft sft_4000x3_lr3e-4 train4000.jsonl --learning_rate 3e-4 --num_train_epochs 3 "${batch8[@]}"
sft sft_4000x3_lr5e-4 train4000.jsonl --learning_rate 5e-4 --num_train_epochs 3 "${batch8[@]}"
sft sft_2000x3_lr5e-4 train2000.jsonl --learning_rate 5e-4 --num_train_epochs 3 "${batch8[@]}"
rl rl_2000x3_lr5e-4 sft_2000x3_lr5e-4 train2000.jsonl
sft sft_2000x3_lr3e-4 train2000.jsonl --learning_rate 3e-4 --num_train_epochs 3 "${batch8[@]}"
rl rl_2000x3_lr3e-4 sft_2000x3_lr3e-4 train2000.jsonl
sft sft_1000x3_lr3e-4 train1000.jsonl --learning_rate 3e-4 --num_train_epochs 3 --per_device_train_batch_size 4
rl rl_1000x3_lr3e-4 sft_1000x3_lr3e-4 train1000.jsonl
stamp done
