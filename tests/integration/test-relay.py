#!/usr/bin/python3
"""Relay over STARTTLS: the message arrives at the MX byte-identical apart
from our Received header, and the recorded TLS facts are the real ones."""

import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, ok, wait_for  # noqa: E402
from gwtest import Raw, der_sha256, same_cipher, split_received, wait_settled, gateway_or_skip  # noqa: E402

# Dot lines, 8-bit bytes, trailing white space, a long line, a lone "." after
# stuffing, empty lines at the end: all must survive the trip unchanged.
TRICKY = (b"From: Alice <a@sender.test>\r\n"
          b"To: b@tls.test\r\n"
          b"Subject: relay byte test\r\n"
          b"Message-ID: <relay-1@client.test>\r\n"
          b"X-Odd:   spaces   \r\n"
          b"\r\n"
          b".leading dot\r\n"
          b"..two dots\r\n"
          b".\r\n"  # a line that is one dot (stuffed on the wire)
          b"caf\xc3\xa9 8bit \xff\xfe\r\n"
          b"tab\tand trailing space \r\n"
          + b"x" * 990 + b"\r\n"
          b"\r\n"
          b"\r\n")


def stuff(data):
    return re.sub(rb"(?m)^\.", b"..", data)


def raw_submit(port, sender, rcpts, data, helo=b"client.test"):
    c = Raw(port)
    assert c.reply().startswith(b"220 ")
    assert c.cmd(b"EHLO " + helo).startswith(b"250")
    assert c.cmd(b"MAIL FROM:<" + sender + b">").startswith(b"250")
    for r in rcpts:
        assert c.cmd(b"RCPT TO:<" + r + b">").startswith(b"250")
    assert c.cmd(b"DATA").startswith(b"354")
    c.send(stuff(data) + b".\r\n")
    reply = c.reply()
    c.cmd(b"QUIT")
    c.close()
    return reply


def queue_id_of(reply):
    m = re.match(rb"250 2\.0\.0 Ok: queued as (\S+)\r\n$", reply)
    return m.group(1).decode() if m else None


def test_byte_identical_and_tls_facts():
    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
        reply = raw_submit(gw.port, b"a@sender.test", [b"b@tls.test"], TRICKY)
        qid = queue_id_of(reply)
        ok(qid, "DATA reply is '250 2.0.0 Ok: queued as QUEUEID'", repr(reply))
        s = wait_settled(gw, 1)
        ok(s == [("b@tls.test", "delivered")], "recipient delivered", repr(s))
        msgs = mx.wait_messages(1)
        ok(len(msgs) == 1, "exactly one message at the MX", repr(len(msgs)))
        eml, meta = msgs[0]
        received, rest = split_received(eml)
        ok(rest == TRICKY, "message byte-identical apart from the leading Received header",
           f"sent {TRICKY!r}\ngot  {rest!r}")
        ok(received is not None and eml.count(b"Received:") == 1,
           "exactly one Received header, prepended", repr(eml[:400]))
        pat = (rb"Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n"
               rb"\tby gateway\.test \(SecuMailer\) with ESMTP id " + re.escape((qid or "?").encode())
               + rb"\r\n\tfor <b@tls\.test>;\r\n\t[A-Z][a-z]{2}, [ 0-9]\d [A-Z][a-z]{2} \d{4} "
               rb"\d\d:\d\d:\d\d [+-]\d{4}\r\n$")
        ok(received and re.match(pat, received),
           "Received: from HELO ([IP]) by HOSTNAME (SecuMailer) with ESMTP id QID for <rcpt>; DATE",
           repr(received))
        ok(meta["mail_from"] == "a@sender.test" and meta["rcpt_to"] == ["b@tls.test"],
           "envelope at the MX", repr(meta))
        ok(meta["tls"] is True, "MX received the message inside TLS", repr(meta))
        cmds = mx.commands()
        env = [(tls, line) for _, tls, line in cmds
               if line.upper().startswith(("MAIL", "RCPT", "DATA"))]
        ok(env and all(tls for tls, _ in env), "MAIL/RCPT/DATA only inside TLS", repr(cmds))
        ok([line.split()[0].upper() for _, _, line in cmds][:3] == ["EHLO", "STARTTLS", "EHLO"],
           "EHLO, STARTTLS, EHLO again", repr(cmds))
        row, = gw.query("SELECT * FROM recipients")
        ok(row["tls_version"] == meta["tls_version"], "tls_version matches the MX",
           f"{row['tls_version']} vs {meta['tls_version']}")
        ok(same_cipher(row["tls_cipher"], meta["cipher"]), "tls_cipher matches the MX",
           f"{row['tls_cipher']} vs {meta['cipher']}")
        ok(row["tls_peer_sha256"] == der_sha256(mx.cert),
           "tls_peer_sha256 is SHA-256 of the MX certificate's DER",
           f"{row['tls_peer_sha256']} vs {der_sha256(mx.cert)}")
        ok(row["tls_verified"] == 0, "self-signed peer: tls_verified = 0", repr(row["tls_verified"]))
        ok(row["attempts"] == 1, "one attempt", repr(row["attempts"]))
        kinds = [e["kind"] for e in gw.events()]
        ok(kinds == ["received", "delivered"], "events: received, delivered", repr(kinds))
        ev = gw.events("delivered")[0]
        ok(ev["queue_id"] == qid and ev["recipient"] == "b@tls.test",
           "delivered event names queue id and recipient", repr(ev))
        m, = gw.query("SELECT * FROM messages")
        ok(m["queue_id"] == qid and m["sender"] == "a@sender.test",
           "messages row: queue id and sender", repr(m))


def test_tls_inbound_two_recipients():
    with TestMX(starttls=True, tls_max="1.2") as mx, Gateway({"tls.test": mx}) as gw:
        data = smdtest.make_message("a@sender.test", ["b@tls.test", "c@tls.test"],
                                    "two rcpts", "hello\n")
        with smtplib.SMTP(gw.host, gw.port, local_hostname="tlsclient.test", timeout=30) as s:
            s.starttls(context=smdtest.insecure_client_context())
            s.ehlo("tlsclient.test")
            inbound_version = s.sock.version()
            inbound_cipher = s.sock.cipher()[0]
            s.mail("a@sender.test")
            s.rcpt("b@tls.test")
            s.rcpt("c@tls.test")
            code, resp = s.data(data)
        ok(code == 250 and resp.startswith(b"2.0.0 Ok: queued as "), "accepted over TLS",
           repr((code, resp)))
        qid = resp.split()[-1].decode()
        s = wait_settled(gw, 2)
        ok(sorted(s) == [("b@tls.test", "delivered"), ("c@tls.test", "delivered")],
           "both delivered", repr(s))
        msgs = wait_for(lambda: sum(len(m["rcpt_to"]) for _, m in mx.messages()) >= 2
                        and mx.messages())
        ok(sorted(r for _, m in msgs for r in m["rcpt_to"]) == ["b@tls.test", "c@tls.test"],
           "each recipient reached the MX once", repr([m for _, m in msgs]))
        eml = msgs[0][0]
        received, rest = split_received(eml)
        ok(rest == data, "body byte-identical", repr(rest))
        pat = (rb"Received: from tlsclient\.test \(\[127\.0\.0\.1\]\)\r\n"
               rb"\tby gateway\.test \(SecuMailer\) with ESMTPS id " + re.escape(qid.encode())
               + rb"\r\n\t\(version=" + re.escape(inbound_version.encode())
               + rb" cipher=" + re.escape(inbound_cipher.encode()) + rb"\);\r\n"
               rb"\t[A-Z][a-z]{2}, [ 0-9]\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n$")
        ok(received and re.match(pat, received),
           "Received: with ESMTPS, (version= cipher=) line, no 'for' line with two recipients",
           repr(received))
        rows = gw.query("SELECT tls_version, tls_cipher FROM recipients")
        ok(all(r["tls_version"] == "TLSv1.2" for r in rows) and
           all(same_cipher(r["tls_cipher"], msgs[0][1]["cipher"]) for r in rows),
           "TLS 1.2-only MX: TLSv1.2 and its cipher recorded", repr(rows))


def test_null_sender_relayed():
    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
        data = smdtest.make_message("MAILER-DAEMON@client.test", "b@tls.test", "null", "x\n")
        gw.send("", "b@tls.test", data)
        s = wait_settled(gw, 1)
        ok(s == [("b@tls.test", "delivered")], "message with MAIL FROM:<> delivered", repr(s))
        msgs = mx.wait_messages(1)
        ok(msgs and msgs[0][1]["mail_from"] == "", "MAIL FROM:<> kept", repr(msgs and msgs[0][1]))


def test_sessions_reused():
    """One TLS session carries the next messages to the same hop (RSET in
    between), each with the TLS facts of that session; a session the
    server ended while idle is replaced without a deferral."""
    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
        for i in range(4):
            gw.send("a@client.test", f"r{i}@tls.test",
                    smdtest.make_message("a@client.test", f"r{i}@tls.test", f"m{i}", "x\n"))
            ok(wait_for(lambda: len(mx.messages()) == i + 1, 20), f"message {i + 1} delivered")
        cmds = mx.commands()
        conns = sorted({c for c, _, _ in cmds})
        ok(len(conns) == 1, "four messages, one connection", conns)
        ok([line for _, tls, line in cmds if line.upper().startswith("STARTTLS")] == ["STARTTLS"]
           and sum(1 for _, tls, line in cmds if tls and line.upper().startswith("MAIL FROM"))
           == 4 and sum(1 for _, tls, line in cmds if tls and line.upper() == "RSET") == 3,
           "one STARTTLS, four MAIL FROM inside TLS, RSET before each reuse",
           [line for _, _, line in cmds])
        rows = gw.query("SELECT tls_version, tls_cipher FROM recipients")
        ok(len(rows) == 4 and all(r["tls_version"] and r["tls_cipher"] for r in rows),
           "every recipient has the session's TLS facts", repr(rows))

        mx.restart()  # the server forgets the idle session
        gw.send("a@client.test", "late@tls.test",
                smdtest.make_message("a@client.test", "late@tls.test", "late", "x\n"))
        ok(wait_for(lambda: len(mx.messages()) >= 1 and
                    gw.recipient_states(raw=True).count(("late@tls.test", "delivered")) == 1, 20),
           "after the server dropped the idle session: delivered on a new one",
           gw.recipient_states(raw=True))
        ok(gw.events("deferred") == [], "without a deferral", repr(gw.events("deferred")))


def test_route_for_every_other_domain():
    """routes = *=host: every domain without a route of its own goes to that
    host (a smarthost), with no DNS lookup; a domain's own route wins."""
    with TestMX(starttls=True) as smarthost, TestMX(starttls=True) as own, \
            Gateway({"own.test": own, "*": smarthost}) as gw:
        for rcpt in ("a@anywhere.example", "b@elsewhere.invalid", "c@own.test"):
            gw.send("s@client.test", rcpt, smdtest.make_message("s@client.test", rcpt, rcpt, "x\n"))
        s = wait_settled(gw, 3)
        ok(sorted(s) == [("a@anywhere.example", "delivered"), ("b@elsewhere.invalid", "delivered"),
                         ("c@own.test", "delivered")], "all three delivered", repr(s))
        ok(sorted(m[1]["rcpt_to"][0] for m in smarthost.messages())
           == ["a@anywhere.example", "b@elsewhere.invalid"] and
           [m[1]["rcpt_to"][0] for m in own.messages()] == ["c@own.test"],
           "the others through the smarthost, own.test by its own route",
           (smarthost.messages(), own.messages()))


def test_log_retention():
    """[store] log-retention: a finished message's metadata (addresses,
    recipients, events) is forgotten after it, not kept for good; mail
    still waiting for delivery is not."""
    waiting_port = smdtest.free_port()  # nothing listens: deferred
    with TestMX(starttls=True) as mx, \
            Gateway({"tls.test": mx, "wait.test": waiting_port},
                    {"store": {"retention": "2s", "log-retention": "4s"},
                     "delivery": {"retry-schedule": "1h", "connect-timeout": "2s"}}) as gw:
        gw.send("a@sender.test", "b@tls.test", smdtest.make_message("a@sender.test",
                                                                   "b@tls.test"))
        gw.send("a@sender.test", "c@wait.test", smdtest.make_message("a@sender.test",
                                                                    "c@wait.test"))
        ok(wait_for(lambda: sorted(gw.recipient_states()) == [("b@tls.test", "delivered"),
                                                              ("c@wait.test", "deferred")],
                    15), "one delivered, one waiting", repr(gw.recipient_states()))
        ok(gw.events(), "the log has their events")
        ok(wait_for(lambda: gw.recipient_states() == [("c@wait.test", "deferred")], 20),
           "after log-retention the delivered one is forgotten", repr(gw.recipient_states()))
        ok(gw.query("SELECT count(*) AS n FROM messages")[0]["n"] == 1,
           "the waiting message stays")
        ok(wait_for(lambda: not gw.events(), 10), "and so do the old log events",
           repr(gw.events()[:3]))
        ok("[store] log-retention: forgot 1 finished messages" in gw.log(), "the log says so",
           gw.log()[-600:])


def test_log_retention_backlog():
    """The first start with log-retention on a store of years goes through
    the backlog batch after batch at once, not a batch every few minutes."""
    import sqlite3
    import time as _time
    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
        pass
    old = int(_time.time()) - 400 * 86400
    con = sqlite3.connect(gw.db_path)
    with con:
        for i in range(1300):
            cur = con.execute(
                "INSERT INTO messages (queue_id, received_at, sender, size, client_address) "
                "VALUES (?, ?, 'a@sender.test', 100, '127.0.0.1')", (f"old{i:06d}", old + i))
            con.execute("INSERT INTO recipients (message_id, address, domain, state, updated_at) "
                        "VALUES (?, 'b@tls.test', 'tls.test', 'delivered', ?)",
                        (cur.lastrowid, old + i))
        con.executemany("INSERT INTO events (time, level, kind, message) VALUES "
                        "(?, 'info', 'delivered', 'Delivered')",
                        [((old + i) * 1000000,) for i in range(5000)])
    con.close()
    with TestMX(starttls=True) as mx:
        gw.routes = {"tls.test": mx}
        gw.start()
        try:
            ok(wait_for(lambda: gw.query("SELECT count(*) AS n FROM messages")[0]["n"] == 0
                        and gw.query("SELECT count(*) AS n FROM events WHERE time < ?",
                                     ((old + 10 ** 6) * 1000000,))[0]["n"] == 0, 30),
               "1 300 messages and 5 000 events past log-retention: all forgotten at once",
               repr(gw.query("SELECT count(*) AS n FROM messages")))
            ok(gw.query("SELECT count(*) AS n FROM recipients")[0]["n"] == 0,
               "with their recipients")
        finally:
            gw.stop()


if __name__ == "__main__":
    gateway_or_skip()
    smdtest.main([test_byte_identical_and_tls_facts, test_tls_inbound_two_recipients,
                  test_log_retention, test_log_retention_backlog,
                  test_null_sender_relayed, test_sessions_reused, test_route_for_every_other_domain])
