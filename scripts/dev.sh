#!/bin/bash
# Installs what is needed, builds, and starts the gateway on loopback with
# a development configuration in which the whole story can be tried on one
# machine:
#   - secumailerd on 127.0.0.1:2525 (STARTTLS with a generated certificate)
#   - stand-in recipient servers (tests/integration/testmx.py):
#       tls.example   → 127.0.0.1:2601, with STARTTLS
#       plain.example → 127.0.0.1:2602, without STARTTLS (mail is held)
#       example.org   → 127.0.0.1:2603, the organisation's own server
#                       (bounces and notifications land here)
# Everything lives in _dev/; received mail in _dev/mail/<domain>/*.eml.
# Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEV="$ROOT/_dev"

bash scripts/install-deps.sh
[ -d build ] || meson setup build
ninja -C build

mkdir -p "$DEV/state" "$DEV/mail"
chmod 700 "$DEV/state"
if [ ! -f "$DEV/cert.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$DEV/key.pem" -out "$DEV/cert.pem" -days 365 \
    -subj "/CN=gateway.example.org" \
    -addext "subjectAltName=DNS:gateway.example.org,DNS:localhost,IP:127.0.0.1" 2>/dev/null
  chmod 600 "$DEV/key.pem"
fi

cat > "$DEV/secumailer.conf" <<CONF
[smtp]
listen = 127.0.0.1:2525
hostname = gateway.example.org
relay-networks = 127.0.0.0/8;::1/128
tls-certificate = $DEV/cert.pem
tls-key = $DEV/key.pem

[delivery]
# every other domain to the organisation's stand-in: nothing leaves this machine
routes = tls.example=127.0.0.1:2601;plain.example=127.0.0.1:2602;example.org=127.0.0.1:2603;*=127.0.0.1:2603
tls-policy = encrypt
retry-schedule = 30s;1m;5m

[portal]
listen = 127.0.0.1:8080
public-url = http://127.0.0.1:8080

[sms]
provider = file
path = $DEV/sms.jsonl

[store]
directory = $DEV/state

[organisation]
name = Example Organisation
notify-from = secure-mail@example.org
language = nl+en
CONF

# the translations as built in the tree
export SECUMAILER_LOCALEDIR="$ROOT/build/po"

PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

MX="/usr/bin/python3 $ROOT/tests/integration/testmx.py"
$MX --listen 127.0.0.1:2601 --maildir "$DEV/mail/tls.example" --starttls \
    --cert "$DEV/cert.pem" --key "$DEV/key.pem" --hostname mx.tls.example &
PIDS+=($!)
$MX --listen 127.0.0.1:2602 --maildir "$DEV/mail/plain.example" --hostname mx.plain.example &
PIDS+=($!)
$MX --listen 127.0.0.1:2603 --maildir "$DEV/mail/example.org" --starttls \
    --cert "$DEV/cert.pem" --key "$DEV/key.pem" --hostname mx.example.org &
PIDS+=($!)

# the admin API on a session bus (a private one when there is none)
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  DBUS_SESSION_BUS_ADDRESS=$(dbus-daemon --session --fork --print-address=1 --print-pid=3 3>"$DEV/dbus.pid")
  export DBUS_SESSION_BUS_ADDRESS
  PIDS+=("$(cat "$DEV/dbus.pid")")
  echo "DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS" > "$DEV/dbus.env"
fi

echo
echo "SecuMailer is starting on 127.0.0.1:2525. Try:"
echo "  swaks --server 127.0.0.1:2525 --tls --from alice@example.org --to bob@tls.example,carol@plain.example"
echo "Delivered mail: $DEV/mail/tls.example/   Held: sqlite3 $DEV/state/secumailer.db 'select address,state from recipients'"
echo "Portal: http://127.0.0.1:8080   SMS: $DEV/sms.jsonl"
echo "Admin API: DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS gdbus call --session --dest org.secumailer.Gateway1 --object-path /org/secumailer/Gateway1 --method org.secumailer.Gateway1.ListRegistrationRequests"
echo
G_MESSAGES_DEBUG="${G_MESSAGES_DEBUG:-}" "$ROOT/build/daemon/secumailerd" --config "$DEV/secumailer.conf" --session-bus --no-polkit &
DAEMON=$!
PIDS+=($DAEMON)

# the admin app, where there is a display (its settings schema from the
# build tree)
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$ROOT/build/gui/secumailer-admin" ]; then
  GSETTINGS_SCHEMA_DIR="$ROOT/build/data" "$ROOT/build/gui/secumailer-admin" --session-bus &
  PIDS+=($!)
else
  echo "No display: the admin app (build/gui/secumailer-admin --session-bus) is not started."
fi
wait "$DAEMON"
