#!/bin/bash
# clang-tidy over our C sources with the checked-in .clang-tidy, against
# the compile commands of the build it runs in. Any warning fails.
# usage: check-tidy.sh SOURCE_ROOT BUILD_ROOT
set -uo pipefail
src="$1"
build="$2"
cd "$src" || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# two at a time: the machine has two cores and the suite runs beside it
printf '%s\n' daemon/*.c gui/*.c |
	xargs -P 2 -n 4 clang-tidy -p "$build" --quiet --warnings-as-errors='*' >"$log" 2>&1
status=$?
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$log" || true
if [ "$status" -ne 0 ]; then
	echo "clang-tidy found problems (see above); fix them or explain a suppression in .clang-tidy"
	exit 1
fi
echo "clang-tidy: no warnings"
