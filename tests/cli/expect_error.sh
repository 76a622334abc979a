# Sourced by the CLI tests. Needs $kiln; counts failures in $failures.
#   fail "what went wrong"                  reports a failure (prefixed with the script's name)
#   expect_error "what it must say" ARGS...  kiln ARGS must fail, not time out
#                                            ($expect_timeout s), and say the text,
#                                            with no sanitizer report
failures=0
expect_timeout=${expect_timeout:-60}
fail() {
  echo "$(basename "$0" .sh): FAIL: $*" >&2
  failures=$((failures + 1))
}
expect_error() {
  local needle=$1
  shift
  local out status=0
  out=$(timeout "$expect_timeout" "$kiln" "$@" 2>&1) || status=$?
  if [[ $status -eq 0 || $status -eq 124 ]]; then
    fail "(status $status): kiln $*"$'\n'"$out"
  elif [[ $out == *"Sanitizer"* || $out == *"runtime error:"* ]]; then
    # a sanitizer build (scripts/test_sanitizers.sh): the right message is not enough
    fail "kiln $* hit a sanitizer report:"$'\n'"$out"
  elif [[ $out != *"$needle"* ]]; then
    fail "kiln $* did not say '$needle':"$'\n'"$out"
  fi
}
