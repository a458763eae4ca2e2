#!/usr/bin/env bash
# The main job, offline: check the customer-inquiry dataset, then tune the built-in `tiny` model
# on it and compare before and after on the test set (examples/inquiry/recipe.yaml).
# The first run also builds `tiny` itself (about a minute); nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
ts=".venv/bin/tunestudio"
out="demo-output"
mkdir -p "$out"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; }

step "1. Check the training set and that no test question leaks into it" \
  "tunestudio data validate examples/inquiry/train.csv --test examples/inquiry/test.csv --show 3"
$ts data validate examples/inquiry/train.csv --test examples/inquiry/test.csv --show 3

step "2. Baseline, LoRA tuning, evaluation, paired comparison and report in one recipe" \
  "tunestudio run examples/inquiry/recipe.yaml --output $out/inquiry"
$ts run examples/inquiry/recipe.yaml --output "$out/inquiry"

printf '\nOpen %s/inquiry/report.html (the before/after chart, per-label metrics, the paired\n' "$out"
printf 'comparison) and %s/inquiry/predictions.xlsx (every answer). The dataset walkthrough\n' "$out"
printf '(clean, split, stats, convert, generate) is bash examples/data_walkthrough.sh.\n'
