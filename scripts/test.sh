#!/bin/bash
# Installs what is needed, builds with warnings as errors, and runs the
# whole test suite twice: a normal build (with clang-tidy) and an
# ASan+UBSan build with leak detection; then every fuzz target for a
# minute, the soak test's short form and the benchmarks' short forms.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# playwright-core only: it drives Debian's chromium, never downloads one
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

run_suite() {
  local dir="$1"; shift
  if [ ! -d "$dir" ]; then
    meson setup "$dir" -Dwarning_level=2 -Dwerror=true "$@"
  else
    meson configure "$dir" -Dwarning_level=2 -Dwerror=true "$@"
  fi
  ninja -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2
}

echo "== build and test =="
run_suite build-ci --buildtype=debugoptimized

echo "== ASan + UBSan build and test =="
run_suite build-asan --buildtype=debug -Db_sanitize=address,undefined

# Every fuzz target for a minute (clang, libFuzzer, ASan+UBSan); their
# seed corpora already ran as tests in both builds above.
echo "== fuzzing =="
bash scripts/fuzz.sh

# A minute of steady mixed load: nothing lost, memory and descriptors
# flat, no error events (this one judges, bench/README.md).
echo "== soak =="
/usr/bin/python3 bench/soak --smoke

# The benchmarks' short forms, so they cannot rot: they must run to the
# end and every message must arrive; their figures are not judged.
echo "== benchmark smoke runs =="
/usr/bin/python3 bench/relay --smoke
/usr/bin/python3 bench/scale --quick
/usr/bin/python3 bench/portal --smoke

echo "All test suites passed."
