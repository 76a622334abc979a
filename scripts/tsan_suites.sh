#!/usr/bin/env bash
# The ThreadSanitizer build of kiln (the emulator and every kernel in kernels/, as
# KILN_SIMT_TSAN) and the test suites' simt cases under it: a data race between two
# emulated threads of a block (a missing __syncthreads) is reported with both stacks
# and fails the run. CI's third stage; ctest runs it as kiln_suites_tsan when
# configured with -DKILN_TSAN_SUITES=ON.
# Every kernel runs here, but three cases whose kernels the others already cover are
# left out to keep CI near its budget (under TSan each emulated thread is a TSan fiber
# and a launch costs ~50x more): the sum over 70,001 elements (SumTest n1000 and the
# op suite's reductions run the same kernels; 200 s), and the end-to-end IdxTraining
# and TextParity cases (the op suite's conv, pool, linear, softmax, embedding and rnn
# cases, LeNetParity and the optimizer cases run theirs; 103 and 142 s).
# Usage: scripts/tsan_suites.sh BUILD_DIR
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: scripts/tsan_suites.sh BUILD_DIR}
jobs=${KILN_TSAN_JOBS:-$(nproc)}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

# ThreadSanitizer, and the bounds check: an index past a static __shared__ array (or any
# array of known size) stops the run with its line; in the emulator such a read would
# land in a neighbouring static unseen. The same as simt_race_tsan (tests/CMakeLists.txt).
sanitizers="-fsanitize=thread -fsanitize=bounds -fno-sanitize-recover=bounds"

mkdir -p "$build"
if ! cmake -S "$src" -B "$build" -DKILN_CUDA=OFF -DKILN_TSAN_TESTS=OFF -DCMAKE_BUILD_TYPE=None \
    "-DCMAKE_CXX_FLAGS=$sanitizers -g1 -O1 -DKILN_SIMT_TSAN=1" \
    "-DCMAKE_EXE_LINKER_FLAGS=$sanitizers" "-DCMAKE_SHARED_LINKER_FLAGS=$sanitizers" \
    "${launcher[@]}" >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  exit 1
fi
echo "tsan_suites: building in $build with $jobs jobs (ThreadSanitizer, bounds checks)"
cmake --build "$build" -j "$jobs" --target kiln_core_tests kiln_op_tests kiln_train_tests

# One thread for OpenMP and OpenBLAS: their pools are not instrumented, and the
# simt cases need no host parallelism.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}"
# Retries under `setarch -R` when TSan cannot map its shadow memory with the
# kernel's address-space randomisation (as tests/simt/tsan/check_race.cmake does).
# run LOG SUITE FILTER [SHARD]: SHARD i/n runs GoogleTest's shard i of n.
run() {
  local log="$build/$1.log" suite=$2 filter=$3 shard=${4:-0/1}
  export GTEST_SHARD_INDEX=${shard%/*} GTEST_TOTAL_SHARDS=${shard#*/}
  if "$build/tests/$suite" "--gtest_filter=$filter" >"$log" 2>&1; then return 0; fi
  if grep -qE "unexpected memory mapping|FATAL: ThreadSanitizer" "$log" &&
      setarch -R "$build/tests/$suite" "--gtest_filter=$filter" >"$log" 2>&1; then
    return 0
  fi
  cat "$log"
  return 1
}
# Each run is one thread, so the machine's cores take a run each: the op suite in as
# many shards, then the core and train suites.
echo "tsan_suites: the simt cases of the core, op and train suites ($jobs at a time)"
op_filter='*simt*:-*SumTest*n70001'
rm -f "$build"/kiln_*_tests*.log
pids=()
for ((i = 0; i < jobs; ++i)); do
  run "kiln_op_tests.$i" kiln_op_tests "$op_filter" "$i/$jobs" &
  pids+=($!)
done
run kiln_core_tests kiln_core_tests '*simt*' &
pids+=($!)
run kiln_train_tests kiln_train_tests '*simt*:LeNetParity*:DropoutLayer*:-*IdxTraining*' &
pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
grep -h -E '^\[  PASSED|^\[kiln\] simt emulator ran' "$build"/kiln_*_tests*.log
((status == 0)) || { echo "tsan_suites: a suite failed (its log is above)" >&2; exit 1; }
echo "tsan_suites: no data race reported"
