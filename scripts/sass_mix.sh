#!/usr/bin/env bash
# Instruction mix of the main loop of each implicit-GEMM kernel in kernels/conv2d.cu, as
# nvcc compiles it for one architecture (default sm_90), next to ptxas's registers and
# spills. A static view: it says what one pass of the loop issues, not how often the
# conditional parts of it run.
#
# The main loop: every backward branch (a BRA whose target lies before it) closes a loop
# [target, branch]. The main loop is the loop holding the most FFMAs, and among those the
# shortest (the innermost), so a loop nest reports the loop that does the arithmetic.
# Columns:
#   insts     SASS instructions in the loop (NOPs excluded)
#   ffma      FFMA count and its share of insts
#   lds       shared loads (LDS*), split as 128-bit / 64-bit / 32-bit
#   lds/ffma  shared loads per FFMA (0.125 for two LDS.128 per 4x4 outer product)
#   sts       shared stores
#   div       integer division sequences (each starts with an I2F.U32.RP or I2F.RP that
#             seeds the reciprocal), IMAD.HI (the quotient step of a division, or of a
#             division by a constant), then CALL (64-bit divisions call a subroutine; not
#             the CALL past the closing BRA with which sm_80 code leaves a loop). A
#             multiply-high by a magic number compiled as IMAD.WIDE.U32 is not counted:
#             that instruction also forms addresses.
#   bar       barriers (BAR.SYNC)
# Usage: scripts/sass_mix.sh [ARCH]   (nvcc and cuobjdump on PATH, or CUDACXX / CUOBJDUMP)
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-sm_90}
nvcc=${CUDACXX:-nvcc}
cuobjdump=${CUOBJDUMP:-cuobjdump}
command -v "$nvcc" >/dev/null && command -v "$cuobjdump" >/dev/null || {
  echo "sass_mix: needs $nvcc and $cuobjdump" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$nvcc" -std=c++17 -O3 -arch="$arch" --resource-usage -DKILN_BACKEND=cuda_kernels \
  -Iinclude -Isrc -I. -cubin kernels/conv2d.cu -o "$tmp/conv2d.cubin" 2>"$tmp/ptxas.txt"
if ! "$cuobjdump" -sass "$tmp/conv2d.cubin" >"$tmp/sass.txt" 2>"$tmp/cuobjdump.err"; then
  # A cuobjdump older than CUDA 12.8 rejects the ELF header newer nvcc writes (ABI
  # version 8, architecture in e_flags bits 8-15); the instructions are the same, so
  # rewrite the header to the old encoding (ABI version 7, e_flags sm | sm << 16 |
  # 64-bit addresses) and retry.
  sm=${arch#sm_}
  sm=${sm%%[a-z]*}
  printf '\x07' | dd of="$tmp/conv2d.cubin" bs=1 seek=8 conv=notrunc status=none
  printf "\\x$(printf %02x "$sm")\\x05\\x$(printf %02x "$sm")\\x00" |
    dd of="$tmp/conv2d.cubin" bs=1 seek=48 conv=notrunc status=none
  "$cuobjdump" -sass "$tmp/conv2d.cubin" >"$tmp/sass.txt" || {
    cat "$tmp/cuobjdump.err" >&2
    exit 1
  }
fi

printf '%-20s %5s %11s %18s %8s %4s %14s %3s %5s %6s\n' kernel insts ffma \
  'lds(128/64/32)' lds/ffma sts 'div(rp/hi/call)' bar regs spills
for pass in ForwardGemm BackwardDataGemm BackwardFilterGemm; do
  # ptxas: "Compiling entry function '<mangled>'" then "Used N registers"; spills in
  # the "bytes stack frame, N bytes spill stores, N bytes spill loads" line.
  resources=$(awk -v pass="$pass" '
    /Compiling entry function/ { hit = index($0, "implicit_gemm_kernel") && index($0, pass) }
    hit && /bytes stack frame/ { spills = $9 + $13 }
    hit && /Used [0-9]+ registers/ { print $5, spills; exit }' "$tmp/ptxas.txt")
  awk -v pass="$pass" -v resources="$resources" '
    /Function :/ { inside = index($0, "implicit_gemm_kernel") && index($0, pass) }
    !inside || !match($0, /\/\*[0-9a-f]+\*\/ +[^;]+;/) { next }
    {
      text = substr($0, RSTART, RLENGTH - 1)
      address = hex(substr(text, 3, index(text, "*/") - 3))
      sub(/^\/\*[0-9a-f]+\*\/ +/, "", text)
      n++
      addr[n] = address
      op[n] = text
      if (match(text, /BRA (0x[0-9a-f]+)/)) {
        target = hex(substr(text, RSTART + 6, RLENGTH - 6))
        if (target <= address) { loops++; from[loops] = target; to[loops] = address }
      }
    }
    function hex(digits,   v, i) {  # mawk has no strtonum
      v = 0
      for (i = 1; i <= length(digits); i++)
        v = v * 16 + index("0123456789abcdef", substr(digits, i, 1)) - 1
      return v
    }
    function opcode(text) {
      sub(/^@!?U?P[0-9T] +/, "", text)
      sub(/ .*/, "", text)
      return text
    }
    END {
      best = 0
      for (l = 1; l <= loops; l++) {
        f = 0
        for (i = 1; i <= n; i++)
          if (addr[i] >= from[l] && addr[i] <= to[l] && opcode(op[i]) ~ /^FFMA/) f++
        if (f > best_ffma || (f == best_ffma && to[l] - from[l] < to[best] - from[best])) {
          best = l; best_ffma = f
        }
      }
      if (!best) { printf "%-20s no loop found\n", pass; exit }
      for (i = 1; i <= n; i++) {
        if (addr[i] < from[best] || addr[i] > to[best]) continue
        o = opcode(op[i])
        if (o == "NOP") continue
        insts++
        if (o ~ /^FFMA/) ffma++
        if (o ~ /^LDS/) { lds++; if (o ~ /\.128/) l128++; else if (o ~ /\.64/) l64++; else l32++ }
        if (o ~ /^STS/) sts++
        if (o ~ /^I2F/ && o ~ /\.RP/) rp++
        if (o ~ /^IMAD\.HI/) hi++
        # sm_80 leaves a loop through "@P CALL.REL.NOINC <exit>; BRA <loop head>; exit:"
        if (o ~ /^CALL/) {
          callee = op[i]
          if (!sub(/.* 0x/, "", callee)) callee = ""
          sub(/[^0-9a-f].*/, "", callee)
          if (callee == "" || hex(callee) != addr[i] + 32) calls++
        }
        if (o ~ /^BAR/) bars++
      }
      split(resources, r, " ")
      printf "%-20s %5d %5d %4.1f%% %6d (%d/%d/%d) %8.3f %4d %8d/%d/%d %3d %5s %6s\n", pass, insts,
        ffma, 100 * ffma / insts, lds, l128, l64, l32, ffma ? lds / ffma : 0, sts, rp, hi,
        calls, bars, r[1], r[2]
    }' "$tmp/sass.txt"
done
