#!/bin/bash
# Every catalogue in po/ compiles (msgfmt --check) and is complete: merged
# with a template made from the sources as they are now, no message is
# untranslated or fuzzy. Arguments: the source folder.
set -euo pipefail
root="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"

# the same keywords as po/meson.build (meson's glib preset and L_)
xgettext --files-from=po/POTFILES.in --directory=. --from-code=UTF-8 \
  --add-comments=TRANSLATORS --keyword=_ --keyword=N_ --keyword=C_:1c,2 \
  --keyword=NC_:1c,2 --keyword=g_dngettext:2,3 --keyword=L_:2 \
  --output="$tmp/secumailer.pot"
status=0
for lang in $(grep -v '^#' po/LINGUAS); do
  po="po/$lang.po"
  if ! msgfmt --check --output-file=/dev/null "$po"; then
    echo "$po: msgfmt --check fails"; status=1; continue
  fi
  msgmerge --quiet --no-fuzzy-matching "$po" "$tmp/secumailer.pot" -o "$tmp/$lang.po"
  untranslated=$(msgattrib --untranslated --no-obsolete "$tmp/$lang.po" | grep -c '^msgid ' || true)
  fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$tmp/$lang.po" | grep -c '^msgid ' || true)
  # msgattrib prints the header entry too when anything is left
  [ "$untranslated" -gt 0 ] && untranslated=$((untranslated - 1))
  [ "$fuzzy" -gt 0 ] && fuzzy=$((fuzzy - 1))
  if [ "$untranslated" -ne 0 ] || [ "$fuzzy" -ne 0 ]; then
    echo "$po: $untranslated untranslated, $fuzzy fuzzy messages:"
    msgattrib --untranslated --only-fuzzy --no-obsolete "$tmp/$lang.po" | grep -A1 '^msgid ' | head -40 || true
    msgattrib --untranslated --no-obsolete "$tmp/$lang.po" | grep -A1 '^msgid ' | head -40 || true
    status=1
  else
    echo "$po: complete"
  fi
done
exit $status
