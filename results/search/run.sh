#!/usr/bin/env bash
# Everything behind results/search/ and results/compare/, on the default proxy (the `train`
# objective's defaults: the relational synthetic task, 1800 videos of 4 frames of 32x32, the tiny
# backbone, 8 epochs of AdamW, scored by the search-val top-1 averaged over the epochs;
# results/signal.md measures how much of a score the cell explains):
#   searches     gp_bandit, random, tpe and optuna_gp over search_spaces/attentionnas_gpb.yaml,
#                search seeds 0, 1, 2, 30 training trials each, one trial at a time per search
#                (--workers 1, so a rerun on this machine gives the same trials and values);
#                two searches run side by side, one CPU thread per trial
#   supergraphs  differentiable search with SG-1, SG-2 and SG-3 (supplementary Table B), seed 0
#   compare      `nas compare` with 5 training seeds: tiny alone, + non-local, + each
#                controller's best cell (over its 3 searches), + the SG-1/2/3 cells; two
#                trainings at a time (--jobs 2 --threads 1)
#   summary      results/search/summary.{md,json}, best_so_far.png, each controller's best cell with the
#                trials and Pareto plots of its search, the trial logs, results/compare/tables.md
# Every step resumes: a finished search, supergraph run or training is kept and skipped, a
# killed one continues (rerun the script with the same RUNS).
# Usage: bash results/search/run.sh [RUNS] [STEP ...]   (RUNS: default runs/results; steps: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/results}
shift || true
steps=${*:-searches supergraphs compare summary}
out=results/search
controllers="gp_bandit random tpe optuna_gp"
mkdir -p "$runs"

search() {  # CONTROLLER SEED: start it, or resume it when its run folder exists
  local name="$1-s$2"
  if [ -d "$runs/$name" ]; then
    nas search resume "$runs/$name" >> "$runs/$name.txt"
  else
    nas search gpb --space search_spaces/attentionnas_gpb.yaml --controller "$1" --trials 30 --workers 1 \
      --seed "$2" --out "$runs/$name" > "$runs/$name.txt"
  fi
}

stream() {  # CONTROLLER ...: its three searches one after another
  for c in "$@"; do for s in 0 1 2; do search "$c" "$s"; done; done
}

supergraph() {  # N: SG-N on the proxy (tiny at s2 and s3, the search splits, 8 epochs like a trial)
  nas search diff --supergraph "supergraphs/sg$1.yaml" --preset quick --num-videos 1800 --epochs 8 \
    --seed 0 --threads 1 --no-progress --out "$runs/sg$1" > "$runs/sg$1.txt"
  mkdir -p "$out/sg$1"
  cp "$runs/sg$1/best_genotype.json" "$runs/sg$1/best_cell.png" "$runs/sg$1.txt" "$out/sg$1/"
  nas viz --run "$runs/sg$1" -o "$out/sg$1/weights.png" > /dev/null
}

timed() {  # STEP: run it and say how long it took
  local start
  start=$(date +%s)
  "$@"
  echo "$1: $(( $(date +%s) - start )) s on $(nproc) CPUs" | tee -a "$runs/times.txt"
}

searches() {
  stream gp_bandit tpe & local first=$!
  stream random optuna_gp & local second=$!
  wait "$first"; wait "$second"
}

supergraphs() {
  supergraph 1 & local first=$!
  supergraph 2 & local second=$!
  wait "$first"; wait "$second"
  supergraph 3
}

compare() {
  python results/search/summarize.py "$runs" -o "$runs/summary" --export "$out"  # each controller's best cell
  local cells=()
  for c in $controllers; do cells+=(--cells "$c=$out/$c/best_genotype.json"); done
  for n in 1 2 3; do cells+=(--cells "sg$n=$out/sg$n/best_genotype.json"); done
  nas compare --backbone tiny "${cells[@]}" --seeds 5 --paper-backbone i3d --jobs 2 --threads 1 --no-progress \
    --out "$runs/compare" > "$runs/compare.txt"
  mkdir -p results/compare
  cp "$runs/compare/comparison.md" "$runs/compare/comparison.png" "$runs/compare/comparison.json" results/compare/
}

summary() {
  python results/search/summarize.py "$runs" -o "$out" --export "$out" --compare results/compare/comparison.json
  for c in $controllers; do  # the trials and Pareto plots of the search that found each controller's best cell
    local seed
    seed=$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['best_cells'][sys.argv[2]]['seed'])" \
      "$out/summary.json" "$c")
    nas viz --run "$runs/$c-s$seed" --plot trials -o "$out/$c/trials.png" > /dev/null
    nas viz --run "$runs/$c-s$seed" --plot pareto -o "$out/$c/pareto.png" > /dev/null
  done
  for c in $controllers; do for s in 0 1 2; do
    mkdir -p "$out/logs"
    cp "$runs/$c-s$s/trials.log" "$out/logs/$c-s$s.log"
  done; done
  python results/compare/paper_tables.py results/compare/comparison.json -o results/compare/tables.md
}

for step in $steps; do timed "$step"; done
