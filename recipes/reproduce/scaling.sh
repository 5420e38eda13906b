#!/usr/bin/env bash
# Issue 6: both recipes on 1 GPU vs 2 GPUs (DDP, and FSDP as the sharded strategy), on a host with 2 GPUs.
#
#   python recipes/reproduce/prepare_data.py --out .gpu_data                   # on any machine, deterministic
#   bash recipes/reproduce/scaling.sh MODEL .gpu_data RESULTS_DIR [sft|rl|rl_tinyllama|all]  # MODEL: .gguf or folder
#
# sft: the SFT recipe (embedded model, 60 steps of 4 examples per GPU) on 1 GPU, 2 GPUs DDP, 2 GPUs FSDP; then
#      benchmarks/sft_throughput.py for a TinyLlama-shaped model the same three ways. Tokens/s from each run.
# rl:  the RL recipe (embedded model, 5 iterations of 4 prompts x 8 completions per GPU) the same three ways;
#      seconds per iteration: the median logged step_time after the first (which compiles the sampler).
# rl_tinyllama: the same for a TinyLlama-shaped model with random weights (recipes/reproduce/shaped_model.py; its
#      completions never stop early, so each of the 4 iterations decodes 256 tokens), last 6 layers + lm_head trained.
#      Every reward is 0 for such completions, so the iterations do all their work but learn nothing: timing only
#      (the trainable layers still move: Adam rescales even round-off-sized gradients to full steps).
# After every recipe run, recipes/reproduce/changed_weights.py checks that only the trainable layers and lm_head moved
# (the SmolLM2 recipe trains all 30 layers, so the frozen parts are the input embeddings and the final norm).
# Timeline, logs and JSON results go to RESULTS_DIR (runs.tar.gz); about 5 min per stage on 2 H100s.
set -uo pipefail
model_src=${1:?model} data=$(realpath "${2:?data dir}") results=$(realpath -m "${3:?results dir}") stage=${4:-all}
runs=${RUNS_DIR:-/tmp/trace-recipe-scaling}
source "$(dirname "$0")/lib.sh"  # $model, and snapshot, stamp, resolve_model

# launch NAME GPUS CONFIG SCRIPT [flags...]: one run under accelerate launch, then the frozen-weights check
launch() {
  local name=$1 gpus=$2 config=$3 script=$4; shift 4
  stamp "$name start"
  CUDA_VISIBLE_DEVICES=$gpus python3 -m accelerate.commands.launch --config_file "accelerate_configs/$config" \
    --num_processes "$(tr ',' '\n' <<< "$gpus" | wc -l)" "$script" "$@" > "$runs/$name.log" 2>&1
  stamp "$name done (rc $?)"
}
unfrozen=30  # num_unfrozen_layers of recipes/SmolLM2-135M-Instruct/{sft,rl}.yaml
check() {  # NAME [BASE_MODEL TRAINABLE_LAYERS]: which weights the run changed
  python3 recipes/reproduce/changed_weights.py "${2:-$model}" "$runs/$1" --num_unfrozen_layers "${3:-$unfrozen}" \
    > "$runs/$1.weights.txt" 2>&1
  stamp "$1 weights: $(tail -n 1 "$runs/$1.weights.txt")"
}

sft_stage() {
  local flags=(--config recipes/SmolLM2-135M-Instruct/sft.yaml --model_name_or_path "$model"
    --dataset_path "$data/train1000.jsonl" --max_steps 60 --per_device_train_batch_size 4 --logging_steps 10
    --save_strategy no --do_final_eval false --bf16 true --num_unfrozen_layers "$unfrozen")
  launch sft_1gpu 0 single_gpu.yaml recipes/sft.py "${flags[@]}" --output_dir "$runs/sft_1gpu"; check sft_1gpu
  launch sft_ddp2 0,1 ddp.yaml recipes/sft.py "${flags[@]}" --output_dir "$runs/sft_ddp2"; check sft_ddp2
  launch sft_fsdp2 0,1 fsdp.yaml recipes/sft.py "${flags[@]}" --output_dir "$runs/sft_fsdp2"; check sft_fsdp2
  snapshot
  local bench=(benchmarks/sft_throughput.py --shape tinyllama --num_unfrozen_layers 6 --batch_size 16 --seq_len 512
    --steps 20 --warmup_steps 5)
  launch tinyllama_1gpu 0 single_gpu.yaml "${bench[@]}" --output_json "$runs/tinyllama_1gpu.json"
  launch tinyllama_ddp2 0,1 ddp.yaml "${bench[@]}" --output_json "$runs/tinyllama_ddp2.json"
  launch tinyllama_fsdp2 0,1 fsdp.yaml "${bench[@]}" --output_json "$runs/tinyllama_fsdp2.json"
  snapshot
}

rl_stage() {
  local flags=(--config recipes/SmolLM2-135M-Instruct/rl.yaml --model_name_or_path "$model"
    --dataset_path "$data/seed_train.jsonl" --max_steps 5 --max_completion_length 256 --save_strategy no
    --do_final_eval false --bf16 true --num_unfrozen_layers "$unfrozen")
  launch rl_1gpu 0 single_gpu.yaml recipes/rl.py "${flags[@]}" --output_dir "$runs/rl_1gpu"; check rl_1gpu
  launch rl_ddp2 0,1 ddp.yaml recipes/rl.py "${flags[@]}" --output_dir "$runs/rl_ddp2"; check rl_ddp2
  launch rl_fsdp2 0,1 fsdp.yaml recipes/rl.py "${flags[@]}" --output_dir "$runs/rl_fsdp2"; check rl_fsdp2
  snapshot
}

rl_tinyllama_stage() {  # RL on a TinyLlama-shaped model (random weights, SmolLM2's tokenizer), the seed's 6 layers
  local tiny=$runs/tinyllama-shaped
  python3 recipes/reproduce/shaped_model.py tinyllama "$tiny" --tokenizer "$model" > "$runs/tinyllama-shaped.log" 2>&1
  stamp "tinyllama-shaped model written (rc $?)"
  local flags=(--config recipes/SmolLM2-135M-Instruct/rl.yaml --model_name_or_path "$tiny"
    --dataset_path "$data/seed_train.jsonl" --max_steps 4 --max_completion_length 256 --save_strategy no
    --do_final_eval false --bf16 true --num_unfrozen_layers 6)
  launch rl_tinyllama_1gpu 0 single_gpu.yaml recipes/rl.py "${flags[@]}" --output_dir "$runs/rl_tinyllama_1gpu"
  check rl_tinyllama_1gpu "$tiny" 6
  launch rl_tinyllama_ddp2 0,1 ddp.yaml recipes/rl.py "${flags[@]}" --output_dir "$runs/rl_tinyllama_ddp2"
  check rl_tinyllama_ddp2 "$tiny" 6
  launch rl_tinyllama_fsdp2 0,1 fsdp.yaml recipes/rl.py "${flags[@]}" --output_dir "$runs/rl_tinyllama_fsdp2"
  check rl_tinyllama_fsdp2 "$tiny" 6
  snapshot
}

case $stage in
  sft) sft_stage ;;
  rl) rl_stage ;;
  rl_tinyllama) rl_tinyllama_stage ;;
  all) sft_stage; rl_stage; rl_tinyllama_stage ;;
  *) echo "error: stage must be sft, rl, rl_tinyllama or all, not $stage" >&2; exit 2 ;;
esac
stamp "done"; snapshot
