#!/usr/bin/env bash
# The searches behind results/search/ and the comparison behind results/compare/, on the
# default proxy (the `train` objective's defaults: the relational synthetic task, 1800 videos of
# 4 frames of 32x32, the tiny backbone, 8 epochs of AdamW, scored by the search-val top-1
# averaged over the epochs; results/signal.md measures how much of a score the cell explains):
#   gpb     GP bandit over search_spaces/attentionnas_gpb.yaml, 20 training trials
#   random  random search over the same space, the same 20-trial budget and trial recipe
#   sg1     differentiable search with supergraphs/sg1.yaml (a cell per insertion point)
# then `nas compare`: tiny alone, +non-local, +the GP-bandit cell, +the SG-1 cells, 3 seeds,
# trained with the search trials' recipe (results/compare/).
# Searches run one trial at a time (--workers 1) so that a rerun gives the same trials and
# values on this machine; two jobs run side by side, one CPU thread each.
# Run folders go to RUNS (default runs/results; started afresh).
# Usage: bash results/search/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/results}
out=results/search
rm -rf "$runs"
mkdir -p "$runs"

search() {  # NAME CONTROLLER
  nas search gpb --space search_spaces/attentionnas_gpb.yaml --controller "$2" --trials 20 --workers 1 \
    --seed 0 --out "$runs/$1" > "$runs/$1.txt"
  mkdir -p "$out/$1"
  cp "$runs/$1/best_genotype.json" "$runs/$1/best_cell.png" "$runs/$1/trials.log" "$out/$1/"
  nas viz --run "$runs/$1" --plot trials -o "$out/$1/trials.png" > /dev/null
  nas viz --run "$runs/$1" --plot pareto -o "$out/$1/pareto.png" > /dev/null
}

supergraph() {
  nas search diff --supergraph supergraphs/sg1.yaml --preset quick --num-videos 1800 --epochs 8 \
    --seed 0 --no-progress --out "$runs/sg1" > "$runs/sg1.txt"
  mkdir -p "$out/sg1"
  cp "$runs/sg1/best_genotype.json" "$runs/sg1/best_cell.png" "$runs/sg1.txt" "$out/sg1/"
  nas viz --run "$runs/sg1" -o "$out/sg1/weights.png" > /dev/null
}

compare() {  # NAME: the search trials' recipe (the defaults)
  nas compare --backbone tiny --cells gpb="$out/gpb/best_genotype.json" --cells sg1="$out/sg1/best_genotype.json" \
    --seeds 3 --paper-backbone i3d --data synthetic --threads 1 --no-progress \
    --out "$runs/$1" > "$runs/$1.txt"
  mkdir -p "results/$1"
  cp "$runs/$1/comparison.md" "$runs/$1/comparison.png" "$runs/$1/comparison.json" "results/$1/"
}

search gpb gp_bandit & first=$!
supergraph & second=$!
wait "$first"; wait "$second"
search random random & first=$!
compare compare & second=$!
wait "$first"; wait "$second"
python results/search/summarize.py "$runs/gpb" "$runs/random" -o "$out"
