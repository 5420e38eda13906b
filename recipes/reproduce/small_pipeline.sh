#!/usr/bin/env bash
# docs/results.md, "The small pipeline, timed" and the 250 x 1 row of the smaller configurations: SFT on 250 examples
# for 1 epoch at batch 4, evaluation, 20 RLOO iterations, evaluation, alone on one GPU, from an empty compiler cache.
# The wall clock is the time between "sft sft start" and "rl rl done" in OUT_DIR/timeline.txt.
#
#   bash recipes/reproduce/small_pipeline.sh OUT_DIR
out=${1:?usage: small_pipeline.sh OUT_DIR}
source "$(dirname "$0")/common.sh"

export TORCHINDUCTOR_CACHE_DIR=$out/inductor_cache
rm -rf "$TORCHINDUCTOR_CACHE_DIR"
sft sft train250.jsonl --learning_rate 3e-4 "${one_epoch[@]}"
rl rl sft train250.jsonl
stamp done
