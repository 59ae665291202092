#!/bin/bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz and runs
# each for $FUZZ_SECONDS seconds (default 60) on a copy of its seed corpus
# in a temporary directory. Fails when any target finds a crash, a leak,
# a timeout or runs out of memory; its input and log are kept in
# build-fuzz/fuzz-findings/. $FUZZ_JOBS targets run at once (default: the
# number of CPUs). Usage: scripts/fuzz.sh [TARGET...] (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_JOBS="${FUZZ_JOBS:-$(nproc)}"
BUILD=build-fuzz

bash scripts/install-deps.sh

if [ ! -d "$BUILD" ]; then
  CC=clang meson setup "$BUILD" --buildtype=debugoptimized -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false -Dgui=disabled
else
  meson configure "$BUILD" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in tests/fuzz/fuzz-*.c; do
    name="$(basename "$src" .c)"
    name="${name#fuzz-}"
    [ "$name" = standalone ] || targets+=("$name")
  done
fi
ninja -C "$BUILD" "${targets[@]/#/tests/fuzz/fuzz-}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
findings="$PWD/$BUILD/fuzz-findings"
rm -rf "$findings"

# Criticals are bugs; LSan knows our third-party one-time allocations.
export G_DEBUG=fatal-criticals
export LC_ALL=C.UTF-8
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
# (a fatal critical is a SIGTRAP: handled, so libFuzzer keeps the input)
# intercept_tls_get_addr=0: see __asan_default_options in daemon/smd-main.c
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:handle_sigtrap=1:intercept_tls_get_addr=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

root="$PWD"
run_target() {
  local name="$1" dir="$work/$1" rc=0
  mkdir -p "$dir/corpus"
  cp -r "tests/fuzz/corpus/$name/." "$dir/corpus/"
  # in its own directory: whatever it writes stays in the temporary one
  (cd "$dir" && "$root/$BUILD/tests/fuzz/fuzz-$name" \
      -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$dir/" corpus >"$dir/log" 2>&1) || rc=$?
  echo "$rc" >"$dir/rc"
}

echo "== fuzzing ${#targets[@]} targets, ${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time =="
for name in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$FUZZ_JOBS" ]; do
    wait -n || true
  done
  run_target "$name" &
done
wait

failed=()
for name in "${targets[@]}"; do
  if [ "$(cat "$work/$name/rc" 2>/dev/null)" = 0 ]; then
    status=ok
  else
    status=FAILED
    failed+=("$name")
  fi
  log="$work/$name/log"
  # "#123 DONE cov: 456 ft: 789 corp: 12/3Kb lim: 4096 exec/s: 2057 rss: 60Mb"
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
  runs="$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' || true)"
  printf '%-16s %-6s runs: %-9s %s\n' "$name" "$status" "${runs:-?}" \
    "${done_line:-$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)}"
  if [ "$status" = FAILED ]; then
    mkdir -p "$findings/$name"
    cp "$log" "$findings/$name/log"
    find "$work/$name" -maxdepth 1 -type f \
      \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
      -exec cp {} "$findings/$name/" \;
    echo "---- $name: the finding (input and log in $findings/$name/)"
    grep -E -A40 '==ERROR|ERROR: libFuzzer|runtime error|CRITICAL|ERROR:' "$log" | head -n 60 || tail -n 40 "$log"
    echo "----"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "Fuzzing found problems in: ${failed[*]}"
  echo "Add each input to tests/fuzz/corpus/TARGET/ under a name that says what it is (tests/fuzz/README.md)."
  exit 1
fi
echo "Fuzzing found nothing."
