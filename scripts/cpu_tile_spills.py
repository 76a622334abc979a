#!/usr/bin/env python3
"""Spill check of the CPU direct convolution's register tiles (docs/KERNELS.md).

For every tile the dispatch can call (accumulators within its variant's limit), finds
the innermost loop holding the multiply-adds in the disassembly of conv2d_direct.cpp's
object file and counts the vector loads/stores to the stack in it: 0 means the
accumulators and operands stay in registers.

Usage: python3 scripts/cpu_tile_spills.py BUILD_DIR
"""
import pathlib
import re
import subprocess
import sys

# accumulator limits per variant: forward KB*T, backward-filter KB*JB (conv2d_direct.cpp)
LIMITS = {"avx512": (24, 24), "avx2": (12, 12), "baseline": (12, 12)}


def instructions(body):
    out = []
    for line in body.split("\n")[1:]:
        addr, _, text = line.partition(":")
        if text and re.fullmatch(r"\s*[0-9a-f]+", addr):
            out.append((int(addr, 16), text))
    return out


def hot_loop(ins):
    """Instructions of the shortest backward-jump loop that multiplies vectors."""
    best = None
    for addr, text in ins:
        jump = re.search(r"\bj\w+\s+([0-9a-f]+)\s", text)
        if not jump or int(jump.group(1), 16) > addr:
            continue
        lo = int(jump.group(1), 16)
        body = [t for a, t in ins if lo <= a <= addr]
        if any(re.search(r"vfmadd|mulps", t) for t in body):
            if best is None or len(body) < len(best):
                best = body
    return best or []


def main():
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    obj = next(build.rglob("conv2d_direct.cpp.o"))
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", str(obj)],
                          check=True, capture_output=True, text=True).stdout
    worst = 0
    for body in re.split(r"\n(?=[0-9a-f]+ <)", text):
        m = re.search(r"<.*?(\w+)::(forward|filter)_tile<(\d+), (\d+)>", body.split("\n")[0])
        if not m:
            continue
        isa, kind, a, b = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        if a * b > LIMITS[isa][0 if kind == "forward" else 1]:
            continue  # never dispatched
        loop = hot_loop(instructions(body))
        # %rbp is a general register here (-fomit-frame-pointer), so only %rsp counts
        spills = sum(1 for t in loop if "mm" in t and "(%rsp" in t)
        worst = max(worst, spills)
        print(f"{isa:9s} {kind:8s} {a}x{b}: hot loop {len(loop):3d} instructions, "
              f"{spills} vector stack accesses")
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
