#!/usr/bin/env bash
# docs/results.md, "Multi-GPU scaling" and the TinyLlama-shaped throughput: on a host with 2 GPUs, the SFT recipe
# (60 steps), SFT of a TinyLlama-shaped model (benchmarks/sft_throughput.py) and the RL recipe (5 iterations) on the
# SmolLM2 model and on a TinyLlama-shaped one (4 iterations), each on 1 GPU, 2 GPUs with DDP and 2 GPUs with FSDP2.
# After each recipe run changed_weights.py checks that only the trainable layers and lm_head moved.
#
#   bash recipes/reproduce/multi_gpu.sh OUT_DIR
out=${1:?usage: multi_gpu.sh OUT_DIR}
source "$(dirname "$0")/common.sh"

launch() {  # NAME GPUS CONFIG SCRIPT [flags...]
  local name=$1 gpus=$2 config=$3 script=$4; shift 4
  CUDA_VISIBLE_DEVICES=$gpus accelerate launch --config_file "accelerate_configs/$config" \
    --num_processes "$(tr ',' '\n' <<< "$gpus" | wc -l)" "$script" "$@" > "$runs/$name.log" 2>&1
  stamp "$name done"
}
check() {  # NAME BASE_MODEL TRAINABLE_LAYERS: which weights the run changed
  python recipes/reproduce/changed_weights.py "$2" "$runs/$1" --num_unfrozen_layers "$3" > "$runs/$1.weights.txt"
  stamp "$1 weights: $(tail -n 1 "$runs/$1.weights.txt")"
}
three_ways() {  # PREFIX SCRIPT BASE_MODEL TRAINABLE_LAYERS [flags...]: 1 GPU, DDP and FSDP2 on 2 GPUs
  local prefix=$1 script=$2 base=$3 layers=$4; shift 4
  local way
  for way in "1gpu 0 single_gpu.yaml" "ddp2 0,1 ddp.yaml" "fsdp2 0,1 fsdp.yaml"; do
    read -r name gpus config <<< "$way"
    launch "${prefix}_$name" "$gpus" "$config" "$script" "$@" --output_dir "$runs/${prefix}_$name"
    check "${prefix}_$name" "$base" "$layers"
  done
}

three_ways sft recipes/sft.py "$model" 30 --config recipes/SmolLM2-135M-Instruct/sft_synthetic.yaml --model_name_or_path "$model" \
  --dataset_path "$data/train1000.jsonl" --max_steps 60 --per_device_train_batch_size 4 --logging_steps 10 \
  --save_strategy no --do_final_eval false --bf16 true
bench=(benchmarks/sft_throughput.py --shape tinyllama --num_unfrozen_layers 6 --batch_size 16 --seq_len 512 --steps 20
  --warmup_steps 5)
launch sft_throughput_tinyllama_1gpu 0 single_gpu.yaml "${bench[@]}" --output_json "$runs/sft_throughput_tinyllama_1gpu.json"
launch sft_throughput_tinyllama_ddp2 0,1 ddp.yaml "${bench[@]}" --output_json "$runs/sft_throughput_tinyllama_ddp2.json"
launch sft_throughput_tinyllama_fsdp2 0,1 fsdp.yaml "${bench[@]}" --output_json "$runs/sft_throughput_tinyllama_fsdp2.json"

rl_flags=(--config recipes/SmolLM2-135M-Instruct/rl_synthetic.yaml --dataset_path "$data/train250.jsonl"
  --max_completion_length 256 --save_strategy no --do_final_eval false --bf16 true)
three_ways rl recipes/rl.py "$model" 30 "${rl_flags[@]}" --model_name_or_path "$model" --max_steps 5
# A TinyLlama-shaped model with random weights and SmolLM2's tokenizer: its completions never stop early, so every
# iteration decodes 256 tokens; every reward is 0, so it times the iterations without learning anything.
tiny=$runs/tinyllama-shaped
python recipes/reproduce/shaped_model.py tinyllama "$tiny" --tokenizer "$model" > "$runs/tinyllama-shaped.log" 2>&1
three_ways rl_tinyllama recipes/rl.py "$tiny" 6 "${rl_flags[@]}" --model_name_or_path "$tiny" --max_steps 4 \
  --num_unfrozen_layers 6
stamp done
