#!/bin/bash
# Fails when a source with translatable strings is missing from
# po/POTFILES.in, or when POTFILES.in is not sorted.
set -euo pipefail
root="$1"
cd "$root"
listed=$(grep -v '^#' po/POTFILES.in | sed '/^$/d')
if [ "$listed" != "$(echo "$listed" | LC_ALL=C sort)" ]; then
  echo "po/POTFILES.in is not sorted"; exit 1
fi
status=0
# C sources with _() or N_(), .ui files with translatable properties, and
# the desktop, metainfo and polkit templates
for f in $( (grep -rlE --include='*.c' '(^|[^A-Za-z0-9_])(N|L)?_\(' daemon gui;
            grep -rl --include='*.ui' 'translatable="yes"' gui;
            ls data/*.desktop.in data/*.metainfo.xml.in data/*.policy.in) 2>/dev/null | LC_ALL=C sort -u); do
  # a here-string, not a pipe: grep -q stops reading at the first match,
  # and under pipefail echo's SIGPIPE would then count as "missing"
  if ! grep -qxF "$f" <<<"$listed"; then
    echo "missing from po/POTFILES.in: $f"; status=1
  fi
done
for f in $listed; do
  [ -f "$f" ] || { echo "listed but missing: $f"; status=1; }
done
exit $status
