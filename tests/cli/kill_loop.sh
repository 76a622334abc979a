#!/usr/bin/env bash
# kill_loop.sh KILN IDX_SUBSET DATA WORK MODELS [KILLS]
# Crash safety of a run directory, through the real `kiln train` on a slice of
# Fashion-MNIST (cpu, so results are bit-reproducible):
#  1. KILLS times, SIGKILL a run at a random moment (the next run resumes the
#     same directory); after every kill a copy of the directory must train to the
#     uninterrupted run's final weights bit for bit, with every epoch's metrics
#     exactly once (a directory killed before its first checkpoint restarts
#     with --out);
#  2. SIGINT and SIGTERM stop with status 130 / 143, say how to continue, and
#     the continued run ends bit for bit where the uninterrupted one did; a second
#     SIGINT exits at once and leaves a directory that resumes just as exactly;
#  3. a second kiln on a directory in use is refused, naming the holder's pid.
set -euo pipefail
kiln=$1 subset=$2 data=$3 work=$4 models=$5 kills=${6:-20}
rm -rf "$work"
mkdir -p "$work"
"$subset" "$data" "$work/data" 256 64
# One passive OpenMP thread: the same arithmetic in every run, and no spinning
# threads fighting other work on a loaded machine.
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
args=(train "$models/lenet5.yaml" --data "$work/data" --device cpu --epochs 12
      --batch-size 32 --log-every 2 --seed 7 --lr 0.02)

fail() { echo "kill_loop: FAIL: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
# The tensors of a safetensors file: its data section (the header's metadata
# names the checkpoint, which differs between runs).
tensors() { local n; n=$(od -An -tu8 -N8 "$1" | tr -d ' '); tail -c +$((9 + n)) "$1"; }
# metrics.jsonl without the timings.
metrics() { sed -E 's/,"(images_per_second|seconds)":[^,}]*//g' "$1/metrics.jsonl"; }

start=$(now_ms)
"$kiln" "${args[@]}" --out "$work/ref" 2>"$work/ref.log" || fail "reference run: $(cat "$work/ref.log")"
duration=$(($(now_ms) - start))
tensors "$work/ref/model.safetensors" >"$work/ref.tensors"
metrics "$work/ref" >"$work/ref.metrics"
[[ $(wc -l <"$work/ref.metrics") -eq 12 ]] || fail "the reference run's metrics.jsonl lacks epochs"

# The directory $1, copied, must end where the reference did.
check_ends_like_reference() {
  local probe=$work/probe what=$2
  rm -rf "$probe"
  # A kill before kiln created the directory leaves nothing: a fresh --out.
  [[ ! -e $1 ]] || cp -a "$1" "$probe"
  if [[ -f $probe/checkpoint.json ]]; then
    if ! "$kiln" "${args[@]}" --resume "$probe" 2>"$work/probe.log"; then
      grep -q "already has 12 epochs" "$work/probe.log" || fail "$what: resume failed: $(cat "$work/probe.log")"
    fi
  else
    "$kiln" "${args[@]}" --out "$probe" 2>"$work/probe.log" || fail "$what: restart failed: $(cat "$work/probe.log")"
  fi
  tensors "$probe/model.safetensors" | cmp -s - "$work/ref.tensors" ||
    fail "$what: the weights differ from the uninterrupted run's"
  metrics "$probe" | diff - "$work/ref.metrics" >"$work/diff" ||
    fail "$what: metrics.jsonl differs from the uninterrupted run's: $(cat "$work/diff")"
}

# 1. SIGKILL at random moments.
RANDOM=20261202
run=$work/run
uncommitted=0 mid_save=0 finished=0
for ((i = 1; i <= kills; i++)); do
  mode=(--out "$run")
  [[ -f $run/checkpoint.json ]] && mode=(--resume "$run")
  delay=$((RANDOM % duration))
  "$kiln" "${args[@]}" "${mode[@]}" 2>>"$work/kills.log" &
  pid=$!
  sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
  kill -KILL "$pid" 2>/dev/null || true
  status=0
  { wait "$pid"; } 2>/dev/null || status=$?
  [[ -f $run/checkpoint.json ]] || uncommitted=$((uncommitted + 1))
  if compgen -G "$run/*.tmp" >/dev/null || compgen -G "$run/checkpoints/*/*.tmp" >/dev/null ||
     [[ $(ls "$run/checkpoints" 2>/dev/null | wc -l) -gt 1 ]]; then
    mid_save=$((mid_save + 1))
  fi
  check_ends_like_reference "$run" "kill $i (after ${delay} ms, status $status)"
  if [[ $status -eq 0 ]]; then  # it finished before the kill: start a new run
    finished=$((finished + 1))
    rm -rf "$run"
  fi
done
echo "kill_loop: $kills SIGKILLs (run ${duration} ms): every directory ended bit for bit like the" \
     "uninterrupted run; $uncommitted before the first checkpoint, $mid_save inside a save," \
     "$finished after the end"

# 2. SIGINT, SIGTERM, and a second SIGINT.
stop_with() {
  local signal=$1 expected=$2 twice=$3 dir=$work/$1$3
  "$kiln" "${args[@]}" --out "$dir" 2>"$work/stop.log" &
  local pid=$! status=0
  until [[ -s $dir/metrics.jsonl ]]; do sleep 0.01; done  # inside epoch 2
  kill "-$signal" "$pid"
  [[ $twice == twice ]] && kill "-$signal" "$pid"
  wait "$pid" || status=$?
  [[ $status -eq $expected ]] || fail "$signal: exit status $status, expected $expected: $(cat "$work/stop.log")"
  if [[ $twice == twice ]]; then
    grep -q "second signal" "$work/stop.log" || [[ $(grep -c "stopped by" "$work/stop.log") -eq 1 ]] ||
      fail "second $signal: $(cat "$work/stop.log")"
  else
    grep -q "stopped by SIG$signal" "$work/stop.log" && grep -q -- "--resume $dir" "$work/stop.log" ||
      fail "$signal: the message does not say how to continue: $(cat "$work/stop.log")"
    compgen -G "$dir/*.tmp" >/dev/null && fail "$signal left temporary files"
  fi
  check_ends_like_reference "$dir" "$signal $twice"
}
stop_with INT 130 once
stop_with TERM 143 once
stop_with INT 130 twice
echo "kill_loop: SIGINT and SIGTERM stop with 130 / 143 and resume exactly; a second SIGINT exits at once"

# 3. A second kiln on a directory in use.
locked=$work/locked
"$kiln" "${args[@]}" --out "$locked" 2>/dev/null &
pid=$!
until [[ -f $locked/checkpoint.json ]]; do sleep 0.01; done
kill -STOP "$pid"
if "$kiln" "${args[@]}" --resume "$locked" 2>"$work/lock.log" ||
   ! grep -q "in use by another kiln process (pid $pid" "$work/lock.log"; then
  kill -KILL "$pid"
  fail "a second kiln on a directory in use: $(cat "$work/lock.log")"
fi
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null || true
echo "kill_loop: a directory in use is refused, naming the holder's pid"
