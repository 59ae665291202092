#!/bin/bash
# Installs what building, running and testing SecuMailer needs on Debian 12.
# Safe to run again: it only calls apt-get when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  meson ninja-build pkg-config gcc gettext clang-format clang-tidy
  libglib2.0-dev libgmime-3.0-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev libsoup-3.0-dev
  libgtk-4-dev libadwaita-1-dev
  # run: TLS for GIO
  glib-networking
  # tests: real peers and tools (swaks needs Net::SSLeay for --tls), a real browser
  openssl swaks libnet-ssleay-perl postfix sqlite3 dbus libglib2.0-bin libxml2-utils polkitd python3-dbusmock systemd python3 clang libclang-rt-14-dev chromium fonts-dejavu-core
  # tests: the admin app on a virtual display, its data files validated
  xvfb desktop-file-utils appstream
)

missing=()
for p in "${PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != *"install ok installed"* ]]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  # postfix asks questions on install; it is only used for its tools and
  # is never started by our scripts
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node.js drives the browser tests; the machine image brings it, a bare
# Debian gets it from Debian
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
