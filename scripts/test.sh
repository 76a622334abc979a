#!/usr/bin/env bash
# Builds kiln (nvcc kernels included when the CUDA toolkit is present) and runs the
# whole test suite through ctest. Usage: scripts/test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=$(nproc)

bash scripts/install_deps.sh
mkdir -p "$build"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  exit 1
fi
grep -E '^-- kiln' "$build/configure.log" || true
echo "test: building in $build with $jobs jobs"
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

# What each suite ran on: the emulator's schedule order and kernel counts.
echo "test: emulator summary per suite"
grep -E '^[0-9]+/[0-9]+ Test|^\[kiln\] simt emulator ran' "$build/Testing/Temporary/LastTest.log" |
  grep -B1 '^\[kiln\]' | grep -v '^--$' || true
