#!/usr/bin/env bash
# docs/results.md, "SmolLM2-135M-Instruct on synthetic traces" (first table): the recipe as the README runs it, SFT
# then RL, each alone on one GPU and timed; the same SFT with another training seed; the SFT model on GSM-8K dev.
#
#   bash recipes/reproduce/smollm2_recipe.sh OUT_DIR [GSM8K_TRAIN_JSONL]
#
# GSM8K_TRAIN_JSONL: GSM-8K's train split (the hub dataset openai/gsm8k) as JSONL; without it the GSM-8K row is skipped.
# MODEL=... picks another starting model (default: the embedded SmolLM2-135M-Instruct). Reports: OUT_DIR/runs/*/.
out=${1:?usage: smollm2_recipe.sh OUT_DIR [GSM8K_TRAIN_JSONL]} gsm8k=${2:-}
source "$(dirname "$0")/common.sh"

for stage in sft rl; do
  from=$model; [ "$stage" = rl ] && from=$runs/sft
  stamp "recipe $stage start"
  accelerate launch "recipes/$stage.py" --config "recipes/SmolLM2-135M-Instruct/${stage}_synthetic.yaml" \
    --model_name_or_path "$from" --output_dir "$runs/$stage" > "$runs/$stage.log" 2>&1
  stamp "recipe $stage done"
done
[ -n "$gsm8k" ] && evaluate sft gsm8k_dev.jsonl gsm8k_dev --self_consistency 8
# data/train4000.jsonl is byte-identical to the 4,000 examples sft_synthetic.yaml generates for itself
sft sft_seed43 train4000.jsonl --seed 43
stamp done
