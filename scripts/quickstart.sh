#!/usr/bin/env bash
# From a fresh machine to a trained LeNet-5: installs what kiln needs, builds it,
# fetches Fashion-MNIST and trains LeNet-5 on the best device present (a GPU if
# there is one, else the CPU). Arguments go to `kiln train`; without any, it uses the
# recipe measured to reach 90% test accuracy in 10 epochs (docs/TRAINING.md).
# Usage: scripts/quickstart.sh [kiln train options...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
mkdir -p build
if ! cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >build/configure.log 2>&1; then
  cat build/configure.log >&2
  exit 1
fi
cmake --build build -j "$(nproc)" --target kiln_cli
bash scripts/fetch_data.sh --kiln build/kiln --data data
build/kiln devices
(($#)) || set -- --epochs 10 --lr 0.02 --lr-schedule cosine
build/kiln train models/lenet5.yaml --data data/fashion-mnist \
  --out "runs/lenet5-fashion-$(date +%Y%m%d-%H%M%S)" --device auto "$@"
