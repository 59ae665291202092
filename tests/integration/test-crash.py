#!/usr/bin/python3
"""Crash safety: 250 after DATA means durably stored. 1000 messages over 20
parallel sessions, SIGKILL of the daemon mid-stream, restart on the same
state: every message that got a 250 reaches the TLS sink intact
(duplicates are fine — at-least-once — missing ones are not)."""

import hashlib
import os
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, ok, wait_for  # noqa: E402
from gwtest import split_received, gateway_or_skip  # noqa: E402

SESSIONS = 20
TOTAL = 1000
KILL_AFTER = int(os.environ.get("SMDTEST_CRASH_KILL_AFTER", "400"))


def make(i):
    body = (f"crash test message {i}\r\n" + f"{i:06d}-" * (1 + i % 50) + "\r\n").encode()
    head = (f"From: s{i}@sender.test\r\nTo: r{i}@tls.test\r\n"
            f"Subject: crash {i}\r\nX-Crash-Id: {i}\r\n\r\n").encode()
    return head + body, hashlib.sha256(head + body).hexdigest()


class Sender:
    def __init__(self, gw):
        self.gw = gw
        self.lock = threading.Lock()
        self.accepted = {}  # id -> sha256 of what was sent
        self.errors = []
        self.next_id = 0
        self.stop = threading.Event()

    def take(self):
        with self.lock:
            if self.next_id >= TOTAL or self.stop.is_set():
                return None
            self.next_id += 1
            return self.next_id - 1

    def run(self):
        s = None
        try:
            s = smtplib.SMTP(self.gw.host, self.gw.port, local_hostname="client.test", timeout=30)
            s.ehlo("client.test")
            while True:
                i = self.take()
                if i is None:
                    break
                data, digest = make(i)
                s.mail(f"s{i}@sender.test")
                s.rcpt(f"r{i}@tls.test")
                code, resp = s.data(data)
                if code == 250:
                    with self.lock:
                        self.accepted[i] = digest
                else:
                    with self.lock:
                        self.errors.append((i, code, resp))
                    s.rset()
            s.quit()
        except (OSError, smtplib.SMTPException) as e:
            if not self.stop.is_set():
                with self.lock:
                    self.errors.append(("exception", repr(e)))
        finally:
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


def test_kill9_mid_stream():
    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
        sender = Sender(gw)
        threads = [threading.Thread(target=sender.run, daemon=True) for _ in range(SESSIONS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        reached = wait_for(lambda: len(sender.accepted) >= KILL_AFTER, 45, 0.005)
        sender.stop.set()
        gw.kill9()
        killed_at = len(sender.accepted)
        for t in threads:
            t.join(30)
        accepted = dict(sender.accepted)
        smdtest.diag(f"{killed_at} accepted at SIGKILL, {len(accepted)} in total, "
                     f"{len(mx.messages())} already at the sink, "
                     f"{time.monotonic() - t0:.1f}s")
        ok(reached, f"at least {KILL_AFTER} messages accepted before the kill",
           f"{len(accepted)} accepted; errors {sender.errors[:5]}")
        ok(not [e for e in sender.errors if e[0] != "exception"],
           "no message refused before the kill", repr(sender.errors[:5]))
        ok(len(accepted) < TOTAL, "the kill happened mid-stream", repr(len(accepted)))

        gw.start()

        def at_sink():
            found = {}
            for eml, meta in mx.messages():
                _, rest = split_received(eml)
                for line in rest.split(b"\r\n"):
                    if line.startswith(b"X-Crash-Id: "):
                        found.setdefault(int(line[12:]), set()).add(
                            hashlib.sha256(rest).hexdigest())
                        break
            return found

        def all_there():
            found = at_sink()
            return found if all(i in found for i in accepted) else None

        found = wait_for(all_there, 40, 0.5) or at_sink()
        missing = sorted(i for i in accepted if i not in found)
        ok(not missing, f"all {len(accepted)} accepted messages reached the sink",
           f"{len(missing)} missing, e.g. {missing[:20]}")
        corrupt = sorted(i for i in accepted if i in found and found[i] != {accepted[i]})
        ok(not corrupt, "every delivered copy is byte-identical to what was sent",
           f"{len(corrupt)} differ, e.g. {corrupt[:10]}")
        total_copies = len(mx.messages())
        smdtest.diag(f"{total_copies} copies at the sink for {len(found)} distinct messages")
        stuck = gw.query("SELECT r.address, r.state FROM recipients r "
                         "JOIN messages m ON m.id = r.message_id WHERE r.state != 'delivered'")
        ok(wait_for(lambda: not gw.query("SELECT 1 FROM recipients WHERE state != 'delivered'"), 20),
           "after restart no recipient is left undelivered",
           repr(stuck[:10]))
        queued = gw.query("SELECT count(*) AS n FROM messages")[0]["n"]
        ok(queued >= len(accepted), "store holds a row for every accepted message",
           f"{queued} rows < {len(accepted)}")


def test_sigterm_finishes_running_delivery():
    """SIGTERM while a delivery runs: the gateway stops taking mail, lets the
    delivery finish and records it, then exits; a restart sends nothing twice."""
    import signal
    from gwtest import FakeMX
    cert, key = smdtest.make_cert(smdtest.tmpdir("slow-"), "fake.test")
    with FakeMX("slowdata", cert=cert, key=key) as slow, \
            Gateway({"slow.test": slow.address}) as gw:
        gw.send("a@sender.test", "b@slow.test",
                smdtest.make_message("a@sender.test", "b@slow.test", "slow", "x\n"))
        ok(wait_for(lambda: any(b"DATA" in r for r in slow.received), 20), "delivery under way")
        gw.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        rc = gw.proc.wait(timeout=30)
        ok(rc == 0, "clean exit", rc)
        ok(time.monotonic() - t0 >= 1, "it waited for the running delivery")
        ok(gw.recipient_states() == [("b@slow.test", "delivered")] and len(slow.delivered) == 1,
           "the delivery finished and was recorded", repr(gw.recipient_states()))
        refused = False
        try:
            smdtest.send_mail(gw.port, "a@sender.test", "b@slow.test", b"Subject: x\r\n\r\ny\r\n",
                              timeout=3)
        except OSError:
            refused = True
        ok(refused, "no new mail is taken once stopped")
        gw.start()
        time.sleep(1.5)
        ok(len(slow.delivered) == 1, "after a restart nothing is delivered twice")


def test_sigterm_logs_stored_portal_events():
    """A portal event is logged once it is stored; a SIGTERM while the store
    writes it (each flush a second late here) waits for that, so the
    journal has it too, not the database only. New portal requests in the
    meantime are told to come back and start nothing the stop would wait
    for."""
    import http.client
    import re
    import signal
    slow = os.path.join(smdtest.tmpdir("sync-"), "slow")
    env = smdtest.failsync_env("portal events logged at a stop", SMD_SLOW_SYNC=slow)
    if env is None:
        return
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"}},
                    env=env) as gw:
        token = smdtest.held_message_link(gw, plain)
        ok(token is not None, "the invitation is sent")
        open(slow, "w").close()
        con = http.client.HTTPConnection("127.0.0.1", pport, timeout=20)
        con.request("GET", f"/m/{token}")
        ok(con.getresponse().status == 200, "the recipient opens the link")
        con.close()
        gw.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # the stop waits for the event's slow flush
        status, headers, body, _ = smdtest.raw_http(
            pport, f"GET /m/{token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        ok(status.startswith("HTTP/1.1 503") and b"The portal is restarting" in body
           and headers.get("retry-after") == "30",
           "meanwhile a new portal request gets 'restarting' with Retry-After, and starts "
           "nothing", f"{status} {body[-200:]!r}")
        rc = gw.proc.wait(timeout=30)
        os.unlink(slow)
        ok(rc == 0, "clean exit", rc)
        ok(re.search(r"page-opened to=<pat@plain.test>", gw.log()) is not None,
           "the page-opened event is in the log", gw.log()[-800:])
        ok(gw.query("SELECT count(*) AS n FROM events WHERE kind = 'page-opened'")[0]["n"] == 1,
           "and in the store")


def test_full_disk_delivers_once():
    """A delivery whose outcome the store cannot write down (a full disk) is
    not made again: the outcome is offered to the store until it takes it.
    It used to be queued again, and every retry sent the message once more."""
    full = os.path.join(smdtest.tmpdir("full-"), "full")
    env = smdtest.failsync_env("a full disk delivers once", SMD_FULL_WAL=full)
    if env is None:
        return
    with TestMX(starttls=True, data_replies="451 4.3.0 busy,250 2.0.0 fine") as mx, \
            Gateway({"tls.test": mx}, {"delivery": {"retry-schedule": "2s"}}, env=env) as gw:
        gw.send("a@sender.test", "b@tls.test", smdtest.make_message("a@sender.test",
                                                                   "b@tls.test"))
        ok(wait_for(lambda: gw.recipient_states() == [("b@tls.test", "deferred")], 20),
           "the first attempt is deferred (451)", repr(gw.recipient_states()))
        open(full, "w").close()
        ok(wait_for(lambda: len(mx.messages()) >= 1, 20), "the retry delivers")
        ok(wait_for(lambda: "cannot record delivery outcomes" in gw.log(), 10),
           "the log says its outcome cannot be recorded", gw.log()[-600:])
        time.sleep(9)  # four retry delays
        ok(len(mx.messages()) == 1, "it is not delivered again while the disk is full",
           f"{len(mx.messages())} copies")
        os.unlink(full)
        ok(wait_for(lambda: gw.recipient_states() == [("b@tls.test", "delivered")], 15),
           "with room again the outcome is recorded: delivered", repr(gw.recipient_states()))
        ok(len(mx.messages()) == 1, "one copy in all")
        ok(gw.running, "still running")


def test_flushes_per_message():
    """Only the commit before a 250 is flushed: at a low rate, one message
    at a time, each costs one fsync of the store's WAL, and its delivery's
    outcome rides along unflushed (a power cut may repeat a delivery, never
    lose a message)."""
    log = os.path.join(smdtest.tmpdir("sync-"), "syncs")
    env = smdtest.failsync_env("flushes per message", SMD_SYNC_LOG=log)
    if env is None:
        return

    def wal_syncs():
        with open(log) as f:
            return sum(1 for line in f if line.rstrip("\n").endswith("secumailer.db-wal"))

    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}, env=env) as gw:
        n = 5
        gw.send("a@sender.test", "b@tls.test",
                smdtest.make_message("a@sender.test", "b@tls.test", "warm-up", "x\n"))
        ok(wait_for(lambda: len(mx.messages()) == 1, 20), "warm-up delivered")
        time.sleep(0.5)
        before = wal_syncs()
        for i in range(n):
            gw.send("a@sender.test", "b@tls.test",
                    smdtest.make_message("a@sender.test", "b@tls.test", f"m{i}", "x\n"))
            ok(wait_for(lambda: len(mx.messages()) == 2 + i and
                        gw.recipient_states().count(("b@tls.test", "delivered")) == 2 + i, 20),
               f"message {i} delivered and recorded")
        syncs = wal_syncs() - before
        ok(syncs >= n, "every 250 came after a flush of the WAL", f"{syncs} for {n} messages")
        ok(syncs <= n + 1, "delivery outcomes are not flushed on their own",
           f"{syncs} WAL flushes for {n} messages")


if __name__ == "__main__":
    gateway_or_skip()
    smdtest.main([test_kill9_mid_stream, test_sigterm_finishes_running_delivery,
                  test_full_disk_delivers_once,
                  test_sigterm_logs_stored_portal_events,
                  test_flushes_per_message])
