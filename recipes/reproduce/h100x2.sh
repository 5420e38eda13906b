#!/usr/bin/env bash
# The GPU runs behind docs/results.md: one host with 2 H100s, independent runs side by side (one per GPU).
#
#   python recipes/reproduce/prepare_data.py --out .gpu_data          # on any machine, deterministic
#   bash recipes/reproduce/h100x2.sh MODEL .gpu_data RESULTS_DIR        # MODEL: the SmolLM2 .gguf, a folder or a hub id
#
# Every SFT uses recipes/SmolLM2-135M-Instruct/sft.yaml (all 30 layers trainable) at 3e-4, 1 epoch of batch 4 (lib.sh's
# sft) unless flags say otherwise; the CPU runs of 2026-11-26 (docs/results.md) chose those values.
# GPU 0: the seed pipeline, timed as one (SFT 250 examples -> eval -> 20 RLOO iterations -> eval), its GSM-8K dev
#        score, the SFT throughput of a TinyLlama-shaped model, RL from the 1,000-example SFT model, and the rest of
#        the learning-rate sweep (TRL's default 2e-5, 1e-3) and 3 epochs.
# GPU 1: the seed's freezing (6 layers) for comparison, the generation benchmarks on GPU 0's SFT model (greedy at
#        batch 256, RL-style sampling at batch 32), the seed's next steps (1,000 examples, 1-8 operation chains,
#        GSM-8K converted traces in the mix, each also scored on the GSM-8K dev split), learning rate 1e-4 and
#        held-out templates.
# Every finished stage refreshes RESULTS_DIR/runs.tar.gz (reports, logs, trainer states; no weights).
set -uo pipefail
model_src=${1:?model} data=$(realpath "${2:?data dir}") results=$(realpath -m "${3:?results dir}")
runs=${RUNS_DIR:-/tmp/trace-recipe-runs}
source "$(dirname "$0")/lib.sh"  # $model, and snapshot, stamp, resolve_model, sft, evaluate, rl

gpu0() {
  stamp "pipeline start"
  sft 0 sft "$data/seed_train.jsonl" 3e-4; snapshot
  rl 0 rl sft "$data/seed_train.jsonl"; stamp "pipeline done"; snapshot
  evaluate 0 rl "$data/gsm8k_dev.jsonl" gsm8k_dev; snapshot
  CUDA_VISIBLE_DEVICES=0 python3 benchmarks/sft_throughput.py --shape tinyllama --num_unfrozen_layers 6 \
    --batch_size 16 --seq_len 512 --output_json "$runs/sft_throughput_tinyllama.json" \
    > "$runs/sft_throughput_tinyllama.log" 2>&1
  stamp "sft throughput done (rc $?)"; snapshot
  for _ in $(seq 120); do [ -f "$runs/sft_1000/model.safetensors" ] && break; sleep 5; done  # made on GPU 1
  rl 0 rl_1000 sft_1000 "$data/train1000.jsonl"
  evaluate 0 rl_1000 "$data/gsm8k_dev.jsonl" gsm8k_dev; snapshot
  sft 0 sft_lr2e-5 "$data/seed_train.jsonl" 2e-5; snapshot  # TRL's default learning rate
  sft 0 sft_lr1e-3 "$data/seed_train.jsonl" 1e-3; snapshot
  sft 0 sft_3epochs "$data/seed_train.jsonl" 3e-4 --num_train_epochs 3; snapshot
}

generation_benchmarks() {  # on GPU 1, with GPU 0's SFT model once it exists (the base model otherwise)
  local bench_model=$model
  for _ in $(seq 60); do [ -f "$runs/sft/model.safetensors" ] && { bench_model=$runs/sft; break; }; sleep 5; done
  stamp "generation benchmarks start ($bench_model)"
  CUDA_VISIBLE_DEVICES=1 python3 benchmarks/generation.py --model "$bench_model" --backends graph,static,eager \
    --dataset_path "$data/seed_eval.jsonl" --num_prompts 256 --batch_size 256 --max_new_tokens 256 \
    --output_json "$runs/generation_benchmark.json" > "$runs/generation_benchmark.log" 2>&1
  CUDA_VISIBLE_DEVICES=1 python3 benchmarks/generation.py --model "$bench_model" --backends graph,static \
    --dataset_path "$data/seed_train.jsonl" --num_prompts 256 --batch_size 32 --max_new_tokens 256 \
    --temperature 1.0 --output_json "$runs/generation_benchmark_rl.json" > "$runs/generation_benchmark_rl.log" 2>&1
  stamp "generation benchmarks done (rc $?)"; snapshot
}

gpu1() {
  sft 1 sft_6layers "$data/seed_train.jsonl" 3e-4 --num_unfrozen_layers 6; snapshot  # the seed's freezing
  generation_benchmarks
  sft 1 sft_1000 "$data/train1000.jsonl" 3e-4
  evaluate 1 sft_1000 "$data/gsm8k_dev.jsonl" gsm8k_dev; snapshot
  sft 1 sft_lr1e-4 "$data/seed_train.jsonl" 1e-4; snapshot
  sft 1 sft_1000_long "$data/train1000_long.jsonl" 3e-4
  evaluate 1 sft_1000_long "$data/long_eval.jsonl" long_eval
  evaluate 1 sft_1000_long "$data/gsm8k_dev.jsonl" gsm8k_dev; snapshot
  sft 1 sft_heldout_templates "$data/ho_train.jsonl" 3e-4 --eval_dataset_path "$data/ho_eval.jsonl"; snapshot
  sft 1 sft_mix_gsm8k "$data/mix_gsm8k.jsonl" 3e-4 --per_device_train_batch_size 16
  evaluate 1 sft_mix_gsm8k "$data/gsm8k_dev.jsonl" gsm8k_dev --self_consistency 8; snapshot
  evaluate 1 sft_mix_gsm8k "$data/long_eval.jsonl" long_eval; snapshot
}

gpu0 & gpu1 & wait
stamp "all done"; snapshot
