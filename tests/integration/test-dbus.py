#!/usr/bin/python3
"""The admin API on a private D-Bus: the real daemon with --session-bus,
called with gdbus as a script or the admin app would. Registration
requests, setting a phone number (which releases the held message into an
invitation), removing it, typed errors, the event log, statistics; and a
daemon that checks authorization refuses callers it cannot authorize."""

import http.client
import os
import re
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, make_message, ok, wait_for  # noqa: E402

DEST = ["--dest", "org.secumailer.Gateway1", "--object-path", "/org/secumailer/Gateway1"]


start_bus = smdtest.start_bus


def start_monitor(address, path):
    """gdbus monitor of the daemon's signals into @path, once it listens
    (it says whose the name is after its match rule is in place)."""
    monitor = smdtest._spawn(["gdbus", "monitor", "--session", "--dest",
                              "org.secumailer.Gateway1"],
                             env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address),
                             stdout=open(path, "w"), stderr=subprocess.DEVNULL)
    wait_for(lambda: "is owned by" in open(path).read(), 10)
    return monitor


def gdbus(address, method, *args):
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    p = subprocess.run(["gdbus", "call", "--session", *DEST, "--method",
                        "org.secumailer.Gateway1." + method, *args],
                       capture_output=True, text=True, env=env, timeout=20)
    return p.returncode, (p.stdout + p.stderr).strip()


def test_admin_api():
    bus, address = start_bus()
    portal_port = smdtest.free_port()
    try:
        with TestMX() as plain, TestMX(starttls=True) as org, \
                Gateway({"plain.test": plain, "org.test": org},
                        extra={"portal": {"listen": f"127.0.0.1:{portal_port}",
                                          "public-url": "http://127.0.0.1:8080"}},
                        args=["--session-bus", "--no-polkit"],
                        env={"DBUS_SESSION_BUS_ADDRESS": address}) as gw:
            ok(wait_for(lambda: gdbus(address, "GetStatistics")[0] == 0, 20),
               "the daemon owns org.secumailer.Gateway1", gdbus(address, "GetStatistics"))
            monitor_out = os.path.join(gw.workdir, "monitor.txt")
            monitor = start_monitor(address, monitor_out)
            gw.send("doctor@org.test", "pat@plain.test",
                    smdtest.make_message("doctor@org.test", "pat@plain.test", "Lab results =?utf-8?q?f=C3=BCr?= you", "y\n"))
            ok(wait_for(lambda: "pat@plain.test" in gdbus(address, "ListRegistrationRequests")[1], 20),
               "the pending request is listed")
            rc, out = gdbus(address, "ListRegistrationRequests")
            ok("['doctor@org.test']" in out and out.rstrip(")],").endswith("uint32 1"),
               "with its sender and one waiting message", out)

            ok(wait_for(lambda: "EventAdded ('registration-requested'" in open(monitor_out).read(), 10),
               "EventAdded signals follow the log", open(monitor_out).read()[-300:])
            seen = open(monitor_out).read()
            ok("RegistrationRequested ('pat@plain.test', 'doctor@org.test')" in seen,
               "RegistrationRequested names recipient and sender", seen[-600:])
            ok("'pat@plain.test', 'held')" in seen and
               "'pat@plain.test', 'awaiting-registration')" in seen,
               "StatusChanged follows the recipient's states", seen[-600:])
            monitor.terminate()
            rc, out = gdbus(address, "ListMessages", "{'state': <'awaiting-registration'>}", "0", "10")
            ok(rc == 0 and "'doctor@org.test'" in out and "[('pat@plain.test', 'awaiting-registration')]" in out,
               "ListMessages filtered by state", out)
            rc, out = gdbus(address, "ListMessages", "{'state': <'delivered'>}", "0", "10")
            ok(rc == 0 and out == "(@a(sxssta(ss)) [],)", "no message matches another state", out)
            rc, out = gdbus(address, "ListMessages", "{'address': <'PAT@plain.test'>}", "0", "10")
            ok(rc == 0 and "pat@plain.test" in out, "ListMessages by address", out)
            ok("'Lab results für you'" in out, "with the subject, decoded (opened from its sealed form)", out)
            sealed = gw.query("SELECT subject FROM messages WHERE notification = 0")[0]["subject"]
            ok(isinstance(sealed, bytes) and len(sealed) > 1 + 12 + 16,
               "the subject is stored sealed, not in the clear", repr(sealed))
            qid0 = gw.query("SELECT queue_id FROM messages WHERE notification = 0")[0]["queue_id"]
            rc, out = gdbus(address, "GetMessage", qid0)
            ok(rc == 0 and "'state': <'awaiting-registration'>" in out and "'held'" in out
               and "'received'" in out, "GetMessage: recipients and history", out[-400:])
            rc, out = gdbus(address, "GetMessage", "nosuchqueueid")
            ok(rc != 0 and "Error.NotFound" in out, "GetMessage of an unknown id: NotFound", out)

            rc, out = gdbus(address, "SetPhone", "pat@plain.test", "06 1234")
            ok(rc != 0 and "org.secumailer.Gateway1.Error.InvalidData" in out,
               "an invalid number: a typed error", out)
            rc, out = gdbus(address, "SetPhone", "pat@plain.test", "06 12345678")
            ok(rc == 0 and "+31 6" in out and "12345678" not in out, "SetPhone answers masked", out)
            ok(wait_for(lambda: plain.messages(), 20),
               "the held message is released into an invitation")
            ok(gw.recipient_states(raw=True) == [("pat@plain.test", "invited")], "recipient invited")
            rc, out = gdbus(address, "ListRegistrationRequests")
            ok(rc == 0 and "pat@plain.test" not in out, "the request is gone", out)

            rc, out = gdbus(address, "ListPhones", "PAT@", "0", "10")
            ok(rc == 0 and "('pat@plain.test', '+31612345678', 'dbus:" in out,
               "ListPhones: the directory entry, who registered it", out)
            rc, out = gdbus(address, "ListPhones", "nobody", "0", "10")
            ok(rc == 0 and out == "(@a(ssssx) [],)", "ListPhones searches the address", out)
            rc, out = gdbus(address, "ReadEvents", "0", "100")
            ok(rc == 0 and "'received'" in out and "'registration-requested'" in out
               and "'phone-registered'" in out and "by=<dbus:" in out,
               "the event log, with the caller of SetPhone", out[-500:])
            ok(re.search(r"by=<dbus::[0-9.]+ uid=%d user=\S+>" % os.getuid(), out) is not None,
               "named by the user behind the bus name, who outlasts it", out[-500:])
            rc, newest = gdbus(address, "ReadEvents", "--", "-1", "2")
            import re as _re
            ids = [int(i) for i in _re.findall(r"\((?:int64 )?(\d+), (?:int64 )?\d+, '", newest)]
            last = gw.query("SELECT max(id) AS m FROM events")[0]["m"]
            ok(rc == 0 and ids == [last - 1, last], "a negative cursor: the newest events, in order",
               newest)
            rc, later = gdbus(address, "ReadEvents", "1000000", "10")
            ok(rc == 0 and later == "(@a(xxssssss) [],)", "nothing after the last cursor", later)
            rc, out = gdbus(address, "GetStatistics")
            ok(rc == 0 and "'invited': uint32 1" in out and "'received-today': <uint32 1>" in out,
               "statistics per state", out)
            ok(out.endswith(", 0, 0, 1, 0)]>},)"),
               "and per day: today's recipient is still waiting", out)

            ctl = ctl_binary()
            env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
            p = subprocess.run([ctl, "--session", "stats"], capture_output=True, text=True, env=env)
            ok(p.returncode == 0 and "invited" in p.stdout, "secumailerctl stats", p.stdout + p.stderr)
            p = subprocess.run([ctl, "--session", "log"], capture_output=True, text=True, env=env)
            ok(p.returncode == 0 and "phone-registered" in p.stdout, "secumailerctl log",
               p.stdout[-300:] + p.stderr)
            p = subprocess.run([ctl, "--session", "log"], capture_output=True, text=True,
                               env=dict(env, LANGUAGE="nl", LC_ALL="C.UTF-8"))
            ok(p.returncode == 0 and "Bericht ontvangen" in p.stdout
               and "Message received" not in p.stdout,
               "secumailerctl log in Dutch: the daemon's English event texts translated",
               p.stdout[-300:] + p.stderr)
            p = subprocess.run([ctl, "--session", "log", "-n", "1"], capture_output=True,
                               text=True, env=env)
            newest = gw.query("SELECT kind FROM events ORDER BY id DESC LIMIT 1")[0]["kind"]
            ok(p.returncode == 0 and len([ln for ln in p.stdout.splitlines()
                                          if not ln.startswith("    ")]) == 1
               and newest in p.stdout, "secumailerctl log -n 1: the newest event, like tail",
               p.stdout)
            p = subprocess.run([ctl, "--session", "log", "-n", "0"], capture_output=True,
                               text=True, env=env)
            ok(p.returncode == 2 and "--lines must be from 1 to 1000" in p.stderr,
               "and a count out of range is a usage error (2)", p.stderr)
            p = subprocess.run([ctl, "--session", "phones", "nobody-like-this"],
                               capture_output=True, text=True, env=env)
            ok(p.returncode == 0 and "No phone number matches “nobody-like-this”" in p.stdout,
               "a search that finds nothing says so (not 'no numbers registered')", p.stdout)
            p = subprocess.run([ctl, "--session", "bogus"], capture_output=True, text=True,
                               env=dict(env, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent"))
            ok(p.returncode == 2 and "Unknown command or wrong arguments: bogus" in p.stderr,
               "a command that is none: a usage error (2), also with no gateway to ask",
               p.stderr)
            p = subprocess.run([ctl, "--session", "phones"], capture_output=True, text=True, env=env)
            ok(p.returncode == 0 and "pat@plain.test" in p.stdout and "+31612345678" in p.stdout,
               "secumailerctl phones", p.stdout + p.stderr)
            p = subprocess.run([ctl, "--session", "set-phone", "x@plain.test", "12"],
                               capture_output=True, text=True, env=env)
            ok(p.returncode != 0 and "country code" in p.stderr, "secumailerctl: a clear error",
               p.stderr)
            p = subprocess.run([ctl.encode(), b"--session", b"phones", b"\xfe"],
                               capture_output=True, env=env)
            ok(p.returncode == 1 and b"Argument 1 is not valid UTF-8" in p.stderr
               and b"CRITICAL" not in p.stderr,
               "an argument that is not UTF-8: refused, not sent mangled", p.stdout + p.stderr)
            p = subprocess.run([ctl, "--session", "messages", "--state", "invited"],
                               capture_output=True, text=True, env=env)
            ok(p.returncode == 0 and "pat@plain.test" in p.stdout and "invited" in p.stdout,
               "secumailerctl messages --state", p.stdout + p.stderr)
            p = subprocess.run([ctl, "--session", "messages", "--state", "bogus"],
                               capture_output=True, text=True, env=env)
            ok(p.returncode == 1 and "Unknown state “bogus”" in p.stderr
               and "awaiting-registration" in p.stderr and "quarantined" in p.stderr,
               "an unknown --state is refused, with the list of states", p.stdout + p.stderr)
            p = subprocess.run([ctl, "--session", "messages", "--state", "bounced"],
                               capture_output=True, text=True, env=env)
            ok(p.returncode == 0 and p.stdout.strip() == "No messages.",
               "no such messages: says so", p.stdout + p.stderr)
            qid1 = gw.query("SELECT queue_id FROM messages WHERE notification = 0")[0]["queue_id"]
            p = subprocess.run([ctl, "--session", "message", qid1], capture_output=True, text=True,
                               env=env)
            ok(p.returncode == 0 and "received" in p.stdout and "invited" in p.stdout,
               "secumailerctl message", p.stdout + p.stderr)
            p = subprocess.run([ctl, "--session", "requests"], capture_output=True, text=True,
                               env=env)
            ok(p.returncode == 0 and "No pending" in p.stdout, "secumailerctl requests", p.stdout)

            qid0 = gw.query("SELECT queue_id FROM messages WHERE notification = 0")[0]["queue_id"]
            rc, out = gdbus(address, "ResendInvitation", qid0, "pat@plain.test")
            ok(rc == 0 and wait_for(lambda: len(plain.messages()) == 2, 20),
               "ResendInvitation sends a new invitation", out)
            rc, out = gdbus(address, "ResendInvitation", qid0, "other@plain.test")
            ok(rc != 0 and "Error.NotFound" in out, "not for someone without a held message", out)
            rc, out = gdbus(address, "Reload")
            ok(rc == 0 and "configuration reloaded" in gw.log(), "Reload", out)
            with open(gw.config_path, "a") as f:
                f.write("\n[nonsense]\n")
            rc, out = gdbus(address, "Reload")
            ok(rc != 0 and "Error.Config" in out and "[nonsense]" in out,
               "Reload of a broken file: a typed error naming it", out)

            con = sqlite3.connect(gw.db_path, timeout=10)
            with con:
                con.execute("UPDATE links SET locked = 1, failures = 10 WHERE kind = 'recipient'")
            con.close()
            rc, out = gdbus(address, "UnlockRecipient", "Pat@plain.test")
            ok(rc == 0 and "uint32 2" in out and
               gw.query("SELECT locked, failures FROM links WHERE kind = 'recipient'")[0]["locked"] == 0,
               "UnlockRecipient unlocks the locked links (both invitations')", out)
            rc, out = gdbus(address, "UnlockRecipient", "Pat@plain.test")
            ok(rc == 0 and "uint32 0" in out and len(gw.events("unlocked")) == 1,
               "unlocking again unlocks nothing, and logs nothing",
               f"{out} {len(gw.events('unlocked'))} events")
            qid = gw.query("SELECT queue_id FROM messages WHERE notification = 0")[0]["queue_id"]
            rc, out = gdbus(address, "RevokeMessage", qid)
            ok(rc == 0 and gw.recipient_states(raw=True) == [("pat@plain.test", "revoked")],
               "RevokeMessage withdraws it", out)
            ok(gw.query("SELECT wrapped_key FROM messages WHERE queue_id = ?", (qid,))[0]["wrapped_key"]
               is None and not gw.query("SELECT 1 FROM bodies b JOIN messages m ON m.id = b.message_id "
                                        "WHERE m.queue_id = ?", (qid,)),
               "its body and key are destroyed")
            rc, out = gdbus(address, "RevokeMessage", qid)
            ok(rc != 0 and "Error.NotFound" in out, "revoking again: NotFound", out)
            import http.client
            import re as _re
            mtoken = _re.findall(r"/m/([A-Za-z0-9_-]{32})",
                                 plain.messages()[0][0].decode().replace("=\r\n", ""))[0]
            con = http.client.HTTPConnection("127.0.0.1", portal_port, timeout=10)
            con.request("GET", f"/m/{mtoken}")
            resp = con.getresponse()
            page = resp.read()
            ok(resp.status == 410 and b"withdrawn" in page, "the link says the message was withdrawn",
               resp.status)

            con = sqlite3.connect(gw.db_path, timeout=10)
            with con:  # a pin sent a moment ago
                con.execute("INSERT OR REPLACE INTO pins (link_id, pin_mac, created_at, expires_at) "
                            "SELECT id, 'x', 0, strftime('%s', 'now') + 600 FROM links "
                            "WHERE kind = 'recipient' AND address = 'pat@plain.test'")
            con.close()
            rc, out = gdbus(address, "RemovePhone", "pat@plain.test")
            ok(rc == 0, "RemovePhone", out)
            ok(gw.query("SELECT count(*) AS n FROM pins")[0]["n"] == 0,
               "a pin sent to the removed number opens nothing any more")
            rc, out = gdbus(address, "RemovePhone", "pat@plain.test")
            ok(rc != 0 and "org.secumailer.Gateway1.Error.NotFound" in out,
               "removing it again: NotFound", out)
    finally:
        bus.terminate()
        bus.wait(5)


def test_events_announced_once_stored():
    """EventAdded is sent once the event is stored, so the admin app finds
    it when it reads the log: on a slow disk (each flush a second late) a
    portal event was announced before its commit, and the read found
    nothing."""
    slow = os.path.join(smdtest.tmpdir("sync-"), "slow")
    env = smdtest.failsync_env("events announced once stored", SMD_SLOW_SYNC=slow)
    if env is None:
        return
    bus, address = start_bus()
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    pport = smdtest.free_port()
    try:
        with TestMX() as plain, TestMX(starttls=True) as org, \
                Gateway({"plain.test": plain, "org.test": org},
                        extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                          "public-url": f"http://127.0.0.1:{pport}"}},
                        args=["--session-bus", "--no-polkit"], env=env) as gw:
            ok(wait_for(lambda: gdbus(address, "GetStatistics")[0] == 0, 20),
               "the daemon owns org.secumailer.Gateway1")
            token = smdtest.held_message_link(gw, plain)
            ok(token is not None, "the invitation is sent")
            monitor_out = os.path.join(gw.workdir, "monitor.txt")
            monitor = start_monitor(address, monitor_out)
            open(slow, "w").close()
            con = http.client.HTTPConnection("127.0.0.1", pport, timeout=20)
            con.request("GET", f"/m/{token}")
            ok(con.getresponse().status == 200, "the recipient opens the link")
            con.close()
            announced = wait_for(lambda: "EventAdded ('page-opened'" in open(monitor_out).read(),
                                 10)
            stored = gw.query("SELECT count(*) AS n FROM events WHERE kind = 'page-opened'")
            os.unlink(slow)
            monitor.terminate()
            ok(announced and stored[0]["n"] == 1,
               "when EventAdded comes, the event is in the store", repr(stored))
    finally:
        bus.terminate()
        bus.wait(5)


def test_flush():
    """secumailerctl flush: deferred mail is tried now, not at its retry
    time an hour away (postqueue -f), per domain or all of it."""
    bus, address = start_bus()
    port = smdtest.free_port()  # nothing listens here yet
    mx = TestMX(starttls=True, port=port)
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    try:
        with TestMX(starttls=True) as other, \
                Gateway({"tls.test": port, "other.test": other},
                        {"delivery": {"retry-schedule": "1h", "connect-timeout": "2s"}},
                        args=["--session-bus", "--no-polkit"],
                        env={"DBUS_SESSION_BUS_ADDRESS": address}) as gw:
            ok(wait_for(lambda: gdbus(address, "GetStatistics")[0] == 0, 20),
               "the daemon owns org.secumailer.Gateway1")
            gw.send("a@sender.test", "b@tls.test", make_message("a@sender.test", "b@tls.test"))
            ok(wait_for(lambda: gw.recipient_states() == [("b@tls.test", "deferred")], 20),
               "its next hop down: deferred for an hour", repr(gw.recipient_states()))
            ctl = ctl_binary()
            p = subprocess.run([ctl, "--session", "flush", "other.test"], capture_output=True,
                               text=True, env=env)
            ok(p.returncode == 0 and "0 deliveries due now" in p.stdout,
               "flush of another domain: nothing of it", p.stdout + p.stderr)
            with mx:
                time.sleep(1)
                ok(gw.recipient_states() == [("b@tls.test", "deferred")],
                   "the next hop back: still waiting for its retry time")
                p = subprocess.run([ctl, "--session", "flush", "TLS.test"],
                                   capture_output=True, text=True, env=env)
                ok(p.returncode == 0 and "1 delivery due now" in p.stdout,
                   "secumailerctl flush DOMAIN (any case)", p.stdout + p.stderr)
                ok(wait_for(lambda: gw.recipient_states() == [("b@tls.test", "delivered")], 15),
                   "delivered at once", repr(gw.recipient_states()))
                ok(len(mx.wait_messages(1)) == 1, "once")
            p = subprocess.run([ctl, "--session", "flush"], capture_output=True, text=True,
                               env=env)
            ok(p.returncode == 0 and "0 deliveries due now" in p.stdout,
               "secumailerctl flush with nothing waiting", p.stdout + p.stderr)
            ok("flush of TLS.test: waiting deliveries made due: 1" in gw.log(), "the log says so",
               gw.log()[-600:])
    finally:
        bus.terminate()
        bus.wait(5)


def test_paging_by_keyset():
    bus, address = start_bus()
    try:
        with TestMX(starttls=True) as org, \
                Gateway({"org.test": org}, args=["--session-bus", "--no-polkit"],
                        env={"DBUS_SESSION_BUS_ADDRESS": address}) as gw:
            ok(wait_for(lambda: gdbus(address, "GetStatistics")[0] == 0, 20), "daemon up")
            ok("--no-polkit: anyone who can reach this session bus may use the admin API "
               "unchecked" in gw.log(), "--no-polkit is said loudly in the log", gw.log()[-500:])
            for i in range(3):
                gw.send("a@org.test", f"r{i}@org.test",
                        smdtest.make_message("a@org.test", f"r{i}@org.test", f"m{i}", "x\n"))
            qids = [r["queue_id"] for r in
                    gw.query("SELECT queue_id FROM messages WHERE notification = 0 ORDER BY id")]
            ok(len(qids) == 3, "three messages", qids)
            rc, out = gdbus(address, "ListMessages", "{}", "0", "1")
            ok(rc == 0 and qids[2] in out and qids[1] not in out, "the first page: the newest", out)
            rc, out = gdbus(address, "ListMessages", f"{{'older-than': <'{qids[2]}'>}}", "0", "1")
            ok(rc == 0 and qids[1] in out and qids[2] not in out, "older-than: the next page", out)
            rc, out = gdbus(address, "ListMessages", f"{{'newer-than': <'{qids[0]}'>}}", "0", "10")
            ok(rc == 0 and out.index(qids[1]) < out.index(qids[2]) and qids[0] not in out,
               "newer-than: what came after, oldest first", out)
            rc, out = gdbus(address, "ListMessages", "{'address-prefix': <'R1@'>}", "0", "10")
            ok(rc == 0 and qids[1] in out and qids[0] not in out and qids[2] not in out,
               "address-prefix: a recipient by the beginning of the address", out)
            rc, out = gdbus(address, "ListMessages", "{'address-prefix': <'A@ORG'>}", "0", "10")
            ok(rc == 0 and all(q in out for q in qids), "address-prefix: the sender too", out)
            rc, out = gdbus(address, "ListMessages", "{'address-prefix': <'zz'>}", "0", "10")
            ok(rc == 0 and out == "(@a(sxssta(ss)) [],)", "address-prefix: nothing begins so", out)
            rc, out = gdbus(address, "ListMessages", "{'older-than': <'nosuchid'>}", "0", "10")
            ok(rc == 0 and out == "(@a(sxssta(ss)) [],)", "an unknown queue id: nothing", out)
            for method in ("UnlockRecipient", "RemovePhone"):
                rc, out = gdbus(address, method, "")
                ok(rc != 0 and "InvalidData" in out, f"{method}(''): not an address, an error",
                   out)
            rc, out = gdbus(address, "GetMessage", "q" * 100000)
            ok(rc != 0 and "InvalidArgs" in out and len(out) < 300,
               "a 100 KB argument: refused, and not echoed back", out[:300])
            rc, out = gdbus(address, "ListMessages", "{'adress': <'r1@org.test'>}", "0", "10")
            ok(rc != 0 and "InvalidArgs" in out and "adress" in out,
               "an unknown filter is an error, not the whole list", out)
            rc, out = gdbus(address, "ListMessages", "{'since': <'yesterday'>}", "0", "10")
            ok(rc != 0 and "InvalidArgs" in out and "since" in out and "“x”" in out,
               "a filter of the wrong type is an error that names the type", out)
    finally:
        bus.terminate()
        bus.wait(5)


def ctl_binary():
    return os.environ.get("SECUMAILERCTL") or os.path.join(smdtest.ROOT, "build", "daemon",
                                                           "secumailerctl")


def test_unauthorized_callers_refused():
    bus, address = start_bus()
    try:
        with TestMX() as plain, \
                Gateway({"plain.test": plain}, args=["--session-bus"],
                        env={"DBUS_SESSION_BUS_ADDRESS": address,
                             "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent"}) as gw:
            ok(wait_for(lambda: "AccessDenied" in gdbus(address, "GetStatistics")[1], 20),
               "without --no-polkit and without an authority: AccessDenied",
               gdbus(address, "GetStatistics"))
            rc, out = gdbus(address, "SetPhone", "pat@plain.test", "06 12345678")
            ok(rc != 0 and "AccessDenied" in out and gw.query("SELECT * FROM phones") == [],
               "and nothing changes", out)
            env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
            p = subprocess.run([ctl_binary(), "--session", "stats"], capture_output=True,
                               text=True, env=env)
            ok(p.returncode == 4 and "Not authorized" in p.stderr,
               "secumailerctl, not authorized: exit status 4", (p.returncode, p.stderr))
        # the gateway has stopped; the bus is still there
        p = subprocess.run([ctl_binary(), "--session", "stats"], capture_output=True, text=True,
                           env=env)
        ok(p.returncode == 3 and "Cannot reach the SecuMailer service" in p.stderr,
           "secumailerctl, no gateway on the bus: exit status 3", (p.returncode, p.stderr))
        p = subprocess.run([ctl_binary(), "--session", "stats"], capture_output=True, text=True,
                           env=dict(env, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent"))
        ok(p.returncode == 3 and "Cannot reach the SecuMailer service" in p.stderr,
           "secumailerctl, no bus: exit status 3", (p.returncode, p.stderr))
    finally:
        bus.terminate()
        bus.wait(5)


def test_bus_restart():
    """The bus going away (a restart of dbus) does not stop the gateway:
    mail keeps flowing, and the admin API is back once the bus is."""
    path = os.path.join(smdtest.tmpdir("bus-"), "bus")
    address = f"unix:path={path}"

    def bus():
        proc = smdtest._spawn(["dbus-daemon", "--session", "--nofork", "--address", address],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok(wait_for(lambda: os.path.exists(path), 10), "the bus is up")
        return proc
    first = bus()
    with TestMX(starttls=True) as org, \
            Gateway({"org.test": org}, args=["--session-bus", "--no-polkit"],
                    env={"DBUS_SESSION_BUS_ADDRESS": address}) as gw:
        ok(wait_for(lambda: gdbus(address, "GetStatistics")[0] == 0, 20), "admin API up")
        first.terminate()
        first.wait(5)
        if os.path.exists(path):
            os.unlink(path)
        time.sleep(1)
        ok(gw.running, "the bus went: the gateway still runs")
        gw.send("a@org.test", "r@org.test", smdtest.make_message("a@org.test", "r@org.test",
                                                                 "after the bus", "x\n"))
        ok(wait_for(lambda: len(org.messages()) == 1, 20), "and delivers mail")
        ok("lost the connection to the bus" in gw.log(), "it says so in its log",
           gw.log()[-600:])
        second = bus()
        try:
            ok(wait_for(lambda: gdbus(address, "GetStatistics")[0] == 0, 20),
               "the bus is back: so is the admin API", gdbus(address, "GetStatistics"))
            rc, out = gdbus(address, "ListMessages", "{}", "0", "10")
            ok(rc == 0 and "after the bus" in out, "with everything in it", out)
        finally:
            second.terminate()
            second.wait(5)


def test_signals_only_for_staff():
    """The signals say who mails whom: with the shipped bus policy only
    root and the staff group receive them, not any local user."""
    conf = os.path.join(smdtest.ROOT, "data", "org.secumailer.Gateway1.conf")
    address = f"unix:abstract=/smdtest-bus-{os.getpid()}"
    bus_conf = os.path.join(smdtest.tmpdir("bus-"), "bus.conf")
    with open(bus_conf, "w") as f:
        f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>{address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
  <policy user="root"><allow own="*"/></policy>
  <include>{conf}</include>
</busconfig>
""")
    bus = smdtest._spawn(["dbus-daemon", "--nofork", "--config-file", bus_conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    monitors = []
    try:
        with TestMX(starttls=True) as org, \
                Gateway({"org.test": org}, args=["--session-bus", "--no-polkit"],
                        env={"DBUS_SESSION_BUS_ADDRESS": address}) as gw:
            ok(wait_for(lambda: gdbus(address, "GetStatistics")[0] == 0, 20), "admin API up")
            logs = {}
            for who, prefix in (("root", []),
                                ("nobody", ["setpriv", "--reuid=65534", "--regid=65534",
                                            "--clear-groups"])):
                logs[who] = os.path.join(gw.workdir, f"monitor-{who}.txt")
                with open(logs[who], "w") as out:
                    monitors.append(smdtest._spawn(
                        prefix + ["gdbus", "monitor", "--address", address, *DEST[:2]],
                        stdout=out, stderr=subprocess.STDOUT))

            def seen(who):
                with open(logs[who]) as f:
                    return f.read()
            ok(wait_for(lambda: all("is owned by" in seen(w) for w in logs), 10),
               "both monitors are listening", str({w: seen(w) for w in logs}))
            gw.send("doctor@org.test", "patient@org.test",
                    smdtest.make_message("doctor@org.test", "patient@org.test", "x", "x\n"))
            ok(wait_for(lambda: "patient@org.test" in seen("root"), 20),
               "root receives the signals", seen("root"))
            time.sleep(0.5)
            ok("EventAdded" not in seen("nobody") and "patient@org.test" not in seen("nobody"),
               "another local user does not", seen("nobody"))
    finally:
        for m in monitors:
            m.terminate()
        bus.terminate()
        bus.wait(5)


def start_polkit(system_address):
    """python3-dbusmock's polkitd on a private 'system' bus."""
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=system_address)
    proc = smdtest._spawn([smdtest.PYTHON, "-m", "dbusmock", "--system", "--template", "polkitd"],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok(wait_for(lambda: subprocess.run(
        ["gdbus", "introspect", "--system", "--dest", "org.freedesktop.PolicyKit1",
         "--object-path", "/org/freedesktop/PolicyKit1/Authority"],
        env=env, capture_output=True).returncode == 0, 20), "mock polkit authority is up")
    return proc, env


def polkit_allow(env, actions):
    subprocess.run(["gdbus", "call", "--system", "--dest", "org.freedesktop.PolicyKit1",
                    "--object-path", "/org/freedesktop/PolicyKit1/Authority", "--method",
                    "org.freedesktop.DBus.Mock.SetAllowed", repr(actions)],
                   env=env, check=True, capture_output=True)


def test_polkit_decides():
    try:
        import dbusmock  # noqa: F401
    except ImportError:
        smdtest.skip("polkit decides", "python3-dbusmock is not installed")
        return
    bus, address = start_bus()
    system, system_address = start_bus()
    try:
        _, env = start_polkit(system_address)
        polkit_allow(env, ["org.secumailer.Gateway1.view-messages"])
        with TestMX() as plain, TestMX(starttls=True) as org, \
                Gateway({"plain.test": plain, "org.test": org},
                        extra={"portal": {"listen": f"127.0.0.1:{smdtest.free_port()}",
                                          "public-url": "http://127.0.0.1:8080"}},
                        args=["--session-bus"],
                        env={"DBUS_SESSION_BUS_ADDRESS": address,
                             "DBUS_SYSTEM_BUS_ADDRESS": system_address}) as gw:
            ok(wait_for(lambda: gdbus(address, "GetStatistics")[0] == 0, 20),
               "an allowed action works", gdbus(address, "GetStatistics"))
            gw.send("doctor@org.test", "pat@plain.test",
                    smdtest.make_message("doctor@org.test", "pat@plain.test", "x", "y\n"))
            wait_for(lambda: gw.recipient_states(raw=True) == [("pat@plain.test",
                                                                 "awaiting-registration")], 20)
            rc, out = gdbus(address, "SetPhone", "pat@plain.test", "06 12345678")
            ok(rc != 0 and "AccessDenied" in out, "a caller without manage-recipients is refused", out)
            ok(gw.query("SELECT * FROM phones") == [] and plain.messages() == [], "and nothing changes")
            rc, out = gdbus(address, "ReadEvents", "0", "10")
            ok(rc != 0 and "AccessDenied" in out, "view-log is its own action", out)
            # a caller that hangs up right after calling (dbus-send without
            # --print-reply does not wait for the answer) never acts either
            hangup = ["dbus-send", "--session", "--type=method_call",
                      "--dest=org.secumailer.Gateway1", "/org/secumailer/Gateway1",
                      "org.secumailer.Gateway1.SetPhone", "string:pat@plain.test",
                      "string:06 12345678"]
            benv = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
            for _ in range(5):
                subprocess.run(hangup, env=benv, check=True, timeout=10)
            time.sleep(1)
            ok(gw.query("SELECT * FROM phones") == [] and plain.messages() == [] and
               gdbus(address, "GetStatistics")[0] == 0,
               "an unauthorized caller that hangs up: nothing changes, the daemon still answers")
            polkit_allow(env, ["org.secumailer.Gateway1.view-messages",
                               "org.secumailer.Gateway1.manage-recipients"])
            rc, out = gdbus(address, "SetPhone", "pat@plain.test", "06 12345678")
            ok(rc == 0 and wait_for(lambda: plain.messages(), 20),
               "once authorized, SetPhone works and releases the message", out)
            hangup[-1] = "string:06 87654321"
            subprocess.run(hangup, env=benv, check=True, timeout=10)
            ok(wait_for(lambda: gw.query("SELECT number FROM phones")[0]["number"] ==
                        "+31687654321", 10) and gdbus(address, "GetStatistics")[0] == 0,
               "an authorized caller that hangs up: the change is made, the daemon survives "
               "the reply it cannot deliver")
    finally:
        for b in (bus, system):
            b.terminate()
            b.wait(5)


def test_no_polkit_needs_session_bus():
    with TestMX() as plain:
        gw = Gateway({"plain.test": plain}, args=["--no-polkit"])
        try:
            gw.start(timeout=5)
            started = True
        except smdtest.GatewayError as e:
            started = False
            ok("only allowed together with --session-bus" in str(e), "the daemon says why", str(e)[-300:])
        ok(not started, "--no-polkit without --session-bus is refused")
        if started:
            gw.stop(check=False)


if __name__ == "__main__":
    smdtest.main([test_admin_api, test_events_announced_once_stored, test_flush,
                  test_paging_by_keyset, test_unauthorized_callers_refused, test_polkit_decides,
                  test_no_polkit_needs_session_bus, test_bus_restart, test_signals_only_for_staff])
