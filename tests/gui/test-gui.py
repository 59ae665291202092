#!/usr/bin/python3
"""The admin app under Xvfb, against the real secumailerd on a private
session bus. test-admin-driver drives the widgets; this script starts
everything, plays the other side (the portal, stopping and starting the
daemon) when the driver asks, and checks the daemon's side of what the
driver did: the phone number stored, the held message released."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import smdtest  # noqa: E402
from smdtest import Browser, Gateway, TestMX, ok, wait_for  # noqa: E402


def start_xvfb():
    proc = smdtest._spawn(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24",
                           "-nolisten", "tcp", "-nolisten", "unix"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    display = proc.stdout.readline().strip()
    if not display:
        raise RuntimeError("Xvfb did not start")
    return proc, ":" + display


def gdbus_ok(address):
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    return subprocess.run(["gdbus", "call", "--session", "--dest", "org.secumailer.Gateway1",
                           "--object-path", "/org/secumailer/Gateway1", "--method",
                           "org.secumailer.Gateway1.GetStatistics"],
                          env=env, capture_output=True, timeout=20).returncode == 0


def run_driver(driver, env, args, on_step):
    """Runs test-admin-driver, turning its lines into TAP; on "STEP name"
    calls on_step(name), then lets the driver go on. Returns True when
    anything failed."""
    proc = smdtest._spawn(os.environ.get("SMA_DRIVER_WRAPPER", "").split() + [driver, *args],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    failed = False
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith("PASS "):
            ok(True, line[5:])
        elif line.startswith("FAIL "):
            ok(False, line[5:])
            failed = True
        elif line.startswith("SCREENSHOT "):
            smdtest.diag("screenshot: " + line[11:])
        elif line.startswith("STEP "):
            name = line[5:]
            on_step(name)
            open(os.path.join(env["SMA_SYNC"], name + ".go"), "w").close()
        elif line.strip():
            smdtest.diag(line)
    rc = proc.wait(timeout=30)
    ok(rc == 0 and not failed, f"the driver {' '.join(args)} finished", f"exit status {rc}")
    return failed or rc != 0


def test_admin_app():
    driver = os.environ.get("SMA_DRIVER")
    artefacts = os.environ.get("SMA_ARTEFACTS") or smdtest.tmpdir("gui-")
    if not driver or not os.access(driver, os.X_OK):
        smdtest.skip("admin app", "test-admin-driver is not built")
        return
    xvfb, display = start_xvfb()
    bus, address = smdtest.start_bus()
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"}},
                    args=["--session-bus", "--no-polkit"],
                    env={"DBUS_SESSION_BUS_ADDRESS": address}) as gw:
        ok(wait_for(lambda: gdbus_ok(address), 20), "the daemon is on the private bus")
        gw.send("doctor@org.test", "colleague@org.test",
                smdtest.make_message("doctor@org.test", "colleague@org.test", "Rota", "Hi\n"))
        gw.send("doctor@org.test", "pat@plain.test",
                smdtest.make_message("doctor@org.test", "pat@plain.test", "Lab results",
                                     "Results\n"))
        ok(wait_for(lambda: sorted(gw.recipient_states(raw=True)) ==
                    [("colleague@org.test", "delivered"), ("pat@plain.test", "awaiting-registration")],
                    20), "one message delivered over TLS, one waits for a number",
           gw.recipient_states(raw=True))

        def on_step(name):
            if name == "stored":
                ok(gw.query("SELECT number FROM phones WHERE address = 'pat@plain.test'")
                   == [{"number": "+31612345678"}], "the daemon has the number")
                ok(wait_for(lambda: plain.messages(), 20) and
                   gw.recipient_states(raw=True).count(("pat@plain.test", "invited")) == 1,
                   "the held message was released into an invitation")
                ev = gw.events("phone-registered")
                ok(len(ev) == 1 and "by=<dbus:" in ev[0]["detail"],
                   "logged as registered by the app's caller", repr(ev))
                gw.send("nurse@org.test", "new@plain.test",
                        smdtest.make_message("nurse@org.test", "new@plain.test", "Hello", "Hi\n"))
            elif name == "pin":
                raw = plain.messages()[0][0].decode("utf-8", "replace").replace("=\r\n", "")
                token = re.findall(r"/m/([A-Za-z0-9_-]{32})", raw)[0]
                b = Browser(pport)
                b.request("GET", f"/m/{token}")
                resp, _ = b.request("POST", f"/m/{token}/pin", {"csrf": b.csrf()})
                ok(resp.status == 303, "the recipient requests a pin on the portal", resp.status)
            elif name == "changed":
                ok(gw.query("SELECT number FROM phones WHERE address = 'pat@plain.test'")
                   == [{"number": "+31687654321"}], "the daemon has the changed number")
            elif name == "removed":
                ok(gw.query("SELECT number FROM phones WHERE address = 'pat@plain.test'")
                   == [], "the daemon forgot the number")
            elif name == "stop-daemon":
                gw.stop()
                ok(not gw.running, "the daemon is stopped")
            elif name == "start-daemon":
                gw.start()
                ok(wait_for(lambda: gdbus_ok(address), 20), "the daemon runs again")
            elif name == "many-requests":
                many = [f"p{i:02d}@plain.test" for i in range(30)]
                gw.send("doctor@org.test", many,
                        smdtest.make_message("doctor@org.test", many, "Results", "Hi\n"))
            elif name == "kill-bus":
                bus.kill()
                bus.wait(5)

        env = dict(os.environ, DISPLAY=display, DBUS_SESSION_BUS_ADDRESS=address,
                   SMA_SYNC=smdtest.tmpdir("sync-"), SMA_ARTEFACTS=artefacts,
                   GSETTINGS_BACKEND="memory", GSK_RENDERER="cairo", GDK_BACKEND="x11",
                   NO_AT_BRIDGE="1", GTK_A11Y="none", LC_ALL="C.UTF-8")
        env.pop("WAYLAND_DISPLAY", None)
        env.pop("LANGUAGE", None)
        # LeakSanitizer off for the app only (ASan, UBSan on; the daemon is
        # leak-checked): each run lists 200-240 KB in 7000-8400 blocks kept by
        # fontconfig, Pango and Mesa (partly unsymbolised), with stacks cut
        # off deep in GTK's layout before any frame of ours. Suppressing
        # those libraries whole would hide leaks of ours made through them.
        if "ASAN_OPTIONS" in env:
            env["ASAN_OPTIONS"] += ":detect_leaks=0"
        run_driver(driver, env, [], on_step)
        # the same app under LANGUAGE=nl (C.UTF-8 lets gettext follow LANGUAGE)
        ok(wait_for(lambda: gdbus_ok(address), 20), "the daemon runs for the Dutch app")
        run_driver(driver, dict(env, LANGUAGE="nl", SMA_SYNC=smdtest.tmpdir("sync-")),
                   ["dutch"], on_step)
        # last: the app talks to the daemon over the "system" bus, which then
        # goes away (the app's own session bus stays, as on a desktop)
        own_bus, own_address = smdtest.start_bus()
        run_driver(driver, dict(env, DBUS_SYSTEM_BUS_ADDRESS=address,
                                DBUS_SESSION_BUS_ADDRESS=own_address,
                                SMA_SYNC=smdtest.tmpdir("sync-")), ["bus-gone"], on_step)
        ok(gw.running, "the gateway outlives its bus too")
        own_bus.terminate()
        shots = sorted(f for f in os.listdir(artefacts) if f.endswith(".png"))
        ok(all(f"{p}.png" in shots for p in ("requests", "deliveries", "recipients", "log",
                                              "overview", "unreachable", "overview-nl")),
           "a screenshot of every page, and in Dutch", shots)
    bus.terminate()
    xvfb.terminate()


if __name__ == "__main__":
    smdtest.main([test_admin_app])
