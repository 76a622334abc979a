#!/usr/bin/env bash
# text_flow.sh KILN WORK MODELS
# kiln train on small text data sets of each kind (tagging, classification, language
# model) with the shipped models and their recipes: trains, resumes, keeps the
# vocabularies, and names bad text input by file and line.
set -uo pipefail
kiln=$1 work=$2 models=$3
rm -rf "$work"
mkdir -p "$work"/{pos,spam,lm}
expect_timeout=120
source "$(dirname "$0")/expect_error.sh"

# Tagging: 40 training and 8 test sentences of a toy grammar.
sentence() { printf 'the\tat\n%s\tnn\n%s\tvbz\n.\t.\n\n' "$1" "$2"; }
for i in $(seq 1 10); do
  sentence dog runs; sentence cat sleeps; sentence bird sings; sentence fish swims
done >"$work/pos/train.tsv"
for i in 1 2; do sentence dog sleeps; sentence cat runs; sentence bird swims; sentence fish sings; done \
  >"$work/pos/test.tsv"
# Classification: texts that say "offer" are spam.
for i in $(seq 1 20); do
  printf 'spam\tfree offer now click\nham\tmeeting notes for monday\n'
done >"$work/spam/train.tsv"
printf 'spam\tclick free offer\nham\tnotes for the meeting\n' >"$work/spam/test.tsv"
# Language model: a repeating text.
for i in $(seq 1 60); do echo "one two three four five"; done >"$work/lm/train.txt"
for i in $(seq 1 12); do echo "one two three four five"; done >"$work/lm/test.txt"

# run NAME MODEL DATA FLAGS...: trains one epoch, resumes to two.
run() {
  local name=$1 model=$2 data=$3
  shift 3
  local out
  if ! out=$("$kiln" train "$models/$model" --data "$data" --out "$work/runs/$name" --device cpu \
        --epochs 1 "$@" 2>&1); then
    fail "$name: kiln train failed:"$'\n'"$out"
    return
  fi
  if ! out=$("$kiln" train "$models/$model" --data "$data" --resume "$work/runs/$name" --device cpu \
        --epochs 2 "$@" 2>&1); then
    fail "$name: kiln train --resume failed:"$'\n'"$out"
    return
  fi
  [[ $(wc -l <"$work/runs/$name/metrics.jsonl") -eq 2 ]] || fail "$name: metrics.jsonl lacks an epoch"
  [[ -s $work/runs/$name/words.txt ]] || fail "$name: no words.txt in the run directory"
}
run pos bilstm_tagger.yaml "$work/pos" --batch-size 8
grep -q '"tokens_per_second"' "$work/runs/pos/metrics.jsonl" || fail "pos: no tokens_per_second"
[[ -s $work/runs/pos/tags.txt ]] || fail "pos: no tags.txt"
[[ -s $work/runs/pos/feature.suffix3.txt ]] || fail "pos: no feature.suffix3.txt"
printf 'the cat swims .\nthe zebra sleeps\n' >"$work/sentences.txt"
out=$("$kiln" predict "$models/bilstm_tagger.yaml" --weights "$work/runs/pos/model.safetensors" \
      --text "$work/sentences.txt" --device cpu 2>&1) || fail "pos: kiln predict failed: $out"
[[ $(grep -c $'\t' <<<"$out") -eq 7 && $out == *$'zebra\t'* ]] || fail "pos: predict printed:"$'\n'"$out"
out=$("$kiln" eval "$models/bilstm_tagger.yaml" --weights "$work/runs/pos/model.safetensors" \
      --data "$work/pos" --device cpu 2>&1) || fail "pos: kiln eval failed: $out"
[[ $out == *'"unseen_accuracy"'* && $out == *'"tokens":32'* ]] || fail "pos: eval printed: $out"
run gru gru_tagger.yaml "$work/pos" --batch-size 8
run spam lstm_spam.yaml "$work/spam" --batch-size 8
[[ -s $work/runs/spam/labels.txt ]] || fail "spam: no labels.txt"
run lm lstm_lm.yaml "$work/lm" --batch-size 4 --bptt 10
grep -q '"test_perplexity"' "$work/runs/lm/metrics.jsonl" || fail "lm: no test_perplexity"
generate=("$kiln" generate "$models/lstm_lm.yaml" --weights "$work/runs/lm/model.safetensors"
          --prompt "one two" --tokens 12 --seed 5 --device cpu)
first=$("${generate[@]}" 2>&1) || fail "lm: kiln generate failed: $first"
[[ $first == "one two "* && $("${generate[@]}" 2>&1) == "$first" ]] || fail "lm: generate is not repeatable: $first"
help=$("$kiln" generate --help 2>&1)
[[ $help != *--mean* && $help != *--batch-size* ]] || fail "generate --help offers image options: $help"

mkdir -p "$work/bad"
cp "$work/pos/train.tsv" "$work/bad/train.tsv"
printf 'the\tat\ndog\tzz\n\n' >"$work/bad/test.tsv"
expect_error "test.tsv:2" train "$models/bilstm_tagger.yaml" --data "$work/bad" --out "$work/runs/bad1" --device cpu
printf 'the\tat\ndog nn\n\n' >"$work/bad/test.tsv"
expect_error "test.tsv:2" train "$models/bilstm_tagger.yaml" --data "$work/bad" --out "$work/runs/bad2" --device cpu
printf '\n\n' >"$work/bad/test.tsv"
expect_error "test.tsv" train "$models/bilstm_tagger.yaml" --data "$work/bad" --out "$work/runs/bad3" --device cpu
rm "$work/bad/test.tsv"
expect_error "test.tsv does not exist" train "$models/bilstm_tagger.yaml" --data "$work/bad" --out "$work/runs/bad4" --device cpu
# A language model's data with an image model, and a recipe with a bad setting.
expect_error "\$words" train "$models/lstm_lm.yaml" --data "$work/does-not-exist" --out "$work/runs/bad5" --device cpu
printf 'train: {lrr: 0.1}\n' >"$work/bad_recipe.yaml"
sed -n '/^layers:/,$p' "$models/lstm_lm.yaml" >>"$work/bad_recipe.yaml"
expect_error "train: 'lrr' is not a setting" train "$work/bad_recipe.yaml" --data "$work/lm" --out "$work/runs/bad6" --device cpu
# The vocabulary kept in the run directory must fit the weights.
echo "extra" >>"$work/runs/lm/words.txt"
expect_error "embed.weight" train "$models/lstm_lm.yaml" --data "$work/lm" --resume "$work/runs/lm" --device cpu --epochs 3 --batch-size 4 --bptt 10

if ((failures)); then
  echo "text_flow: $failures failures" >&2
  exit 1
fi
echo "text_flow: all cases passed"
