#!/usr/bin/env bash
# The single-GPU runs behind docs/results.md (second to fourth GPU sessions of 2026-11-26): one H100 or H200.
#
#   python recipes/reproduce/prepare_data.py --out .gpu_data          # on any machine, deterministic
#   bash recipes/reproduce/one_gpu.sh MODEL .gpu_data RESULTS_DIR [speed|accuracy|default|aim|recipe|all]  # MODEL: .gguf, folder, hub id
#
# GPU=1 picks the GPU (default 0): on a 2-GPU host two stages can run side by side, each with its own RUNS_DIR.
# speed:
# 1. Alone on the GPU: the seed pipeline, timed as one (SFT 250 examples -> eval -> 20 RLOO iterations -> eval),
#    with the NaN guards of trace_recipe/numerics.py (the same pipeline diverged in the previous session).
#    Then the same RL run from the code before the graph step's `dynamic=False` (a copy of recipes/ with it removed),
#    from the compiler cache the pipeline's RL started with: its in-process evaluation recompiled with dynamic shapes.
# 2. Alone: the generation benchmark (bf16, batch 256, greedy) with an op profile per backend and TorchInductor's
#    perf hints (they name any CUDA-graph skip); 40 SFT steps with and without gradient checkpointing, the latter
#    (the recipe's setting) under py-spy when it is installed.
#    Then the generation benchmark in fp32 (greedy identity against plain generate, where bf16 cannot show it).
#    Both benchmarks also time the graph backend without its grouped-query fold (--ablate_fold).
# accuracy:
# 3. Side by side, for accuracy only (their timings share the GPU): SFT on 1,000 examples x 3 epochs, and on 2,000
#    examples x 3 epochs at batch 8 (learning rates 3e-4 and 5e-4), each followed by 20 RLOO iterations.
# default:
# 4. Side by side, for accuracy only: the SFT recipe's default then (2,000 examples x 3 epochs, batch 8, 5e-4) evaluated
#    beyond its held-out set: 5-8 operation chains, GSM-8K dev (greedy and self-consistency of 8), the held-out set
#    in bf16 and fp32 (evaluate.py's GPU default is bf16, in-training evaluation uses the fp32 model); the same
#    configuration with one template per expert held out of training (ho_train2000 -> ho_eval); and 4,000 examples.
# aim:
# 5. Side by side, for accuracy only, toward the aim of 98%: that 2,000 x 3 again (on an H100), 4,000 examples x 3
#    epochs at 3e-4, and 4,000 examples x 5 epochs at 5e-4.
# recipe:
# 6. Alone: the README's main job as written (`accelerate launch recipes/sft.py --config .../sft.yaml`, then rl.py
#    with rl.yaml), timed; GSM-8K dev on its SFT model (greedy and self-consistency of 8); the 4,000 x 5 run again
#    with another seed (--seed 43), for the run-to-run spread.
# Every finished stage refreshes RESULTS_DIR/runs.tar.gz (reports, logs, trainer states; no weights).
set -uo pipefail
model_src=${1:?model} data=$(realpath "${2:?data dir}") results=$(realpath -m "${3:?results dir}") stage=${4:-all}
gpu=${GPU:-0}
runs=${RUNS_DIR:-/tmp/trace-recipe-runs}
source "$(dirname "$0")/lib.sh"  # $model, and snapshot, stamp, resolve_model, sft, evaluate, rl

generation_benchmark() {  # name [flags...]: on the pipeline's SFT model, the 248 held-out questions cycled to 256
  local name=$1; shift
  CUDA_VISIBLE_DEVICES=$gpu TORCH_LOGS=perf_hints python3 benchmarks/generation.py --model "$runs/sft" --dataset_path "$data/seed_eval.jsonl" \
    --num_prompts 256 --batch_size 256 --max_new_tokens 256 --output_json "$runs/$name.json" "$@" \
    > "$runs/$name.log" 2>&1
  stamp "$name done (rc $?)"
}
rl_with_dynamic_shapes() {  # name: 20 RLOO iterations from the pipeline's SFT model, the graph step as it was
  local code=${runs}_code_dynamic_shapes
  rm -rf "$code" && mkdir -p "$code" && cp -r recipes "$code/"
  sed -i 's/, dynamic=False)/)/' "$code/recipes/trace_recipe/generation.py"
  if cmp -s recipes/trace_recipe/generation.py "$code/recipes/trace_recipe/generation.py"; then
    stamp "error: no dynamic=False to remove"; return
  fi
  rm -rf "${runs}_inductor_ab" && cp -r "${runs}_inductor_after_sft" "${runs}_inductor_ab"
  (cd "$code" && TORCHINDUCTOR_CACHE_DIR=${runs}_inductor_ab rl "$gpu" "$1" sft "$data/seed_train.jsonl")
}
speed_stage() {
  export TORCHINDUCTOR_CACHE_DIR=${runs}_inductor  # a known place, so the A/B run below can start from a copy
  rm -rf "$TORCHINDUCTOR_CACHE_DIR"
  stamp "pipeline start"
  sft "$gpu" sft "$data/seed_train.jsonl" 3e-4; snapshot
  cp -r "$TORCHINDUCTOR_CACHE_DIR" "${runs}_inductor_after_sft"
  rl "$gpu" rl sft "$data/seed_train.jsonl"; stamp "pipeline done"; snapshot
  rl_with_dynamic_shapes rl_dynamic_shapes; snapshot

  generation_benchmark generation_bf16 --dtype bfloat16 --backends graph,static --ablate_fold \
    --profile_dir "$runs/profiles_bf16"
  snapshot
  step_timing=(--max_steps 40 --logging_steps 10 --do_final_eval false)
  # py-spy samples Python stacks 100 times a second from outside the process (little overhead), if it can
  command -v py-spy > /dev/null && sft_wrapper=(py-spy record --rate 100 --format raw --output "$runs/sft_steps.pyspy.txt" --)
  sft "$gpu" sft_steps "$data/train1000.jsonl" 3e-4 "${step_timing[@]}" ||
    { [ ${#sft_wrapper[@]} -gt 0 ] && sft_wrapper=() && sft "$gpu" sft_steps "$data/train1000.jsonl" 3e-4 "${step_timing[@]}"; }
  sft_wrapper=()
  sft "$gpu" sft_steps_checkpointing "$data/train1000.jsonl" 3e-4 --gradient_checkpointing true "${step_timing[@]}"
  snapshot
  generation_benchmark generation_fp32 --dtype float32 --backends graph,static,eager --ablate_fold; snapshot
}

queue_a() {
  sft "$gpu" sft_1000_3ep "$data/train1000.jsonl" 3e-4 --num_train_epochs 3; snapshot
  rl "$gpu" rl_1000_3ep sft_1000_3ep "$data/train1000.jsonl"; snapshot
}
queue_b() {  # name learning_rate
  sft "$gpu" "sft_2000_3ep_$1" "$data/train2000.jsonl" "$2" --num_train_epochs 3 --per_device_train_batch_size 8; snapshot
  rl "$gpu" "rl_2000_3ep_$1" "sft_2000_3ep_$1" "$data/train2000.jsonl"; snapshot
}
accuracy_stage() {
  queue_a & queue_b lr3e-4 3e-4 & queue_b lr5e-4 5e-4 & wait
}

# With 5e-4 on 2,000 and 4,000 examples: sft.yaml's default until session 4, and its default since (lib.sh's sft()
# starts from the seed's 1 epoch of batch 4)
three_epochs_b8=(--num_train_epochs 3 --per_device_train_batch_size 8)
five_epochs_b8=(--num_train_epochs 5 --per_device_train_batch_size 8)
default_beyond_held_out() {
  sft "$gpu" sft_default "$data/train2000.jsonl" 5e-4 "${three_epochs_b8[@]}"; snapshot
  evaluate "$gpu" sft_default "$data/long_eval.jsonl" long_eval
  evaluate "$gpu" sft_default "$data/seed_eval.jsonl" seed_eval_bf16 --dtype bfloat16
  evaluate "$gpu" sft_default "$data/seed_eval.jsonl" seed_eval_fp32 --dtype float32; snapshot
  evaluate "$gpu" sft_default "$data/gsm8k_dev.jsonl" gsm8k_dev --self_consistency 8; snapshot
}
default_stage() {
  default_beyond_held_out &
  { sft "$gpu" sft_default_ho "$data/ho_train2000.jsonl" 5e-4 "${three_epochs_b8[@]}" \
      --eval_dataset_path "$data/ho_eval.jsonl"; snapshot; } &
  { sft "$gpu" sft_4000_3ep "$data/train4000.jsonl" 5e-4 "${three_epochs_b8[@]}"; snapshot; } &
  wait
}

aim_stage() {
  { sft "$gpu" sft_default_h100 "$data/train2000.jsonl" 5e-4 "${three_epochs_b8[@]}"; snapshot; } &
  { sft "$gpu" sft_4000_3ep_lr3e-4 "$data/train4000.jsonl" 3e-4 "${three_epochs_b8[@]}"; snapshot; } &
  { sft "$gpu" sft_4000_5ep "$data/train4000.jsonl" 5e-4 "${five_epochs_b8[@]}"; snapshot; } &
  wait
}

recipe_stage() {  # the README's commands as they are (only the model file and output folders given), alone on the GPU
  local name from=$model  # SFT starts from the model file, RL from SFT's output
  for name in sft rl; do
    stamp "recipe $name start (gpu $gpu)"
    CUDA_VISIBLE_DEVICES=$gpu accelerate launch "recipes/$name.py" --config "recipes/SmolLM2-135M-Instruct/$name.yaml" \
      --model_name_or_path "$from" --output_dir "$runs/recipe_$name" > "$runs/recipe_$name.log" 2>&1
    stamp "recipe $name done (rc $?)"; snapshot
    from=$runs/recipe_sft
  done
  evaluate "$gpu" recipe_sft "$data/gsm8k_dev.jsonl" gsm8k_dev --self_consistency 8; snapshot
  sft "$gpu" sft_4000_5ep_seed43 "$data/train4000.jsonl" 5e-4 "${five_epochs_b8[@]}" --seed 43
  snapshot
}

case $stage in
  speed) speed_stage ;;
  accuracy) accuracy_stage ;;
  default) default_stage ;;
  aim) aim_stage ;;
  recipe) recipe_stage ;;
  all) speed_stage; accuracy_stage; default_stage; aim_stage; recipe_stage ;;
  *) echo "error: stage must be speed, accuracy, default, aim, recipe or all, not $stage" >&2; exit 2 ;;
esac
stamp "done"; snapshot
