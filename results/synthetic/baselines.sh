#!/usr/bin/env bash
# The three synthetic baselines of the README, on the motion task with the recipe it had before
# the relational task became the default (SGD at 0.1): the same data, recipe and seed for
#   tiny + one temporal dot-product cell (at both insertion points), tiny alone, and
#   tiny2d (frame-order blind: per-frame features averaged over time).
# Each run's output is kept next to this script as <name>.txt; run folders go to RUNS
# (default runs/synthetic; each run folder is started afresh).
# Usage: bash results/synthetic/baselines.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/synthetic}
common=(--data synthetic --task motion --num-videos 1200 --frames 8 --size 32 --data-seed 0
        --epochs 6 --batch-size 16 --optimizer sgd --lr 0.1 --weight-decay 0.0001 --seed 0 --device cpu --threads 1
        --no-progress)
while read -r name args; do
  rm -rf "$runs/$name"
  # shellcheck disable=SC2086
  nas train $args "${common[@]}" --out "$runs/$name" | tee "results/synthetic/$name.txt"
done <<'RUNS'
tiny_temporal_dot --backbone tiny --cells results/synthetic/temporal_dot_product.json
tiny --backbone tiny
tiny2d --backbone tiny2d
RUNS
