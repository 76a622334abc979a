#!/usr/bin/env bash
# The test suites built with AddressSanitizer and UBSan (g++; cpu and simt
# devices, no nvcc), as CI's second stage. Usage: scripts/test_sanitizers.sh [BUILD_DIR]
# The emulator's fibers (Boost.Context fcontext) switch stacks behind ASan's back
# and Debian's Boost carries no ASan fiber annotations for fcontext, so the simt
# cases and the emulator suite are skipped here (they run in scripts/test.sh,
# and under ThreadSanitizer in simt_race_tsan).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
jobs=$(nproc)

bash scripts/install_deps.sh
mkdir -p "$build"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_CUDA=OFF -DKILN_SANITIZE=ON \
     -DKILN_TSAN_TESTS=OFF -DKILN_FUZZ=OFF >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  exit 1
fi
echo "test_sanitizers: building in $build with $jobs jobs (ASan + UBSan)"
cmake --build "$build" -j "$jobs" --target kiln_core_tests kiln_train_tests

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Cases that run kernels on the emulator are skipped: the simt cases by name, and
# the train suite's every-device tests that do not say so in their names (they
# loop over the devices inside); the train suite runs its cpu-only groups.
skip='-*simt*:*Simt*:LeNetParity*:DropoutLayer*'
echo "test_sanitizers: skipping the emulator's cases: its fibers are not annotated for ASan"
echo "test_sanitizers: kiln_core_tests"
"$build/tests/kiln_core_tests" --gtest_filter="$skip" --gtest_brief=1
echo "test_sanitizers: kiln_train_tests (cpu-only groups)"
"$build/tests/kiln_train_tests" --gtest_brief=1 \
  --gtest_filter='RunDirectory*:TrainConfig*:ModelFileInput*:GraphOrder*:Trainer*:Checkpoint*:ModelFile.*:GraphShapes*:TextModels*:TextTraining*'
echo "test_sanitizers: no ASan or UBSan reports"

# The readers' libFuzzer harnesses: a fixed number of inputs each from a fixed
# libFuzzer seed (reproducible on any machine; scripts/fuzz.sh).
bash scripts/fuzz.sh "$build-fuzz"
