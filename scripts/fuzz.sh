#!/usr/bin/env bash
# The readers' libFuzzer harnesses (clang; tests/fuzz), built in a tree without
# nvcc and without g++'s sanitizers.
#   scripts/fuzz.sh [BUILD_DIR]                  the ctest entries (label fuzz): each
#       harness a fixed number of inputs from a fixed libFuzzer seed, so every
#       machine tries the same inputs (CI; scripts/test_sanitizers.sh calls this)
#   scripts/fuzz.sh --explore SECONDS [BUILD_DIR]  each harness SECONDS with a fresh
#       random seed, growing a kept corpus under BUILD_DIR/tests/fuzz/explore: the
#       search for new findings. A finding is a file there to turn into a test.
set -euo pipefail
cd "$(dirname "$0")/.."
explore=0
if [[ ${1:-} == --explore ]]; then
  explore=${2:?"--explore needs a number of seconds"}
  shift 2
fi
build=${1:-build-fuzz}
jobs=$(nproc)

mkdir -p "$build"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_CUDA=OFF \
     -DKILN_TSAN_TESTS=OFF -DKILN_FUZZ=ON >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  exit 1
fi
harnesses=(idx idx_gzip safetensors model_yaml text)
echo "fuzz: building the harnesses in $build"
targets=(fuzz_seeds)
for harness in "${harnesses[@]}"; do targets+=("fuzz_${harness}_harness"); done
cmake --build "$build" -j "$jobs" --target "${targets[@]}" \
  >"$build/fuzz_build.log" 2>&1 || { tail -n 40 "$build/fuzz_build.log" >&2; exit 1; }

if ((explore == 0)); then
  status=0
  ctest --test-dir "$build" -L fuzz --output-on-failure -j "$jobs" -V >"$build/fuzz.log" 2>&1 ||
    status=$?
  grep -E 'no findings|found a problem' "$build/fuzz.log" | sed -E 's/^[0-9]+: //' || true
  if ((status)); then
    tail -n 80 "$build/fuzz.log" >&2
    echo "fuzz: a harness found a problem (inputs under $build/tests/fuzz/work)" >&2
    exit 1
  fi
  echo "fuzz: no findings"
  exit 0
fi

fuzz_dir="$build/tests/fuzz"
ctest --test-dir "$build" -R '^fuzz_seeds$' --output-on-failure >/dev/null
status=0
for harness in "${harnesses[@]}"; do
  work="$fuzz_dir/explore/$harness"
  mkdir -p "$work/corpus"
  echo "fuzz: $harness for $explore s (corpus kept in $work/corpus)"
  if ! cmake -DEXE="$fuzz_dir/fuzz_$harness" -DSEEDS="$fuzz_dir/corpus/$harness" \
       -DWORK="$work/run" -DSECONDS="$explore" -P tests/fuzz/run_fuzzer.cmake; then
    status=1
  fi
  cp -n "$work/run/corpus/"* "$work/corpus/" 2>/dev/null || true
done
exit $status
