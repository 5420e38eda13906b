# Shared start of the reproduce scripts (sourced, not run). The caller sets `out` (the output folder) and, for the
# GSM-8K rows, `gsm8k` (GSM-8K's train split as JSONL). Sourcing makes $out/data with prepare_data.py (deterministic),
# resolves the model once into $model (MODEL, default the embedded SmolLM2-135M-Instruct; converted once, before
# parallel processes could race to do it) and starts $out/timeline.txt. Needs `pip install -e ".[train]"`.
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$out/runs"
out=$(realpath "$out")
data=$out/data
runs=$out/runs
start=$(date +%s)

stamp() { echo "[$(( $(date +%s) - start ))s] $*" | tee -a "$out/timeline.txt"; }

python recipes/reproduce/prepare_data.py --out "$data" ${gsm8k:+--gsm8k "$gsm8k"} > "$out/prepare_data.log"
model=$(python -c "import sys; from trace_recipe.model import resolve_model_path; print(resolve_model_path(sys.argv[1]))" \
  "${MODEL:-embedded:SmolLM2-135M-Instruct}" | tail -n 1)
stamp "data and model ready: $model"

# sft NAME TRAIN_FILE [flags...]: recipes/SmolLM2-135M-Instruct/sft_synthetic.yaml on a prepared file, evaluated on data/eval.jsonl;
# flags after these win (the recipe's own default is 4,000 examples x 5 epochs of batch 8 at 5e-4).
sft() {
  local name=$1 train=$2; shift 2
  stamp "sft $name start"
  python recipes/sft.py --config recipes/SmolLM2-135M-Instruct/sft_synthetic.yaml --model_name_or_path "$model" \
    --dataset_path "$data/$train" --eval_dataset_path "$data/eval.jsonl" --output_dir "$runs/$name" \
    --save_strategy no --per_device_eval_batch_size 256 "$@" > "$runs/$name.log" 2>&1
  stamp "sft $name done"
}

# rl NAME SFT_NAME TRAIN_FILE [flags...]: 20 RLOO iterations (recipes/SmolLM2-135M-Instruct/rl_synthetic.yaml) from an SFT run
rl() {
  local name=$1 from=$2 train=$3; shift 3
  stamp "rl $name start"
  python recipes/rl.py --config recipes/SmolLM2-135M-Instruct/rl_synthetic.yaml --model_name_or_path "$runs/$from" \
    --dataset_path "$data/$train" --eval_dataset_path "$data/eval.jsonl" --output_dir "$runs/$name" \
    --save_strategy no --per_device_eval_batch_size 256 --max_completion_length 256 "$@" > "$runs/$name.log" 2>&1
  stamp "rl $name done"
}

# evaluate RUN DATA_FILE REPORT_NAME [flags...]: recipes/evaluate.py on a run's model; reports beside it
evaluate() {
  local run=$1 file=$2 name=$3; shift 3
  python recipes/evaluate.py --model_name_or_path "$runs/$run" --dataset_path "$data/$file" --output_dir "$runs/$run" \
    --name "$name" --batch_size 256 "$@" >> "$runs/$run.eval.log" 2>&1
  stamp "evaluate $run/$name done"
}

# Batch-4, one-epoch and batch-8 settings of the tables
one_epoch=(--num_train_epochs 1 --per_device_train_batch_size 4)
