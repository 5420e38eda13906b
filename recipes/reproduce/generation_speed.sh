#!/usr/bin/env bash
# docs/results.md, "Generation speed": benchmarks/generation.py in bf16 and fp32 (greedy, batch 256, with and without
# the grouped-query fold, op profiles in bf16) and RL-style sampling (batch 32, temperature 1.0), on one GPU.
#
#   bash recipes/reproduce/generation_speed.sh OUT_DIR [MODEL_DIR]
#
# MODEL_DIR: the model to decode with, e.g. OUT/runs/sft of small_pipeline.sh (the published "250 x 1 SFT model"
# rows); default the base model (the "base model" rows).
out=${1:?usage: generation_speed.sh OUT_DIR [MODEL_DIR]}
source "$(dirname "$0")/common.sh"
bench_model=${2:-$model}

bench() {  # NAME [flags...]
  local name=$1; shift
  python benchmarks/generation.py --model "$bench_model" --dataset_path "$data/eval.jsonl" --num_prompts 256 \
    --max_new_tokens 256 --output_json "$runs/$name.json" "$@" > "$runs/$name.log" 2>&1
  stamp "$name done"
}
bench generation_bf16 --batch_size 256 --dtype bfloat16 --backends graph,static --ablate_fold \
  --profile_dir "$runs/profiles_bf16"
bench generation_fp32 --batch_size 256 --dtype float32 --backends graph,static,eager --ablate_fold
bench generation_sampling --batch_size 32 --temperature 1.0 --backends graph,static \
  --dataset_path "$data/train250.jsonl"
stamp done
