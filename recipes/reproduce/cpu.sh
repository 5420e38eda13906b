#!/usr/bin/env bash
# docs/results.md, "On CPU (2 cores)": what makes SFT work on this model, without a GPU (most of a day on 2 cores).
# The first five runs are scored on the first 48 held-out questions (data/eval48.jsonl), the rest on all 248.
#
#   bash recipes/reproduce/cpu.sh OUT_DIR
out=${1:?usage: cpu.sh OUT_DIR}
source "$(dirname "$0")/common.sh"
head -n 48 "$data/eval.jsonl" > "$data/eval48.jsonl"

on48=(--eval_dataset_path "$data/eval48.jsonl" --per_device_eval_batch_size 48 --eval_max_new_tokens 256)
on248=(--per_device_eval_batch_size 62 --eval_max_new_tokens 256)
small=(--learning_rate 3e-4 "${one_epoch[@]}")
sft sft_6layers train250.jsonl "${small[@]}" "${on48[@]}" --num_unfrozen_layers 6
sft sft_6layers_tied_lm_head train250.jsonl "${small[@]}" "${on48[@]}" --num_unfrozen_layers 6 --untie_lm_head false
sft sft_3epochs train250.jsonl "${small[@]}" "${on48[@]}" --num_unfrozen_layers 6 --num_train_epochs 3
sft sft_all_layers_lr1e-4 train250.jsonl "${small[@]}" "${on48[@]}" --learning_rate 1e-4
sft sft_all_layers_lr3e-4 train250.jsonl "${small[@]}" "${on48[@]}"
sft sft_all_layers_1000 train1000.jsonl "${small[@]}" "${on248[@]}"
sft sft_all_layers_1000_3epochs train1000.jsonl "${small[@]}" "${on248[@]}" --num_train_epochs 3
rl rl_all_layers sft_all_layers_1000 train250.jsonl --per_device_eval_batch_size 62 --eval_max_new_tokens 256
stamp done
