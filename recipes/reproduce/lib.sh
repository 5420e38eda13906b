# Shared start and helpers of the reproduce scripts (sourced, not run). The caller sets model_src, data, results and
# runs; sourcing creates the folders, starts the clock and resolves (converts once) the model into $model.
# Every run writes its log, reports and trainer state under $runs; `snapshot` packs them (no weights) into
# $results/runs.tar.gz, so whatever finished survives a run cut short.

snapshot() {
  local tmp="$results/.runs.$BASHPID.tmp"
  tar czf "$tmp" -C "$runs" --exclude='*.safetensors' --exclude='checkpoint-*' \
    --exclude='*.bin' --exclude='*.pt' --exclude='*.jsonl' . && mv "$tmp" "$results/runs.tar.gz"
}
stamp() { echo "[$(( $(date +%s) - start ))s] $*" | tee -a "$runs/timeline.txt"; }

# The model file, converted once, before two processes could race to do it.
resolve_model() {
  python3 -c "import sys; sys.path.insert(0, 'recipes')
from trace_recipe.model import resolve_model_path; print(resolve_model_path(sys.argv[1]))" "$1" | tail -n 1
}

# gpu name train_file learning_rate [flags...]: recipes/SmolLM2-135M-Instruct/sft.yaml at the seed's 1 epoch of batch 4
# (the recipe's own default is 5 epochs of batch 8 on 4,000 examples; flags after these win), evaluated on seed_eval.
# A caller may set the array `sft_wrapper` (e.g. a profiler command ending in --) to run the process under it.
sft_wrapper=()
sft() {
  local gpu=$1 name=$2 train=$3 lr=$4; shift 4
  stamp "sft $name start (gpu $gpu${sft_wrapper[*]:+, under ${sft_wrapper[0]}})"
  CUDA_VISIBLE_DEVICES=$gpu "${sft_wrapper[@]}" python3 recipes/sft.py --config recipes/SmolLM2-135M-Instruct/sft.yaml \
    --model_name_or_path "$model" --dataset_path "$train" --eval_dataset_path "$data/seed_eval.jsonl" \
    --learning_rate "$lr" --output_dir "$runs/$name" --save_strategy no --per_device_eval_batch_size 256 \
    --num_train_epochs 1 --per_device_train_batch_size 4 "$@" > "$runs/$name.log" 2>&1
  local rc=$?
  stamp "sft $name done (rc $rc)"
  return $rc
}

evaluate() {  # gpu model_dir dataset_file report_name [flags...]
  local gpu=$1 dir=$2 file=$3 name=$4; shift 4
  CUDA_VISIBLE_DEVICES=$gpu python3 recipes/evaluate.py --model_name_or_path "$runs/$dir" --dataset_path "$file" \
    --output_dir "$runs/$dir" --name "$name" --batch_size 256 "$@" >> "$runs/$dir.eval.log" 2>&1
  stamp "eval $dir/$name done (rc $?)"
}

rl() {  # gpu name sft_dir train_file [flags...]: 20 RLOO iterations (recipes/SmolLM2-135M-Instruct/rl.yaml)
  local gpu=$1 name=$2 from=$3 train=$4; shift 4
  stamp "rl $name start (gpu $gpu)"
  CUDA_VISIBLE_DEVICES=$gpu python3 recipes/rl.py --config recipes/SmolLM2-135M-Instruct/rl.yaml \
    --model_name_or_path "$runs/$from" --dataset_path "$train" --eval_dataset_path "$data/seed_eval.jsonl" \
    --output_dir "$runs/$name" --save_strategy no --per_device_eval_batch_size 256 --max_completion_length 256 \
    "$@" > "$runs/$name.log" 2>&1
  stamp "rl $name done (rc $?)"
}

mkdir -p "$results" "$runs"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
start=$(date +%s)
model=$(resolve_model "$model_src")
stamp "model ready: $model"
