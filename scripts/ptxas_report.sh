#!/usr/bin/env bash
# Registers, spills, stack and shared memory of every kiln kernel, as ptxas reports
# them for one architecture (default sm_90). Exits 1 if any kernel spills.
# Usage: scripts/ptxas_report.sh [ARCH]    (needs nvcc on PATH, or CUDACXX)
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-sm_90}
nvcc=${CUDACXX:-nvcc}

printf '%-60s %5s %6s %6s %7s %6s\n' kernel regs spillS spillL smem stack
status=0
for cu in kernels/*.cu; do
  "$nvcc" -std=c++17 -O3 -arch="$arch" --resource-usage -DKILN_BACKEND=cuda_kernels \
    -Iinclude -Isrc -I. -c "$cu" -o /dev/null 2>&1 |
    awk -v file="$(basename "$cu")" '
      /Compiling entry function/ { match($0, /'"'"'[^'"'"']+'"'"'/); name = substr($0, RSTART + 1, RLENGTH - 2) }
      /bytes stack frame/ { stack = $5; spill_st = $9; spill_ld = $13 }
      /Used [0-9]+ registers/ {
        regs = $5; smem = 0
        if (match($0, /[0-9]+ bytes smem/)) smem = substr($0, RSTART, RLENGTH - 11)
        cmd = "c++filt " name; cmd | getline pretty; close(cmd)
        sub(/^void /, "", pretty)
        gsub(/kiln::cuda_kernels::\(anonymous namespace\)::/, "", pretty)
        gsub(/kiln::cuda_kernels::/, "", pretty)
        sub(/\(.*$/, "", pretty)
        printf "%-60s %5d %6d %6d %7d %6d\n", file ": " pretty, regs, spill_st, spill_ld, smem, stack
        if (spill_st + spill_ld > 0) bad = 1
      }
      END { exit bad }' || status=1
done
if ((status)); then echo "ptxas_report: a kernel spills registers ($arch)" >&2; fi
exit $status
