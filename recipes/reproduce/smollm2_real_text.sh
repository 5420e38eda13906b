#!/usr/bin/env bash
# docs/results.md, "SmolLM2-135M-Instruct on real word problems": sft.yaml as written and with 4 numeric variants,
# side by side on one GPU; rl.yaml as written from the first; self-consistency of both models on GSM-8K dev; the
# failure analysis by category.
#
#   bash recipes/reproduce/smollm2_real_text.sh OUT_DIR
#
# Needs the recipes' data files in the repository: data/gsm8k/train.jsonl and data/mawps-asdiv-a/train.csv (where to
# get them: the header of recipes/SmolLM2-135M-Instruct/sft.yaml). Reports: OUT_DIR/runs/*/, OUT_DIR/failures.md.
out=${1:?usage: smollm2_real_text.sh OUT_DIR}
gsm8k=data/gsm8k/train.jsonl mawps=data/mawps-asdiv-a/train.csv
for file in "$gsm8k" "$mawps"; do
  [ -f "$file" ] || { echo "error: $file not found: see the header of recipes/SmolLM2-135M-Instruct/sft.yaml" >&2; exit 2; }
done
source "$(dirname "$0")/common.sh"
recipe=recipes/SmolLM2-135M-Instruct

sft_run() {  # NAME [flags...]: sft.yaml from the embedded model
  local name=$1; shift
  accelerate launch recipes/sft.py --config "$recipe/sft.yaml" --model_name_or_path "$model" --output_dir "$runs/$name" \
    "$@" > "$runs/$name.log" 2>&1
  stamp "$name done"
}
self_consistency() {  # RUN: greedy, SC@8 and SC@16 with any-of-k on GSM-8K dev
  python recipes/evaluate.py --model_name_or_path "$runs/$1" --eval_sets gsm8k_dev --gsm8k_path "$gsm8k" \
    --self_consistency 8 16 --batch_size 256 --output_dir "$runs/$1/self_consistency" > "$runs/$1.sc.log" 2>&1
  stamp "$1 self-consistency done"
}

sft_run sft &
sft_run sft_variants4 --num_variants 4 &
wait
self_consistency sft &
accelerate launch recipes/rl.py --config "$recipe/rl.yaml" --model_name_or_path "$runs/sft" --output_dir "$runs/rl" \
  > "$runs/rl.log" 2>&1
stamp "rl done"
self_consistency rl
wait
python -m trace_recipe.failures "$runs"/{sft,rl}/gsm8k_dev_records.jsonl "$runs"/{sft,rl}/mawps_dev_records.jsonl \
  --gsm8k_path "$gsm8k" --mawps_path "$mawps" --out "$out/failures.md" --json "$out/failures.json" > /dev/null
stamp done
