#!/bin/bash
# A DESTDIR install puts every file in its place, and the installed systemd
# unit passes systemd-analyze verify. Arguments: the build folder.
set -euo pipefail
build="$1"
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
  'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
status=0
for f in sbin/secumailerd bin/secumailerctl \
         etc/secumailer/secumailer.conf.sample \
         lib/systemd/system/secumailer.service \
         lib/sysusers.d/secumailer.conf \
         share/dbus-1/system-services/org.secumailer.Gateway1.service \
         share/dbus-1/system.d/org.secumailer.Gateway1.conf \
         share/dbus-1/interfaces/org.secumailer.Gateway1.xml \
         share/polkit-1/actions/org.secumailer.Gateway1.policy \
         share/polkit-1/rules.d/org.secumailer.Gateway1.rules \
         bin/secumailer-admin \
         share/applications/org.secumailer.Admin.desktop \
         share/metainfo/org.secumailer.Admin.metainfo.xml \
         share/glib-2.0/schemas/org.secumailer.Admin.gschema.xml \
         share/icons/hicolor/scalable/apps/org.secumailer.Admin.svg \
         share/icons/hicolor/symbolic/apps/org.secumailer.Admin-symbolic.svg; do
  if [ -e "$dest$prefix/$f" ]; then
    echo "ok: $prefix/$f"
  else
    echo "missing: $prefix/$f"; status=1
  fi
done

# the translations went into the data files, and the catalogue is installed
for check in "share/applications/org.secumailer.Admin.desktop:GenericName\\[nl\\]=" \
             "share/metainfo/org.secumailer.Admin.metainfo.xml:xml:lang=\"nl\"" \
             "share/polkit-1/actions/org.secumailer.Gateway1.policy:xml:lang=\"nl\""; do
  f="${check%%:*}"; pattern="${check#*:}"
  if grep -q "$pattern" "$dest$prefix/$f"; then
    echo "ok: Dutch in $f"
  else
    echo "no Dutch in $f"; status=1
  fi
done
if [ -f "$dest$prefix/share/locale/nl/LC_MESSAGES/secumailer.mo" ]; then
  echo "ok: share/locale/nl/LC_MESSAGES/secumailer.mo"
else
  echo "missing: share/locale/nl/LC_MESSAGES/secumailer.mo"; status=1
fi

# verify the unit as installed, with ExecStart pointing into the DESTDIR
if command -v systemd-analyze >/dev/null; then
  unit="$dest/secumailer.service"
  sed "s|^ExecStart=$prefix/sbin/secumailerd|ExecStart=$dest$prefix/sbin/secumailerd|" \
    "$dest$prefix/lib/systemd/system/secumailer.service" > "$unit"
  if systemd-analyze verify --man=no "$unit"; then
    echo "ok: systemd-analyze verify"
  else
    status=1
  fi
fi
exit $status
