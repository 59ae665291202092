#!/usr/bin/python3
"""SMTP intake protocol: relay control, command sequencing, limits,
STARTTLS handling and the small commands."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, ok  # noqa: E402
from gwtest import Raw, gateway_or_skip  # noqa: E402

GW = {}  # the shared gateways, started in main()


def queued(gw):
    try:
        return gw.query("SELECT count(*) AS n FROM messages")[0]["n"]
    except Exception:
        return 0


def session(gw, ehlo=True):
    c = Raw(gw.port)
    c.greeting = c.reply()
    if ehlo:
        c.ehlo = c.cmd(b"EHLO client.test")
    return c


def ehlo_keywords(reply):
    return [line[4:].decode().upper() for line in reply.rstrip(b"\r\n").split(b"\r\n")[1:]]


def test_relay_denied():
    gw = GW["denied"]
    c = Raw(gw.port)
    greeting = c.reply()
    ok(greeting.startswith(b"554 5.7.1"), "non-relay client: greeting 554 5.7.1", repr(greeting))
    for cmd in (b"EHLO client.test", b"HELO client.test", b"MAIL FROM:<a@sender.test>",
                b"RCPT TO:<b@tls.test>", b"DATA", b"NOOP", b"STARTTLS"):
        r = c.cmd(cmd)
        ok(r.startswith(b"554 5.7.1"), f"non-relay client: {cmd.split()[0].decode()} → 554 5.7.1",
           repr(r))
    ok(c.cmd(b"QUIT").startswith(b"221"), "non-relay client: QUIT → 221")
    c.close()
    ok(queued(gw) == 0, "non-relay client: nothing queued")


def test_ehlo_extensions():
    gw = GW["main"]
    c = session(gw)
    ok(c.greeting.startswith(b"220 gateway.test "), "greeting 220 with hostname", repr(c.greeting))
    kw = ehlo_keywords(c.ehlo)
    ok(c.ehlo.startswith(b"250-gateway.test"), "EHLO reply names the hostname", repr(c.ehlo))
    for ext in ("PIPELINING", "8BITMIME", "STARTTLS", "ENHANCEDSTATUSCODES"):
        ok(ext in kw, f"EHLO advertises {ext}", repr(kw))
    ok(f"SIZE {100 * 1024}" in kw, "EHLO advertises SIZE = max-message-size in bytes", repr(kw))
    ok(c.cmd(b"HELO client.test").startswith(b"250 "), "HELO → 250")
    ok(c.cmd(b"VRFY postmaster").startswith(b"252"), "VRFY → 252")
    ok(c.cmd(b"NOOP").startswith(b"250"), "NOOP → 250")
    ok(c.cmd(b"RSET").startswith(b"250"), "RSET → 250")
    ok(c.cmd(b"FROBNICATE now").startswith(b"500"), "unknown command → 500")
    ok(c.cmd(b"QUIT").startswith(b"221"), "QUIT → 221")
    ok(c.closed_by_peer(), "connection closed after QUIT")


def test_sequence_errors():
    gw = GW["main"]
    c = session(gw, ehlo=False)
    r = c.cmd(b"MAIL FROM:<a@sender.test>")
    ok(r.startswith(b"503 5.5.1"), "MAIL before EHLO → 503 5.5.1", repr(r))
    r = c.cmd(b"RCPT TO:<b@tls.test>")
    ok(r.startswith(b"503 5.5.1"), "RCPT before EHLO/MAIL → 503 5.5.1", repr(r))
    c.cmd(b"EHLO client.test")
    r = c.cmd(b"RCPT TO:<b@tls.test>")
    ok(r.startswith(b"503 5.5.1"), "RCPT before MAIL → 503 5.5.1", repr(r))
    r = c.cmd(b"DATA")
    ok(r.startswith(b"503 5.5.1"), "DATA before MAIL → 503 5.5.1", repr(r))
    ok(c.cmd(b"MAIL FROM:<a@sender.test>").startswith(b"250"), "MAIL → 250")
    r = c.cmd(b"DATA")
    ok(r.startswith(b"503 5.5.1"), "DATA before RCPT → 503 5.5.1", repr(r))
    r = c.cmd(b"MAIL FROM:<a@sender.test>")
    ok(r.startswith(b"503 5.5.1"), "nested MAIL → 503 5.5.1", repr(r))
    r = c.cmd(b"STARTTLS")
    ok(r.startswith(b"503"), "STARTTLS inside a transaction → 503", repr(r))
    c.cmd(b"QUIT")
    c.close()
    ok(queued(gw) == 0, "nothing queued")


def test_size_limits():
    gw = GW["main"]
    c = session(gw)
    r = c.cmd(b"MAIL FROM:<a@sender.test> SIZE=%d" % (100 * 1024 + 1))
    ok(r.startswith(b"552 5.3.4"), "MAIL SIZE= over the limit → 552 5.3.4", repr(r))
    r = c.cmd(b"MAIL FROM:<a@sender.test> SIZE=" + b"9" * 30)
    ok(r.startswith(b"552 5.3.4"), "SIZE= past 2^64 is a number, too large → 552 5.3.4", repr(r))
    for bad in (b"SIZE=", b"SIZE=12k", b"SIZE=-1"):
        r = c.cmd(b"MAIL FROM:<a@sender.test> " + bad)
        ok(r.startswith(b"501 5.5.4"), f"{bad!r} is not a number → 501 5.5.4", repr(r))
    ok(c.cmd(b"MAIL FROM:<a@sender.test> SIZE=1000").startswith(b"250"),
       "MAIL SIZE= under the limit → 250")
    c.cmd(b"RCPT TO:<b@tls.test>")
    ok(c.cmd(b"DATA").startswith(b"354"), "DATA → 354")
    body = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 110
    c.send(body + b".\r\n")
    r = c.reply()
    ok(r.startswith(b"552 5.3.4"), "message over max-message-size → 552 5.3.4", repr(r))
    r = c.cmd(b"RSET")
    ok(r.startswith(b"250"), "session usable after 552", repr(r))
    c.cmd(b"QUIT")
    c.close()
    ok(queued(gw) == 0, "oversize message not queued", repr(queued(gw)))


def test_long_text_line():
    gw = GW["big"]
    c = session(gw)
    c.cmd(b"MAIL FROM:<a@sender.test>")
    c.cmd(b"RCPT TO:<b@tls.test>")
    c.cmd(b"DATA")
    c.send(b"Subject: long line\r\n\r\n" + b"z" * 16385 + b"\r\n.\r\n")
    r = c.reply()
    ok(r.startswith(b"554 5.6.0"), "text line > 16384 bytes → 554 5.6.0", repr(r))
    c.close()
    # 16384 bytes (incl. CRLF? up to the limit) — a line just under is fine
    c = session(gw)
    c.cmd(b"MAIL FROM:<a@sender.test>")
    c.cmd(b"RCPT TO:<b@tls.test>")
    c.cmd(b"DATA")
    c.send(b"Subject: long line ok\r\n\r\n" + b"z" * 16000 + b"\r\n.\r\n")
    r = c.reply()
    ok(r.startswith(b"250 2.0.0"), "text line of 16000 bytes accepted", repr(r))
    c.cmd(b"QUIT")
    c.close()


def test_header_section_limit():
    gw = GW["big"]
    before = queued(gw)
    c = session(gw)
    c.cmd(b"MAIL FROM:<a@sender.test>")
    c.cmd(b"RCPT TO:<b@tls.test>")
    c.cmd(b"DATA")
    headers = b"".join(b"X-Filler-%05d: %s\r\n" % (i, b"h" * 180) for i in range(1500))
    ok(len(headers) > 256 * 1024, "test header section exceeds 256 KiB", repr(len(headers)))
    c.send(b"Subject: many headers\r\n" + headers + b"\r\nbody\r\n.\r\n")
    r = c.reply()
    ok(r.startswith(b"552 5.3.4"), "header section > 256 KiB → 552 5.3.4", repr(r))
    c.close()
    ok(queued(gw) == before, "not queued")


def test_long_command_line():
    gw = GW["main"]
    c = session(gw)
    c.send(b"MAIL FROM:<" + b"a" * 2100 + b"@sender.test>\r\nNOOP\r\n")
    r = c.reply()
    ok(r.startswith(b"554 5.5.2"), "command line > 2048 bytes → 554 5.5.2", repr(r))
    ok(c.closed_by_peer(), "connection closed after the over-long command line")
    c = session(gw)
    r = c.cmd(b"NOOP " + b"n" * 1900)
    ok(r.startswith(b"250"), "a 1906-byte command line is fine", repr(r))
    c.close()


def test_too_many_recipients():
    gw = GW["main"]
    c = session(gw)
    c.cmd(b"MAIL FROM:<a@sender.test>")
    replies = [c.cmd(b"RCPT TO:<r%d@tls.test>" % i) for i in range(5)]
    ok(all(r.startswith(b"250") for r in replies[:3]), "first 3 recipients accepted", repr(replies))
    ok(all(r.startswith(b"452 4.5.3") for r in replies[3:]),
       "recipients beyond max-recipients=3 → 452 4.5.3", repr(replies))
    c.cmd(b"DATA")
    c.send(b"Subject: three\r\n\r\nx\r\n.\r\n")
    r = c.reply()
    ok(r.startswith(b"250 2.0.0"), "message for the 3 accepted recipients queued", repr(r))
    c.cmd(b"QUIT")
    c.close()
    qid = r.split()[-1].decode()
    rows = gw.query("SELECT r.address FROM recipients r JOIN messages m ON m.id = r.message_id "
                    "WHERE m.queue_id = ? ORDER BY r.id", (qid,))
    ok([x["address"] for x in rows] == ["r0@tls.test", "r1@tls.test", "r2@tls.test"],
       "stored recipients are exactly the 3 accepted", repr(rows))


def test_starttls_pipelined_plaintext_discarded():
    gw = GW["main"]
    c = session(gw)
    c.send(b"STARTTLS\r\nRSET\r\n")
    r = c.reply()
    ok(r.startswith(b"220"), "STARTTLS → 220", repr(r))
    ok(c.buf == b"", "nothing after the 220 in plaintext", repr(c.buf))
    c.starttls()
    r = c.cmd(b"EHLO client.test")
    ok(r.startswith(b"250-gateway.test"),
       "first reply inside TLS answers EHLO (the pipelined RSET was not answered)", repr(r))
    r = c.cmd(b"NOOP")
    ok(r.startswith(b"250 ") and c.buf == b"", "replies in sync", repr((r, c.buf)))
    c.close()
    # Pipelined MAIL must not survive into the TLS session either.
    c = session(gw)
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@sender.test>\r\n")
    c.reply()
    c.starttls()
    c.cmd(b"EHLO client.test")
    r = c.cmd(b"RCPT TO:<b@tls.test>")
    ok(r.startswith(b"503"), "a MAIL pipelined before the handshake was discarded", repr(r))
    c.close()


def test_after_starttls():
    gw = GW["main"]
    c = session(gw)
    ok(c.cmd(b"STARTTLS").startswith(b"220"), "STARTTLS → 220")
    c.starttls()
    r = c.cmd(b"MAIL FROM:<a@sender.test>")
    ok(r.startswith(b"503"), "EHLO required again after STARTTLS (MAIL → 503)", repr(r))
    r = c.cmd(b"EHLO client.test")
    kw = ehlo_keywords(r)
    ok(r.startswith(b"250") and "STARTTLS" not in kw, "STARTTLS not offered inside TLS", repr(kw))
    ok("PIPELINING" in kw and "ENHANCEDSTATUSCODES" in kw, "other extensions still offered",
       repr(kw))
    r = c.cmd(b"STARTTLS")
    ok(r[:1] == b"5", "second STARTTLS refused with 5xx", repr(r))
    ok(c.cmd(b"MAIL FROM:<a@sender.test>").startswith(b"250"), "MAIL after EHLO in TLS → 250")
    c.cmd(b"QUIT")
    c.close()


def test_max_sessions_and_idle_timeout():
    gw = GW["small"]
    a = session(gw, ehlo=False)
    b = session(gw, ehlo=False)
    ok(a.greeting.startswith(b"220") and b.greeting.startswith(b"220"), "two sessions accepted")
    c = Raw(gw.port)
    try:
        r = c.reply()
    except ConnectionError as e:
        r = repr(e).encode()
    ok(r.startswith(b"421"), "third session with max-sessions=2 → 421", repr(r))
    c.close()
    t0 = time.monotonic()
    try:
        r = a.reply()
    except (ConnectionError, OSError) as e:
        r = repr(e).encode()
    ok(r.startswith(b"421 4.4.2") and 1.5 < time.monotonic() - t0 < 8,
       "idle-timeout 2s → 421 4.4.2", f"{r!r} after {time.monotonic() - t0:.1f}s")
    ok(a.closed_by_peer(), "idle connection closed")
    a.close()
    b.close()


def _abort(c):
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def test_abrupt_clients():
    gw = GW["small"]
    c = session(gw)
    ok(c.cmd(b"STARTTLS").startswith(b"220"), "STARTTLS → 220")
    c.send(b"NOT A TLS CLIENT HELLO\r\n" * 10)
    ok(c.closed_by_peer(5), "failed inbound TLS handshake: connection closed")
    c.close()
    c = session(gw)
    c.cmd(b"MAIL FROM:<a@sender.test>")
    c.cmd(b"RCPT TO:<b@tls.test>")
    c.cmd(b"DATA")
    c.send(b"Subject: partial\r\n\r\nabc\r\n")
    _abort(c)
    for _ in range(4):
        c = Raw(gw.port)
        c.reply()
        _abort(c)
    for _ in range(2):
        c = session(gw)
        c.cmd(b"STARTTLS")
        c.starttls()
        _abort(c)
    time.sleep(0.5)
    a, b = Raw(gw.port), Raw(gw.port)
    ra, rb = a.reply(), b.reply()
    ok(ra.startswith(b"220") and rb.startswith(b"220"),
       "aborted sessions freed their max-sessions slots", repr((ra, rb)))
    a.close()
    b.close()
    ok(queued(gw) == 0, "message cut off mid-DATA not queued", repr(queued(gw)))
    ok(gw.running, "daemon survived abrupt clients")


def test_idle_timeout_in_data():
    gw = GW["small"]
    time.sleep(0.3)
    c = session(gw)
    c.cmd(b"MAIL FROM:<a@sender.test>")
    c.cmd(b"RCPT TO:<b@tls.test>")
    c.cmd(b"DATA")
    c.send(b"Subject: stalled\r\n\r\nabc\r\n")
    try:
        r = c.reply()
    except (ConnectionError, OSError) as e:
        r = repr(e).encode()
    ok(r.startswith(b"421 4.4.2"), "idle client in the middle of DATA → 421 4.4.2", repr(r))
    c.close()
    ok(queued(gw) == 0, "incomplete message not queued")


def test_message_memory():
    """Many large messages at once cannot take the daemon's memory: past
    [smtp] max-message-memory (1M here) a message is read to its end and
    gets 452 4.3.1, to come back later, and goes once there is room. One
    message alone always fits, even one larger than the bound."""
    gw = GW["memory"]
    before = queued(gw)
    a = session(gw)
    a.cmd(b"MAIL FROM:<a@sender.test>")
    a.cmd(b"RCPT TO:<b@tls.test>")
    ok(a.cmd(b"DATA").startswith(b"354"), "a large message begins")
    a.send(b"Subject: large\r\n\r\n" + (b"x" * 998 + b"\r\n") * 600)  # 600 KB, not ended
    time.sleep(1)
    small = b"Subject: small\r\n\r\n" + (b"y" * 998 + b"\r\n") * 100 + b".\r\n"
    b = session(gw)
    b.cmd(b"MAIL FROM:<a@sender.test>")
    b.cmd(b"RCPT TO:<b@tls.test>")
    b.cmd(b"DATA")
    b.send(small)
    r = b.reply()
    ok(r.startswith(b"452 4.3.1"), "meanwhile another message gets 452 4.3.1 at its end",
       repr(r))
    ok("max-message-memory" in gw.log(), "and the log says why", gw.log()[-300:])
    ok(b.cmd(b"RSET").startswith(b"250"), "that session goes on")
    a.send(b".\r\n")
    r = a.reply()
    ok(r.startswith(b"250"), "the large one, alone over the bound, is taken", repr(r))
    b.cmd(b"MAIL FROM:<a@sender.test>")
    b.cmd(b"RCPT TO:<b@tls.test>")
    b.cmd(b"DATA")
    b.send(small)
    r = b.reply()
    ok(r.startswith(b"250"), "sent again, the other one is taken too", repr(r))
    for c in (a, b):
        c.cmd(b"QUIT")
        c.close()
    ok(queued(gw) == before + 2, "both are queued", repr(queued(gw)))


def main():
    gateway_or_skip()
    with TestMX(starttls=True) as mx:
        GW["main"] = Gateway({"tls.test": mx}, {"smtp": {"max-message-size": "100K",
                                                         "max-recipients": 3}})
        GW["big"] = Gateway({"tls.test": mx}, {"smtp": {"max-message-size": "25M"}})
        GW["denied"] = Gateway({"tls.test": mx}, {"smtp": {"relay-networks": "10.0.0.0/8"}})
        GW["memory"] = Gateway({"tls.test": mx}, {"smtp": {"max-message-memory": "1M"}})
        GW["small"] = Gateway({"tls.test": mx}, {"smtp": {"max-sessions": 2,
                                                          "idle-timeout": "2s"}})
        status = 1
        try:
            for gw in GW.values():
                gw.start()
            smdtest.main([test_relay_denied, test_ehlo_extensions, test_sequence_errors,
                          test_size_limits, test_long_text_line, test_header_section_limit,
                          test_long_command_line, test_too_many_recipients,
                          test_starttls_pipelined_plaintext_discarded, test_after_starttls,
                          test_max_sessions_and_idle_timeout, test_abrupt_clients,
                          test_idle_timeout_in_data, test_message_memory])
        except SystemExit as e:
            status = e.code
        finally:
            for gw in GW.values():
                if status:
                    smdtest.diag(f"--- {gw.log_path} ---\n" + gw.log()[-3000:])
                gw.stop(check=False)
                if gw.proc is not None and gw.proc.returncode < 0 and gw.proc.returncode != -15:
                    status = 1
                    smdtest.diag(f"daemon exit status {gw.proc.returncode}")
    sys.exit(status)


if __name__ == "__main__":
    main()
