#!/usr/bin/env bash
# bad_input.sh KILN IDX_SUBSET DATA WORK MODELS
# What a careless or hostile user types: every case must fail (never exit 0)
# with a message naming the flag, file or value.
set -uo pipefail
kiln=$1 subset=$2 data=$3 work=$4 models=$5
rm -rf "$work"
mkdir -p "$work"
"$subset" "$data" "$work/data" 200 50 || exit 1
model=$models/lenet5.yaml
train=(train "$model" --data "$work/data" --device cpu --epochs 1)
source "$(dirname "$0")/expect_error.sh"

# Training flags.
for lr in -0.1 nan inf; do expect_error "--lr must be" "${train[@]}" --out "$work/r" --lr "$lr"; done
for gamma in -1 nan; do expect_error "--lr-gamma must be" "${train[@]}" --out "$work/r" --lr-gamma "$gamma"; done
for epochs in 0 -3; do
  expect_error "--lr-step-epochs must be positive" "${train[@]}" --out "$work/r" --lr-step-epochs "$epochs"
done
for seed in -1 18446744073709551616 12abc; do
  expect_error "'$seed' is not an integer" "${train[@]}" --out "$work/r" --seed "$seed"
done
touch "$work/a_file"
expect_error "$work/a_file' exists and is not a directory" "${train[@]}" --out "$work/a_file"
[[ -e $work/r ]] && fail "a refused run created $work/r"

# The model and the data disagree: named before the first step.
sed 's/out_features: 10,/out_features: 3,/' "$model" >"$work/three.yaml"
expect_error "labels go up to 9 but the model has 3 outputs" \
  train "$work/three.yaml" --data "$work/data" --device cpu --out "$work/r3"
mkdir -p "$work/small"
cp "$work/data/train-"* "$work/small/"
printf '\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02\x03\x04' >"$work/small/t10k-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x01\x05' >"$work/small/t10k-labels-idx1-ubyte"
expect_error "the test images are 2x2 but the training images are 28x28" \
  train "$model" --data "$work/small" --device cpu --out "$work/r4"

# Directories and FIFOs where files are expected: named, never a hang.
mkfifo "$work/fifo"
expect_error "is a directory" "${train[@]}" --out "$work/r5" --init "$work/data"
expect_error "is a FIFO" "${train[@]}" --out "$work/r6" --init "$work/fifo"
expect_error "is a directory" train "$work/data" --data "$work/data" --device cpu --out "$work/r7"
"$kiln" "${train[@]}" --out "$work/run" 2>/dev/null || { echo "bad_input: FAIL: a good run failed" >&2; exit 1; }
weights=$work/run/model.safetensors
expect_error "is a FIFO" predict "$model" --weights "$weights" --images "$work/fifo" --device cpu
expect_error "is a directory" predict "$model" --weights "$work/data" --images "$work/data/t10k-images-idx3-ubyte.gz" --device cpu

# eval: a normalisation that cannot work, and a loss that is not a number.
expect_error "--mean: 'nan' is not a finite number" eval "$model" --weights "$weights" --data "$work/data" --device cpu --mean nan --stddev nan
expect_error "'0' is not a finite number > 0" eval "$model" --weights "$weights" --data "$work/data" --device cpu --mean 0.3 --stddev 0
expect_error "the stddev is too small" eval "$model" --weights "$weights" --data "$work/data" --device cpu --mean 0.3 --stddev 1e-45

if [[ $failures -gt 0 ]]; then
  echo "bad_input: $failures case(s) failed" >&2
  exit 1
fi
echo "bad_input: every bad input was refused with a message naming it"
