#!/usr/bin/env bash
# The dataset walkthrough (make demo-data), offline: the customer-inquiry set as it arrives (examples/inquiry/
# raw.csv), checked, cleaned, checked against its test set, split, described and converted.
set -euo pipefail
cd "$(dirname "$0")/.."
ts=".venv/bin/tunestudio"
out="demo-output"
mkdir -p "$out"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; }

step "1. Check the raw dataset (every problem, with its row; errors stop a tuning run)" \
  "tunestudio data validate examples/inquiry/raw.csv --show 3"
$ts data validate examples/inquiry/raw.csv --show 3 || echo "(exit $? — the raw file has errors; cleaning comes next)"

step "2. Clean it with a recipe of named steps; removed rows go to a side file" \
  "tunestudio data clean examples/inquiry/raw.csv $out/train.clean.csv -c examples/inquiry/clean.yaml"
$ts data clean examples/inquiry/raw.csv "$out/train.clean.csv" -c examples/inquiry/clean.yaml

step "3. Check again, and check that no test question leaks from training" \
  "tunestudio data validate $out/train.clean.csv --test examples/inquiry/test.csv --show 3"
$ts data validate "$out/train.clean.csv" --test examples/inquiry/test.csv --show 3

step "4. Split off a validation set; near-duplicates stay on one side" \
  "tunestudio data split $out/train.clean.csv --test-size 100 --stratify --seed 0 --test-format testset"
$ts data split "$out/train.clean.csv" --test-size 100 --stratify --seed 0 --test-format testset

step "5. Describe it: labels and lengths, with a chart" \
  "tunestudio data stats $out/train.clean.csv --png $out/train.stats.png"
$ts data stats "$out/train.clean.csv" --png "$out/train.stats.png"

step "6. Convert to OpenAI chat messages (and back: the round trip is exact)" \
  "tunestudio data convert $out/train.clean.csv $out/train.openai.jsonl --to openai"
$ts data convert "$out/train.clean.csv" "$out/train.openai.jsonl" --to openai
$ts data convert "$out/train.openai.jsonl" "$out/train.roundtrip.csv"
cmp "$out/train.clean.csv" "$out/train.roundtrip.csv" && echo "round trip CLOVA → OpenAI → CLOVA: identical bytes"

step "7. Generate the country-grouping set of the CLOVA cookbook" \
  "tunestudio data generate countries --rows 200 --seed 0 -o $out/countries.csv"
$ts data generate countries --rows 200 --seed 0 -o "$out/countries.csv"

printf '\nDone. Everything is in %s/ (the chart: %s/train.stats.png).\n' "$out" "$out"
